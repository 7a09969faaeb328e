/**
 * The closing check of every fuzz file: after all the hostile input, a real coordinator (isolated
 * SEAL worker, in-process key authority decrypting in its own worker) still gets the exact rows
 * from the same agencies.
 */
import { expect } from 'vitest';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../../src/key-authority/slot-decryptor.js';
import { SQL, type FuzzFederation } from './fuzz-federation.js';

export async function expectStillServing(f: FuzzFederation): Promise<void> {
  const ka = await InProcessKeyAuthority.create({
    federation: f.federation,
    secrets: f.secrets['key-authority']!,
    decryptor: isolatedSlotDecryptor,
  });
  try {
    await using coordinator = await f.coordinator(ka);
    const result = await coordinator.query(SQL);
    expect(result.agencies.answered).toEqual(f.ids);
    expect(result.rows).toEqual(f.expectedRows());
  } finally {
    await ka.close();
  }
}
