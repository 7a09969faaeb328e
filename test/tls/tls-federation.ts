/**
 * A small federation written by the real `initFederation` (CA, party certificates, key files) in
 * a temp folder, for TLS tests that need files on disk but no agencies or data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initFederation, type AgencySpec, type InitResult } from '../../src/federation/init.js';
import { parseSchema, type Schema } from '../../src/federation/schema.js';

export const TLS_TEST_SCHEMA: Schema = parseSchema(
  {
    datasets: {
      residents: {
        columns: {
          district: { type: 'category', values: ['锦江区', '青羊区'] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
    },
  },
  'tls-test-schema.json',
);

export interface TlsTestFederation extends InitResult {
  readonly dir: string;
  close(): void;
}

/** Writes a federation with the given agencies (default two on 127.0.0.1) into a fresh temp folder. */
export async function createTlsTestFederation(
  agencies: readonly AgencySpec[] = [
    { id: 'a1', endpoint: '127.0.0.1:7301' },
    { id: 'a2', endpoint: 'agency-two.example.org:7302' },
  ],
): Promise<TlsTestFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-tls-'));
  try {
    const init = await initFederation({
      outDir: join(dir, 'fed'),
      schema: TLS_TEST_SCHEMA,
      agencies,
      policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true },
    });
    return { ...init, dir, close: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
