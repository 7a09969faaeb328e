import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import type { HeEncryptor } from '../../src/he/encryptor.js';
import { IsolatedHe } from '../../src/he/isolated/isolated-he.js';
import { SEAL_EXCEPTION_LIMIT } from '../../src/he/isolated/protocol.js';
import type { HeKeyPair } from '../../src/he/keys.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';
import { createInsecureHe, type InsecureHe } from './insecure-he.js';

let keys: HeKeyPair;
let enc: HeEncryptor;

let fixture: InsecureHe;

beforeAll(async () => {
  fixture = await createInsecureHe();
  ({ keys, enc } = fixture);
});
afterAll(() => {
  fixture[Symbol.dispose]();
});

const ct = (v: bigint) => enc.encrypt(BigUint64Array.from([v]));

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  return expect.unreachable('the call succeeded');
}

/** A service with one accumulator holding 5 + 6, and a check that a fresh one sums correctly. */
async function serviceWithSum(options: { resourceLimits?: { maxOldGenerationSizeMb: number } } = {}) {
  const he = await IsolatedHe.create(INSECURE_BFV_N4096_T50, { secretKey: keys.secretKey, ...options });
  const acc = await he.accumulator(1);
  await acc.add([ct(5n)]);
  await acc.add([ct(6n)]);
  expect((await he.decrypt(await acc.sum()))[0]![0]).toBe(11n);
  const servesAgain = async (): Promise<void> => {
    using fresh = await he.accumulator(1);
    await fresh.add([ct(20n)]);
    await fresh.add([ct(22n)]);
    await fresh.subtractPlain([BigUint64Array.from([2n])]);
    expect((await he.decrypt(await fresh.sum()))[0]![0]).toBe(40n);
  };
  return { he, acc, servesAgain };
}

describe('IsolatedHe recycles a dead worker', () => {
  it('a worker that exits: requests in flight reject, its sums are lost, the next request gets a fresh worker', async () => {
    const { he, acc, servesAgain } = await serviceWithSum();
    await using _ = he;
    const fault = he.injectFault('exit');
    const inFlight = he.decrypt([ct(1n)]); // queued behind the exit: in flight when the worker dies
    const [faultError, inFlightError] = await Promise.all([failure(fault), failure(inFlight)]);
    for (const e of [faultError, inFlightError]) {
      expect(isFedstatError(e, 'UNAVAILABLE')).toBe(true);
      expect(e.message).toMatch(/exited with code 70 while this request was in flight/);
    }
    expect(acc.lost).toBe(true);
    const lost = await failure(acc.sum());
    expect(isFedstatError(lost, 'UNAVAILABLE')).toBe(true);
    expect(lost.message).toMatch(
      /this encrypted sum was lost: its isolated HE worker exited with code 70; the query must be run again/,
    );
    expect((lost as { details?: unknown }).details).toMatchObject({ lost: true });
    await servesAgain();
    expect(await he.stats()).toMatchObject({ restarts: 1, running: true, accumulators: 0 });
    expect(isFedstatError(await failure(acc.add([ct(1n)])), 'UNAVAILABLE')).toBe(true); // still lost
    acc.dispose(); // nothing to free: no throw
  });

  it('a worker whose V8 heap hits resourceLimits is replaced (ERR_WORKER_OUT_OF_MEMORY)', async () => {
    const { he, acc, servesAgain } = await serviceWithSum({ resourceLimits: { maxOldGenerationSizeMb: 24 } });
    await using _ = he;
    const e = await failure(he.injectFault('out-of-memory'));
    expect(isFedstatError(e, 'UNAVAILABLE')).toBe(true);
    expect(e.message).toMatch(/ran out of memory/);
    expect(acc.lost).toBe(true);
    await servesAgain();
    expect((await he.stats()).restarts).toBe(1);
  });

  it('a SEAL exception that is not a FedstatError rejects with INTERNAL and retires the worker', async () => {
    const { he, acc, servesAgain } = await serviceWithSum();
    await using _ = he;
    const e = await failure(he.injectFault('seal-throw'));
    expect(isFedstatError(e, 'INTERNAL')).toBe(true);
    expect(e.message).toMatch(/^the isolated HE worker failed \(.+\); it was replaced, run the query again$/);
    expect(acc.lost).toBe(true);
    expect((await failure(acc.add([ct(1n)]))).message).toMatch(/stopped after SEAL faulted/);
    await servesAgain();
    expect(await he.stats()).toMatchObject({ restarts: 1, sealExceptions: 0 });
  });

  it(`SEAL refusals wrapped as FedstatError are counted; the worker is replaced at ${SEAL_EXCEPTION_LIMIT}`, async () => {
    const { he, acc, servesAgain } = await serviceWithSum();
    await using _ = he;
    for (let i = 1; i < SEAL_EXCEPTION_LIMIT; i++) {
      const e = await failure(he.injectFault('seal-refusal'));
      expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
    }
    expect(await he.stats()).toMatchObject({ restarts: 0, sealExceptions: SEAL_EXCEPTION_LIMIT - 1 });
    expect(acc.lost).toBe(false);
    const last = await failure(he.injectFault('seal-refusal'));
    expect(isFedstatError(last, 'BAD_MESSAGE')).toBe(true); // the caller still gets the real error
    expect(acc.lost).toBe(true);
    await servesAgain();
    expect(await he.stats()).toMatchObject({ restarts: 1, sealExceptions: 0 });
  });

  it('survives repeated crashes: every restart builds the same parameters', async () => {
    await using he = await IsolatedHe.create(INSECURE_BFV_N4096_T50, { secretKey: keys.secretKey });
    for (let i = 1; i <= 3; i++) {
      await failure(he.injectFault('exit'));
      expect((await he.decrypt([ct(BigInt(i))]))[0]![0]).toBe(BigInt(i));
      expect((await he.stats()).restarts).toBe(i);
    }
  });
});
