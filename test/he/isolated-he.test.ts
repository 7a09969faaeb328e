import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError, isFedstatError } from '../../src/errors.js';
import { HeAccumulator } from '../../src/he/accumulator.js';
import type { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { IsolatedHe } from '../../src/he/isolated/isolated-he.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { INSECURE_BFV_N2048_T20, INSECURE_BFV_N4096_T50 } from './insecure-presets.js';
import { createInsecureHe, type InsecureHe } from './insecure-he.js';

let params: HeParams;
let keys: HeKeyPair;
let enc: HeEncryptor;
let he: IsolatedHe;

let fixture: InsecureHe;

beforeAll(async () => {
  fixture = await createInsecureHe();
  ({ params, keys, enc } = fixture);
  he = await IsolatedHe.create(INSECURE_BFV_N4096_T50, { secretKey: keys.secretKey });
});
afterAll(async () => {
  await he.close();
  fixture[Symbol.dispose]();
});

const vec = (...v: bigint[]) => BigUint64Array.from(v);

/** The error a call raises, for comparing the isolated and in-thread paths. */
async function failure(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  return expect.unreachable('the call succeeded');
}

describe('IsolatedHe', () => {
  it('reports the parameters the worker built, identical to in-thread HeParams', () => {
    expect(he.info).toEqual({
      preset: { ...INSECURE_BFV_N4096_T50 },
      paramsId: params.paramsId,
      slotCount: params.slotCount,
      plainModulus: params.plainModulus,
      ciphertextBytes: params.ciphertextBytes,
      canDecrypt: true,
    });
  });

  it('add, subtractPlain, sum and decrypt in the worker equal the plaintext computation mod t', async () => {
    const t = params.plainModulus;
    const vector = fc.array(fc.bigInt({ min: 0n, max: t - 1n }), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(vector, vector), { minLength: 1, maxLength: 4 }),
        fc.tuple(vector, vector),
        async (contributions, correction) => {
          using acc = await he.accumulator(2, { maxContributions: 4 });
          for (const [a, b] of contributions)
            await acc.add([enc.encrypt(BigUint64Array.from(a)), enc.encrypt(BigUint64Array.from(b))]);
          expect(acc.contributions).toBe(contributions.length);
          await acc.subtractPlain(correction.map((c) => BigUint64Array.from(c)));
          const slots = await he.decrypt(await acc.sum());
          for (const k of [0, 1] as const) {
            const ref = new Array<bigint>(params.slotCount).fill(0n);
            for (const c of contributions)
              c[k].forEach((x, i) => {
                ref[i] = (ref[i]! + x) % t;
              });
            correction[k].forEach((x, i) => {
              ref[i] = (ref[i]! - x + t) % t;
            });
            expect(Array.from(slots[k]!)).toEqual(ref);
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it('rejects malformed input with the same error class, code and message as in-thread', async () => {
    const good = enc.encrypt(vec(1n));
    const flipped = good.slice();
    flipped[3]! ^= 1;
    const longer = new Uint8Array(good.length + 1);
    const cases: Uint8Array[][] = [[], [good, good], [good.slice(0, 500)], [flipped], [longer], [new Uint8Array(0)]];
    using local = new HeAccumulator(params, 1);
    using remote = await he.accumulator(1);
    for (const contribution of cases) {
      const want = await failure(() => local.add(contribution));
      const got = await failure(() => remote.add(contribution));
      expect(got).toBeInstanceOf(FedstatError);
      expect([(got as FedstatError).code, got.message]).toEqual([(want as FedstatError).code, want.message]);
    }
    expect(await failure(() => remote.sum())).toEqual(await failure(() => local.sum()));
    expect(await failure(() => remote.add([good, 'x' as unknown as Uint8Array]))).toBeInstanceOf(TypeError);
    await remote.add([good]);
    const range = await failure(() => remote.subtractPlain([vec(params.plainModulus)]));
    expect(range).toBeInstanceOf(RangeError);
    expect(range.message).toMatch(/not below the plain modulus/);
    expect(remote.contributions).toBe(1);
    expect((await he.decrypt(await remote.sum()))[0]![0]).toBe(1n);
  });

  it('enforces maxContributions with PLAN_UNSAFE and keeps the sum', async () => {
    using acc = await he.accumulator(1, { maxContributions: 2 });
    await acc.add([enc.encrypt(vec(4n))]);
    await acc.add([enc.encrypt(vec(5n))]);
    const e = await failure(() => acc.add([enc.encrypt(vec(6n))]));
    expect(isFedstatError(e, 'PLAN_UNSAFE')).toBe(true);
    expect((await he.decrypt(await acc.sum()))[0]![0]).toBe(9n);
  });

  it("copies the caller's bytes by default and moves whole buffers only when asked", async () => {
    using acc = await he.accumulator(2);
    const own = enc.encrypt(vec(7n));
    const inner = new Uint8Array(own.length + 10);
    inner.set(own, 10);
    const view = inner.subarray(10); // a view into a larger buffer is never detached
    await acc.add([own, view]);
    expect(own.length).toBe(params.ciphertextBytes);
    await acc.add([own, view], { transfer: true });
    expect(own.length).toBe(0); // moved
    expect(view.length).toBe(params.ciphertextBytes); // copied
    const sums = await acc.sum();
    expect(sums.map((s) => s.length)).toEqual([params.ciphertextBytes, params.ciphertextBytes]);
    expect((await he.decrypt(sums)).map((s) => s[0])).toEqual([14n, 14n]);
  });

  it("decrypt applies HeDecryptor's checks, all or nothing", async () => {
    const good = enc.encrypt(vec(3n));
    const e = await failure(() => he.decrypt([good, good.slice(0, 100)]));
    expect(isFedstatError(e, 'BAD_MESSAGE')).toBe(true);
    const many = await failure(() => he.decrypt(Array.from({ length: 33 }, () => good)));
    expect(isFedstatError(many, 'BAD_MESSAGE')).toBe(true);
    expect((await he.decrypt([good]))[0]![0]).toBe(3n);
  });

  it('refuses bad setups: unknown preset, foreign key, decrypt without key', async () => {
    expect(isFedstatError(await failure(() => IsolatedHe.create('BFV_N4096')), 'CONFIG_INVALID')).toBe(true);
    using small = await HeParams.create(INSECURE_BFV_N2048_T20);
    const foreign = await failure(() =>
      IsolatedHe.create(INSECURE_BFV_N4096_T50, { secretKey: generateHeKeys(small).secretKey }),
    );
    expect(isFedstatError(foreign, 'KEY_INVALID')).toBe(true);
    await using adder = await IsolatedHe.create(INSECURE_BFV_N4096_T50);
    expect(adder.info.canDecrypt).toBe(false);
    expect(await failure(() => adder.decrypt([enc.encrypt(vec(1n))]))).toBeInstanceOf(TypeError);
  });

  it('bounds the running sums it holds (WASM memory) and frees them on dispose', async () => {
    await using small = await IsolatedHe.create(INSECURE_BFV_N4096_T50, { maxHeldBytes: 3 * params.ciphertextBytes });
    const a = await small.accumulator(2);
    const e = await failure(() => small.accumulator(2));
    expect(isFedstatError(e, 'UNAVAILABLE')).toBe(true);
    expect(e.message).toMatch(/raise maxHeldBytes/);
    expect((await small.stats()).heldBytes).toBe(2 * params.ciphertextBytes);
    a.dispose();
    using b = await small.accumulator(3);
    expect(b.ciphertextCount).toBe(3);
    expect((await small.stats()).accumulators).toBe(1);
    expect(await failure(() => a.sum())).toBeInstanceOf(TypeError);
  });

  it('after close every call rejects with UNAVAILABLE', async () => {
    const s = await IsolatedHe.create(INSECURE_BFV_N4096_T50);
    const acc = await s.accumulator(1);
    await s.close();
    await s.close(); // idempotent
    expect(isFedstatError(await failure(() => s.accumulator(1)), 'UNAVAILABLE')).toBe(true);
    expect(isFedstatError(await failure(() => acc.add([enc.encrypt(vec(1n))])), 'UNAVAILABLE')).toBe(true);
    expect(acc.lost).toBe(true);
  });

  it('an idle worker never keeps the process alive', () => {
    // A child process opens the service and an accumulator and returns without closing them.
    const entry = new URL('../../src/he/isolated/isolated-he.ts', import.meta.url).href;
    const script = `
      import { registerHooks } from 'node:module';
      registerHooks({ resolve: (s, c, next) => { try { return next(s, c); } catch (e) {
        if (s.startsWith('.') && s.endsWith('.js')) return next(s.slice(0, -3) + '.ts', c); throw e; } } });
      const { IsolatedHe } = await import(${JSON.stringify(entry)});
      const he = await IsolatedHe.create(${JSON.stringify(INSECURE_BFV_N4096_T50)});
      await he.accumulator(1);
      console.log('ready');`;
    const t0 = performance.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).not.toMatch(/Error/);
    expect(child.stdout.trim()).toBe('ready');
    expect(child.status).toBe(0);
    expect(performance.now() - t0).toBeLessThan(15_000);
  });
});
