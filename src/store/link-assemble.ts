/**
 * The result rows of a side's link statement (link-inputs.ts) → `LinkInputs`, with the rules every
 * engine applies the same way:
 *
 * - an id is valid when non-NULL, non-empty and, for `gb11643`, a resident id with a real birth
 *   date and the right check character (util/gb11643.ts, the function the CSV loader's rules come
 *   from); every row of an invalid id is an invalid row, charged to the id column;
 * - invalid rows (an invalid id, or a cell out of domain in a column the statement reads) are
 *   refused (`reject`: DATA_INVALID naming how many rows of which column) or left out and reported
 *   (`skip`), as a live aggregate's census is (invalid-rows.ts); an id with a valid row that the
 *   WHERE drops is present with zero components;
 * - the rows read must not exceed the schema's maxRows (max-rows.ts);
 * - an id with more valid rows than the query's maxRowsPerId is refused (`reject`), or all its
 *   rows are left out and its id is absent (`skip`, reported as rows of the id column);
 * - every component must fit in int64 (schema bounds × maxRowsPerId make sure it does; a store that
 *   returned more is INTERNAL).
 *
 * Rows arrive ordered by id, in batches: the builder keeps one slot per distinct id and grows its
 * arrays by doubling, so memory is the result's size, never the rows'.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import { isValidGb11643 } from '../util/gb11643.js';
import { applyCensus, type InvalidRowCensus, type InvalidRowsReport, type OnInvalidRows } from './invalid-rows.js';
import type { CompiledLinkInputs, LinkInputs } from './link-inputs.js';
import { checkRowCount } from './max-rows.js';

/** How the dataset treats invalid rows and ids over the bound, and who hears of skipped ones. */
export interface LinkRules {
  readonly onInvalid: OnInvalidRows;
  readonly report: InvalidRowsReport | undefined;
}

function internal(problem: string): FedstatError {
  return new FedstatError('INTERNAL', `store returned ${problem}; please report this`);
}

/** A count or sum cell as an exact integer (drivers give bigint, number or decimal text). */
function exact(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (v === null) return 0n; // SUM over rows whose cells were all out of domain
  throw internal(`a non-integer link component (${typeof v})`);
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER);

/** A growable typed array: amortized doubling, the used part read back by `view`. */
class Grow<A extends Int32Array | Float64Array | BigInt64Array> {
  length = 0;
  constructor(
    public data: A,
    private readonly make: (n: number) => A,
  ) {}
  /** Room for `n` more elements. */
  reserve(n: number): void {
    if (this.length + n <= this.data.length) return;
    const next = this.make(Math.max(this.data.length * 2, this.length + n));
    next.set(this.data as never);
    this.data = next;
  }
}

/**
 * Collects result rows of one compiled side, then applies the rules in `finish`. Per id it keeps
 * its text and valid-row count; per (id, group) row its cells, compactly: the full ids × width
 * matrix is only allocated once, at the end, at its final size.
 */
export class LinkInputsBuilder {
  private readonly width: number;
  private readonly stride: number;
  /** The id of the last row and its slot (−1: invalid): rows come ordered by id. */
  private lastId: unknown = undefined;
  private lastSlot = -1;
  private ids: string[] = [];
  /** Valid rows per id (all groups, WHERE or not). */
  private readonly rows = new Grow(new Float64Array(1024), (n) => new Float64Array(n));
  /** Per kept result row: its id's slot, its group, and its `stride` components. */
  private readonly entrySlot = new Grow(new Int32Array(1024), (n) => new Int32Array(n));
  private readonly entryGroup = new Grow(new Int32Array(1024), (n) => new Int32Array(n));
  private readonly entryComps: Grow<BigInt64Array>;
  private invalidRows = 0;
  private readonly bad: number[];
  private idBad = 0;

