/**
 * Bookkeeping of a fuzz run: outcome classes per mutation kind, every failure that was not a
 * typed FedstatError (or was INTERNAL, which errors.ts defines as a bug), and RSS growth measured
 * from a baseline taken after the warm-up cases.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FedstatError } from '../../src/errors.js';
import { parseJson } from './json-edit.js';

/** Same budget as the issue and test/he/isolated-fuzz.test.ts. */
export const MAX_RSS_GROWTH_BYTES = 64 * 2 ** 20;

/**
 * A full garbage collection before each RSS reading, so growth means retained memory rather than
 * garbage not yet collected (vitest workers run without --expose-gc; this enables it at runtime).
 */
const collect = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export class FuzzLog {
  readonly counts = new Map<string, number>();
  /** One line per untyped (or INTERNAL, or multi-line) failure: what the test asserts is empty. */
  readonly untyped: string[] = [];
  readonly #samples: number[] = [];
  #t0 = performance.now();

  constructor(
    readonly name: string,
    readonly seed: bigint,
  ) {}

  /** Starts the clock of the report (after the federation is set up). */
  start(): void {
    this.#t0 = performance.now();
  }

  count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  total(prefix = ''): number {
    let n = 0;
    for (const [k, v] of this.counts) if (k.startsWith(prefix)) n += v;
    return n;
  }

  /**
   * Classifies a failure of `stage` on a mutant of `kind`: a FedstatError with a real code and a
   * one-line message counts as `kind: stage CODE`; anything else is recorded as untyped.
   */
  rejected(kind: string, stage: string, e: unknown, caseNo: number): void {
    if (e instanceof FedstatError && e.code !== 'INTERNAL' && !e.message.includes('\n') && e.message.length < 600) {
      this.count(`${kind}: ${stage} ${e.code}`);
      return;
    }
    const what =
      e instanceof FedstatError ? `FedstatError ${e.code}` : e instanceof Error ? e.constructor.name : typeof e;
    const message = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    const cause =
      e instanceof Error && e.cause instanceof Error
        ? ` (cause ${e.cause.constructor.name}: ${e.cause.message.split('\n')[0] ?? ''})`
        : '';
    this.untyped.push(`case ${caseNo} ${kind} at ${stage}: ${what}: ${message.slice(0, 200)}${cause}`);
    this.count(`${kind}: ${stage} UNTYPED`);
  }

  /**
   * Call before every case: after `warmup` cases it starts taking RSS readings (each after a full
   * collection), about 24 over the rest of the run.
   */
  tick(caseNo: number, total: number, warmup: number): void {
    const step = Math.max(1, Math.ceil((total - warmup) / 24));
    if (caseNo >= warmup && (caseNo - warmup) % step === 0) this.#sample();
  }

  #sample(): void {
    collect();
    this.#samples.push(process.memoryUsage().rss);
  }

  /**
   * Retained growth: the lowest reading of the last third of the run minus the lowest of the
   * first third. Single readings swing by tens of MiB because the SEAL worker's heap is collected
   * on its own schedule and WASM memory only grows to its high-water mark; a leak raises the
   * floor, and one ciphertext leaked per case would raise it by hundreds of MiB.
   */
  rssGrowth(): number {
    this.#sample();
    const n = this.#samples.length;
    const third = Math.max(1, Math.floor(n / 3));
    return Math.min(...this.#samples.slice(n - third)) - Math.min(...this.#samples.slice(0, third));
  }

  /** Highest reading over the floor of the first third. */
  rssPeak(): number {
    const third = Math.max(1, Math.floor(this.#samples.length / 3));
    return Math.max(...this.#samples) - Math.min(...this.#samples.slice(0, third));
  }

  /** The table printed at the end of a run (console.log in the test). */
  report(cases: number, extra: string[] = []): string {
    const growth = this.rssGrowth();
    const seconds = (performance.now() - this.#t0) / 1000;
    const rows = [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `  ${k}: ${n}`);
    return [
      `${this.name} (FEDSTAT_FUZZ_SEED=${this.seed}): ${cases} mutated inputs in ${seconds.toFixed(1)} s, ` +
        `RSS growth after warm-up ${(growth / 2 ** 20).toFixed(1)} MiB (${this.#samples.length} readings, peak ${(this.rssPeak() / 2 ** 20).toFixed(1)} MiB), ` +
        `${this.untyped.length} untyped`,
      `  RSS readings (MiB): ${this.#samples.map((b) => (b / 2 ** 20).toFixed(0)).join(' ')}`,
      ...extra,
      ...rows,
      ...this.untyped.slice(0, 20).map((u) => `  UNTYPED ${u}`),
    ].join('\n');
  }
}

/**
 * Everything one agency revealed in round 2, per query, across every request it answered: the
 * privacy invariant of double masking is that it never reveals both a self-mask share of an
 * agency and its pairwise seed with that agency (together they unmask that agency's input).
 */
export class RevealLedger {
  readonly #seen = new Map<string, { shareOf: Set<string>; seedWith: Set<string> }>();
  answers = 0;

  /** Returns the agencies whose both secrets `agency` has now revealed for `queryId` (should be none). */
  note(
    agency: string,
    queryId: string,
    answer: { selfMaskShares: readonly { of: string }[]; pairwiseSeeds: readonly { with: string }[] },
  ): string[] {
    const key = `${agency}/${queryId}`;
    const r = this.#seen.get(key) ?? { shareOf: new Set<string>(), seedWith: new Set<string>() };
    this.#seen.set(key, r);
    for (const s of answer.selfMaskShares) r.shareOf.add(s.of);
    for (const s of answer.pairwiseSeeds) r.seedWith.add(s.with);
    this.answers++;
    return [...r.shareOf].filter((id) => r.seedWith.has(id));
  }
}

/**
 * Everything a key authority decrypted, checked against its release policy independently of its
 * own code: only `encrypted` queries, with a survivor set of that query holding at least
 * max(minAgencies, threshold) agencies, one decryption per query id, one slot vector per ciphertext.
 */
export class ReleaseLedger {
  readonly #released = new Set<string>();

  constructor(private readonly minAgencies: number) {}

  get size(): number {
    return this.#released.size;
  }

  /** The policy violations of one decryption (should be none); records its query id. */
  note(
    request: { query: Uint8Array; survivors: Uint8Array; ciphertexts: readonly Uint8Array[] },
    slotVectors: number,
  ): string[] {
    const query = parseJson(request.query) as { queryId: string; mode: string; threshold: number };
    const set = parseJson(request.survivors) as { queryId: string; survivors: string[] };
    const problems = [
      query.mode !== 'encrypted' && `mode ${query.mode}`,
      set.queryId !== query.queryId && 'set of another query',
      set.survivors.length < Math.max(this.minAgencies, query.threshold) && `${set.survivors.length} survivors`,
      this.#released.has(query.queryId) && 'second decryption of one query',
      slotVectors !== request.ciphertexts.length && 'slot vector count',
    ].filter((p) => p !== false);
    this.#released.add(query.queryId);
    return problems;
  }
}
