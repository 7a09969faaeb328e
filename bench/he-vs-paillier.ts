/**
 * Per aggregated value: BFV batched (fedstat's BFV_N8192_T60, 8192 values per ciphertext) vs
 * Paillier 2048-bit (paillier-bigint; what FATE uses, one value per ciphertext). Both run in this
 * process, through the APIs a user gets: for BFV that includes serialization, fedstat's full
 * validation of every incoming ciphertext and the decryptor's noise-budget check.
 *
 * "End to end per value" = encrypt one value + add it into a running sum + decrypt one summed
 * value, with BFV costs divided by the 8192 slots of a ciphertext. Headline ratio = Paillier
 * end to end / BFV end to end (target ≥ 1000).
 *
 *   npm run bench -- he-vs-paillier [--json] [--samples N] [--ciphertexts N]
 *   --samples      Paillier encryptions and decryptions to time (default 32; ~60 ms each)
 *   --ciphertexts  BFV ciphertexts to time per operation (default 24; ~10 ms each)
 */
import * as paillier from 'paillier-bigint';
import { randomBytes } from 'node:crypto';
import { progressBar } from '../src/cli/progress.js';
import { renderTable } from '../src/cli/table.js';
import { HeAccumulator } from '../src/he/accumulator.js';
import { HeDecryptor } from '../src/he/decryptor.js';
import { HeEncryptor } from '../src/he/encryptor.js';
import { HeParams } from '../src/he/he-params.js';
import { generateHeKeys } from '../src/he/keys.js';
import { BFV_N8192_T60 } from '../src/he/presets.js';
import { positiveIntOption } from './shared/stats.js';

const TARGET = 1000;

interface Side {
  /** Milliseconds per value. */
  readonly encryptMs: number;
  readonly addMs: number;
  readonly decryptMs: number;
  readonly endToEndMs: number;
  readonly bytesPerValue: number;
}

/** Mean milliseconds of `f` over `n` calls. */
function timeEach(n: number, f: (i: number) => void, tick?: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    f(i);
    tick?.(i + 1);
  }
  return (performance.now() - t0) / n;
}

function randomValue(bits: number): bigint {
  return randomBytes(8).readBigUInt64LE() >> BigInt(64 - bits);
}

async function bfvSide(
  ciphertexts: number,
): Promise<Side & { pooledOnlineMs: number; slots: number; keygenMs: number }> {
  using params = await HeParams.create(BFV_N8192_T60);
  const t = performance.now();
  const keys = generateHeKeys(params);
  const keygenMs = performance.now() - t;
  using enc = new HeEncryptor(params, keys.publicKey);
  using dec = new HeDecryptor(params, keys.secretKey);
  const slots = params.slotCount;
  const vectors = Array.from({ length: ciphertexts }, () =>
    BigUint64Array.from({ length: slots }, () => randomValue(40)),
  );
  enc.encrypt(vectors[0]!); // warm-up: first-call allocations in SEAL's memory pool
  const cts: Uint8Array[] = [];
  const encryptCt = timeEach(ciphertexts, (i) => cts.push(enc.encrypt(vectors[i]!)));
  enc.precompute(ciphertexts);
  const pooledCt = timeEach(ciphertexts, (i) => enc.encrypt(vectors[i]!));
  using acc = new HeAccumulator(params, 1);
  acc.add([cts[0]!]);
  const addCt = timeEach(ciphertexts, (i) => acc.add([cts[i]!]));
  const sums = acc.sum();
  const decryptCt = timeEach(ciphertexts, () => dec.decrypt(sums[0]!));
  const per = (ms: number): number => ms / slots;
  return {
    encryptMs: per(encryptCt),
    addMs: per(addCt),
    decryptMs: per(decryptCt),
    endToEndMs: per(encryptCt + addCt + decryptCt),
    bytesPerValue: (cts[0]?.length ?? 0) / slots,
    pooledOnlineMs: per(pooledCt),
    slots,
    keygenMs,
  };
}