  constructor(
    private readonly compiled: CompiledLinkInputs,
    private readonly schema: DatasetSchema,
  ) {
    this.stride = 1 + compiled.measures;
    this.width = compiled.groups * this.stride;
    this.entryComps = new Grow(new BigInt64Array(1024 * this.stride), (n) => new BigInt64Array(n));
    this.bad = compiled.checked.map(() => 0);
  }

  /** Cells per result row (link-inputs.ts `CompiledLinkInputs.sql`). */
  get columns(): number {
    return (this.compiled.shape === 'per-id' ? 4 : 3) + this.compiled.measures + this.compiled.checked.length;
  }

  /**
   * The slot of a valid id (created on first sight), or −1 for an invalid one. The statement
   * orders its rows by id (link-inputs.ts), so the rows of one id are adjacent and a new text is a
   * new id: no map of a million strings (it cost more than the statement).
   */
  private slotOf(id: unknown): number {
    if (id === this.lastId && this.lastId !== undefined) return this.lastSlot;
    this.lastId = id;
    if (typeof id !== 'string' || id.length === 0 || (this.compiled.idFormat === 'gb11643' && !isValidGb11643(id))) {
      this.lastSlot = -1;
      return -1;
    }
    const i = this.ids.length;
    this.rows.reserve(1);
    this.rows.length++;
    this.ids.push(id);
    this.lastSlot = i;
    return i;
  }

  /**
   * One result row, its cells in `columns` order. Called once per (id, g), in id order: INTERNAL
   * for a malformed row (a group twice is found by `finish`).
   */
  add(row: readonly unknown[]): void {
    if (this.compiled.shape === 'per-id') {
      this.addId(row);
      return;
    }
    const g = Number(row[1]);
    const n = exact(row[2]);
    if (n <= 0n || n > MAX_COUNT) throw internal('a group of no rows');
    const rows = Number(n);
    const m = this.compiled.measures;
    const bad = this.bad.length === 0 ? 0 : this.addBad(row, 3 + m);
    const i = this.slotOf(row[0]);
    if (i < 0) {
      this.invalidRows += rows;
      this.idBad += rows;
      return;
    }
    if (g === -2) {
      if (bad === 0) throw internal('an invalid row with no invalid cell');
      this.invalidRows += rows;
      return;
    }
    this.rows.data[i] = (this.rows.data[i] ?? 0) + rows;
    if (g === -1) return;
    if (!Number.isSafeInteger(g) || g < 0 || g >= this.compiled.groups) throw internal('a group index out of range');
    this.entry(i, g, n, row, 3);
  }

  /** A `per-id` row: all rows of one id, its valid ones, those that pass, their sums, the census. */
  private addId(row: readonly unknown[]): void {
    const total = Number(exact(row[1]));
    const valid = Number(exact(row[2]));
    const n = exact(row[3]);
    if (total <= 0 || valid < 0 || valid > total || n < 0n || n > BigInt(valid))
      throw internal('inconsistent counts of one id');
    const bad = this.bad.length === 0 ? 0 : this.addBad(row, 4 + this.compiled.measures);
    const i = this.slotOf(row[0]);
    if (i < 0) {
      this.invalidRows += total;
      this.idBad += total;
      return;
    }
    if (valid < total) {
      if (bad === 0) throw internal('an invalid row with no invalid cell');
      this.invalidRows += total - valid;
    }
    this.rows.data[i] = (this.rows.data[i] ?? 0) + valid;
    if (n > 0n) this.entry(i, 0, n, row, 4);
  }

  /** Appends one group of one id: its row count and the sums at `row[from..]`. */
  private entry(i: number, g: number, n: bigint, row: readonly unknown[], from: number): void {
    const m = this.compiled.measures;
    const e = this.entrySlot.length;
    this.entrySlot.reserve(1);
    this.entryGroup.reserve(1);
    this.entryComps.reserve(this.stride);
    this.entrySlot.data[e] = i;
    this.entryGroup.data[e] = g;
    const at = e * this.stride;
    this.entryComps.data[at] = n;
    for (let k = 0; k < m; k++) {
      // NULL: DuckDB's TRY_CAST of a sum beyond BIGINT (a group's rows always have a sum).
      const cell = row[from + k];
      const sum = cell === null ? null : exact(cell);
      if (sum === null || sum < INT64_MIN || sum > INT64_MAX) {
        throw new FedstatError(
          'INTERNAL',
          `a linked sum of ${this.compiled.dataset} does not fit 64 bits; the schema's bounds should prevent it, please report this`,
        );
      }
      this.entryComps.data[at + 1 + k] = sum;
    }
    this.entrySlot.length++;
    this.entryGroup.length++;
    this.entryComps.length += this.stride;
  }

