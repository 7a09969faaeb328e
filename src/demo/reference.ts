/**
 * The plaintext reference: the same query computed directly from the agencies' CSV files with no
 * encryption, no DuckDB and no network. The demo and the end-to-end tests compare every
 * encrypted result with it; in a real federation nobody can compute it, which is the point.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DatasetSchema } from '../federation/schema.js';
import type { Policy } from '../federation/federation.js';
import type { CellValue, ResultRow } from '../coordinator/release.js';
import { average } from '../coordinator/release.js';
import { evaluatePredicate } from '../query/evaluate.js';
import type { QueryPlan } from '../query/plan.js';

/** Splits one RFC 4180 line (fields without embedded newlines). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      out.push(line.slice(i, c < 0 ? line.length : c));
      i = c < 0 ? line.length : c;
    }
    if (i >= line.length) return out;
    i++; // skip the comma
  }
}

async function* readCsvRecords(file: string): AsyncGenerator<Record<string, string>> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let header: string[] | null = null;
  for await (const raw of lines) {
    const line = header === null ? raw.replace(/^\uFEFF/, '') : raw;
    if (line === '') continue;
    const fields = splitCsvLine(line);
    if (header === null) {
      header = fields;
      continue;
    }
    const rec: Record<string, string> = {};
    header.forEach((h, i) => {
      rec[h] = fields[i] ?? '';
    });
    yield rec;
  }
}

/** A record with integer columns as numbers and category/id columns as NFC strings. */
export type TypedRow = Readonly<Record<string, string | number>>;

interface Group {
  readonly key: string[];
  count: bigint;
  readonly sums: Map<string, bigint>;
}

/** Filters, groups, counts and sums rows one at a time in plain JavaScript. */
class ReferenceAggregate {
  private readonly groups = new Map<string, Group>();
  private readonly sumColumns: readonly string[];

  constructor(
    private readonly plan: QueryPlan,
    private readonly schema: DatasetSchema,
  ) {
    this.sumColumns = [
      ...new Set(
        plan.select.flatMap((s) => (s.kind === 'aggregate' && s.fn !== 'count' && s.column !== null ? [s.column] : [])),
      ),
    ];
  }

  add(row: TypedRow): void {
    if (!evaluatePredicate(this.plan.where, row)) return;
    const g = this.group(this.plan.groupBy.map((c) => String(row[c])));
    g.count++;
    for (const c of this.sumColumns) g.sums.set(c, (g.sums.get(c) ?? 0n) + BigInt(row[c] as number));
  }

  /** The rows the release policy lets out, in schema category order, and how many were withheld. */
  release(policy: Policy): { rows: ResultRow[]; suppressed: number } {
    const { plan, schema } = this;
    if (plan.groupBy.length === 0) this.group([]); // SQL's one row, even when nothing matched
    const order = (key: readonly string[]): number[] =>
      key.map((v, i) => {
        const col = schema.columns[plan.groupBy[i] ?? ''];
        return col?.type === 'category' ? col.values.indexOf(v) : 0;
      });
    const sorted = [...this.groups.values()].sort((a, b) => {
      const oa = order(a.key);
      const ob = order(b.key);
      for (let i = 0; i < oa.length; i++) if (oa[i] !== ob[i]) return (oa[i] ?? 0) - (ob[i] ?? 0);
      return 0;
    });
    let suppressed = 0;
    const rows: ResultRow[] = [];
    for (const g of sorted) {
      if (g.count < BigInt(policy.minGroupSize)) {
        suppressed++;
        continue;
      }
      const row: Record<string, CellValue> = {};
      for (const s of plan.select) {
        if (s.kind === 'group') row[s.alias] = g.key[plan.groupBy.indexOf(s.column)] ?? '';
        else if (s.fn === 'count') row[s.alias] = g.count;
        else {
          const sum = g.sums.get(s.column ?? '') ?? 0n;
          row[s.alias] = s.fn === 'sum' ? sum : average(sum, g.count);
        }
      }
      rows.push(row);
    }
    return { rows, suppressed };
  }

  private group(key: string[]): Group {
    const k = JSON.stringify(key);
    let g = this.groups.get(k);
    if (g === undefined)
      this.groups.set(k, (g = { key, count: 0n, sums: new Map(this.sumColumns.map((c) => [c, 0n])) }));
    return g;
  }
}

/** The released rows of `plan` over in-memory rows, with the same policy. */
export function referenceOfRows(
  plan: QueryPlan,
  schema: DatasetSchema,
  rows: Iterable<TypedRow>,
  policy: Policy,
): { rows: ResultRow[]; suppressed: number } {
  const agg = new ReferenceAggregate(plan, schema);
  for (const row of rows) agg.add(row);
  return agg.release(policy);
}

/** The released rows of `plan` over rows produced one at a time (a join's joined records), with the same policy. */
export async function referenceOfAsyncRows(
  plan: QueryPlan,
  schema: DatasetSchema,
  rows: AsyncIterable<TypedRow>,
  policy: Policy,
): Promise<{ rows: ResultRow[]; suppressed: number }> {
  const agg = new ReferenceAggregate(plan, schema);
  for await (const row of rows) agg.add(row);
  return agg.release(policy);
}

/** The released rows of `plan` over the given CSV files, with the same policy. */
export async function referenceRows(
  plan: QueryPlan,
  schema: DatasetSchema,
  files: readonly string[],
  policy: Policy,
): Promise<{ rows: ResultRow[]; suppressed: number }> {
  return referenceOfAsyncRows(plan, schema, readTypedRows(schema, files), policy);
}

/**
 * The records of CSV files of one dataset, in file order, typed by the schema: integer columns as
 * numbers, category and id columns as NFC strings. No validation: these are the seed's own files.
 */
export async function* readTypedRows(schema: DatasetSchema, files: readonly string[]): AsyncGenerator<TypedRow> {
  const columns = Object.entries(schema.columns);
  for (const file of files) {
    for await (const rec of readCsvRecords(file)) {
      const row: Record<string, string | number> = {};
      for (const [name, col] of columns) {
        const v = rec[name] ?? '';
        row[name] = col.type === 'integer' ? Number(v) : v.normalize('NFC');
      }
      yield row;
    }
  }
}

/** Null when equal (AVG within 1e-9 relative), else a description of the first difference. */
export function compareRows(actual: readonly ResultRow[], expected: readonly ResultRow[]): string | null {
  if (actual.length !== expected.length) return `${actual.length} rows, expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? {};
    const e = expected[i] ?? {};
    for (const k of Object.keys(e)) {
      const av = a[k];
      const ev = e[k];
      const same =
        typeof ev === 'number' && typeof av === 'number'
          ? Math.abs(av - ev) <= 1e-9 * Math.max(1, Math.abs(ev))
          : av === ev;
      if (!same) return `row ${i + 1}, ${k}: got ${String(av)}, expected ${String(ev)}`;
    }
  }
  return null;
}