async function paillierSide(samples: number, json: boolean): Promise<Side & { keygenMs: number }> {
  const progress = progressBar('Paillier 2048', { json, total: 3 * samples });
  let t = performance.now();
  const { publicKey, privateKey } = await paillier.generateRandomKeys(2048);
  const keygenMs = performance.now() - t;
  const values = Array.from({ length: samples }, () => randomValue(40));
  const cts: bigint[] = [];
  const encryptMs = timeEach(
    samples,
    (i) => cts.push(publicKey.encrypt(values[i]!)),
    (d) => progress.update(d),
  );
  // Addition is a modular multiplication mod n²: sub-millisecond, so time many.
  let sum = cts[0]!;
  const addMs = timeEach(
    100 * samples,
    (i) => {
      sum = publicKey.addition(sum, cts[i % samples]!);
    },
    (d) => {
      if (d % 100 === 0) progress.update(samples + d / 100);
    },
  );
  t = performance.now();
  const decrypted = cts.map((c, i) => {
    const m = privateKey.decrypt(c);
    progress.update(2 * samples + i + 1);
    return m;
  });
  const decryptMs = (performance.now() - t) / samples;
  progress.done();
  if (decrypted.some((m, i) => m !== values[i])) throw new Error('Paillier decrypted a wrong value');
  return {
    encryptMs,
    addMs,
    decryptMs,
    endToEndMs: encryptMs + addMs + decryptMs,
    bytesPerValue: Math.ceil((2 * publicKey.bitLength) / 8),
    keygenMs,
  };
}

function fmtMs(ms: number): string {
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 1e-3) return `${(ms * 1e3).toFixed(2)} µs`;
  return `${(ms * 1e6).toFixed(1)} ns`;
}

function fmtRatio(x: number): string {
  return `${x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1)}×`;
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const samples = positiveIntOption(args, '--samples', 32);
  const ciphertexts = positiveIntOption(args, '--ciphertexts', 24);
  const t0 = performance.now();
  const bfv = await bfvSide(ciphertexts);
  const pai = await paillierSide(samples, json);
  const ratio = pai.endToEndMs / bfv.endToEndMs;
  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'he-vs-paillier',
        ratio,
        target: TARGET,
        met: ratio >= TARGET,
        unit: 'ms per value',
        bfv: { preset: BFV_N8192_T60.name, valuesPerCiphertext: bfv.slots, ciphertextsTimed: ciphertexts, ...bfv },
        paillier: { bits: 2048, library: 'paillier-bigint', samples, ...pai },
        ratios: {
          encrypt: pai.encryptMs / bfv.encryptMs,
          add: pai.addMs / bfv.addMs,
          decrypt: pai.decryptMs / bfv.decryptMs,
          bytes: pai.bytesPerValue / bfv.bytesPerValue,
          endToEnd: ratio,
        },
        seconds,
      })}\n`,
    );
    return;
  }
  const rows: string[][] = [
    ['encrypt', fmtMs(bfv.encryptMs), fmtMs(pai.encryptMs), fmtRatio(pai.encryptMs / bfv.encryptMs)],
    ['  (BFV online, pooled zero)', fmtMs(bfv.pooledOnlineMs), '', fmtRatio(pai.encryptMs / bfv.pooledOnlineMs)],
    ['add', fmtMs(bfv.addMs), fmtMs(pai.addMs), fmtRatio(pai.addMs / bfv.addMs)],
    ['decrypt', fmtMs(bfv.decryptMs), fmtMs(pai.decryptMs), fmtRatio(pai.decryptMs / bfv.decryptMs)],
    [
      'bytes per value',
      bfv.bytesPerValue.toFixed(1),
      String(pai.bytesPerValue),
      fmtRatio(pai.bytesPerValue / bfv.bytesPerValue),
    ],
    ['end to end', fmtMs(bfv.endToEndMs), fmtMs(pai.endToEndMs), fmtRatio(ratio)],
  ];
  process.stdout.write(
    [
      `BFV ${BFV_N8192_T60.name} (${bfv.slots} values per ciphertext, ${ciphertexts} ciphertexts timed) vs Paillier 2048-bit (paillier-bigint, ${samples} samples); per value`,
      renderTable(['operation', 'BFV batched', 'Paillier 2048', 'Paillier / BFV'], rows, [
        'left',
        'right',
        'right',
        'right',
      ]),
      `key generation: BFV ${fmtMs(bfv.keygenMs)}, Paillier ${fmtMs(pai.keygenMs)} (not in the per-value figures)`,
      `end-to-end ratio ${fmtRatio(ratio)} (target ≥ ${TARGET}×: ${ratio >= TARGET ? 'met' : 'NOT met'}); ${seconds.toFixed(1)} s`,
      '',
    ].join('\n'),
  );
}