  /** Adds a row's out-of-domain counts per checked column; returns their total. */
  private addBad(row: readonly unknown[], from: number): number {
    let total = 0;
    for (let c = 0; c < this.bad.length; c++) {
      const v = Number(exact(row[from + c]));
      this.bad[c] = (this.bad[c] ?? 0) + v;
      total += v;
    }
    return total;
  }

  /** The census of invalid rows seen so far. */
  private census(): InvalidRowCensus {
    const byColumn: Record<string, number> = {};
    if (this.idBad > 0) byColumn[this.compiled.id] = this.idBad;
    this.compiled.checked.forEach((name, c) => {
      const v = this.bad[c] ?? 0;
      if (v > 0) byColumn[name] = (byColumn[name] ?? 0) + v;
    });
    return Object.freeze({ dataset: this.compiled.dataset, rows: this.invalidRows, byColumn: Object.freeze(byColumn) });
  }

  /**
   * Applies the rules (module comment) and returns the inputs: DATA_INVALID for invalid rows or
   * ids over the bound under `reject`, or for more rows than maxRows.
   */
  finish(rules: LinkRules): LinkInputs {
    const { dataset, maxRowsPerId, id } = this.compiled;
    applyCensus(this.census(), rules.onInvalid, rules.report);
    const counts = this.rows.data;
    const count = this.ids.length;
    let read = 0;
    let over = 0;
    let overRows = 0;
    for (let i = 0; i < count; i++) {
      const r = counts[i] ?? 0;
      read += r;
      if (r > maxRowsPerId) {
        over++;
        overRows += r;
      }
    }
    checkRowCount(dataset, this.schema, read);
    if (over > 0 && rules.onInvalid === 'reject') {
      const ids = over === 1 ? '1 id has' : `${over} ids have`;
      throw new FedstatError(
        'DATA_INVALID',
        `${ids} more than ${maxRowsPerId} rows in ${dataset}; raise the query's maxRowsPerId or deduplicate`,
        { details: { dataset, ids: over, maxRowsPerId } },
      );
    }
    // Skip: every id over the bound leaves with all its rows; the others keep their order.
    const kept: string[] = over === 0 ? this.ids : [];
    const place = new Int32Array(count);
    for (let i = 0, to = 0; i < count; i++) {
      if (over > 0 && (counts[i] ?? 0) > maxRowsPerId) {
        place[i] = -1;
        continue;
      }
      place[i] = to++;
      if (over > 0) kept.push(this.ids[i] ?? '');
    }
    if (over > 0)
      rules.report?.(Object.freeze({ dataset, rows: overRows, byColumn: Object.freeze({ [id]: overRows }) }));
    const comps = new BigInt64Array(kept.length * this.width);
    const entries = this.entrySlot.length;
    const slots = this.entrySlot.data;
    const groups = this.entryGroup.data;
    const values = this.entryComps.data;
    for (let e = 0; e < entries; e++) {
      const to = place[slots[e] ?? 0] ?? -1;
      if (to < 0) continue;
      const at = to * this.width + (groups[e] ?? 0) * this.stride;
      if (comps[at] !== 0n) throw internal(`one group of one id twice`);
      comps.set(values.subarray(e * this.stride, (e + 1) * this.stride), at);
    }
    this.ids = [];
    return Object.freeze({ ids: Object.freeze(kept), width: this.width, comps });
  }
}
