/**
 * A plain JavaScript evaluation of one side of a linked query (store/link-inputs.ts), for the
 * store tests to compare every engine with: the rows given are the valid ones, grouped by id;
 * and the random schema, rows and specs the property tests draw.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { parseSchema, type DatasetSchema } from '../../src/federation/schema.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import type { LinkInputs, LinkSideSpec } from '../../src/store/link-inputs.js';
import { atomArb, predicateArb } from '../query/arbitraries.js';

/** A valid row as a CSV reader gives it: categories as text, integers as numbers, the id as text. */
export type LinkRow = Readonly<Record<string, string | number>>;

/** LinkInputs as id → its components, to compare without caring for the order of ids. */
export function byId(inputs: LinkInputs): Map<string, bigint[]> {
  expect(inputs.comps.length).toBe(inputs.ids.length * inputs.width);
  expect(new Set(inputs.ids).size).toBe(inputs.ids.length);
  return new Map(inputs.ids.map((id, i) => [id, [...inputs.comps.subarray(i * inputs.width, (i + 1) * inputs.width)]]));
}

/**
 * The expected inputs over `rows` (all valid): every id present, ids with more than
 * `spec.maxRowsPerId` rows left out (`skip` semantics; a `reject` store refuses when any is).
 */
export function referenceLinkInputs(
  schema: DatasetSchema,
  spec: LinkSideSpec,
  rows: readonly LinkRow[],
): {
  readonly inputs: Map<string, bigint[]>;
  readonly width: number;
  readonly overIds: number;
  readonly overRows: number;
} {
  const sizes = spec.groupBy.map((g) => {
    const col = schema.columns[g];
    return col?.type === 'category' ? col.values : [];
  });
  const groups = sizes.reduce((a, v) => a * v.length, 1);
  const stride = 1 + spec.measures.length;
  const out = new Map<string, bigint[]>();
  const counts = new Map<string, number>();
  for (const row of rows) {
    const id = String(row[spec.id]);
    counts.set(id, (counts.get(id) ?? 0) + 1);
    const comps = out.get(id) ?? new Array<bigint>(groups * stride).fill(0n);
    out.set(id, comps);
    if (!evaluatePredicate(spec.where, row)) continue;
    let g = 0;
    spec.groupBy.forEach((name, i) => {
      g = g * (sizes[i]?.length ?? 0) + (sizes[i]?.indexOf(String(row[name])) ?? 0);
    });
    const at = g * stride;
    comps[at] = (comps[at] ?? 0n) + 1n;
    spec.measures.forEach((m, k) => {
      comps[at + 1 + k] = (comps[at + 1 + k] ?? 0n) + BigInt(row[m] ?? 0);
    });
  }
  let overIds = 0;
  let overRows = 0;
  for (const [id, n] of counts) {
    if (n <= spec.maxRowsPerId) continue;
    overIds++;
    overRows += n;
    out.delete(id);
  }
  return { inputs: out, width: groups * stride, overIds, overRows };
}

/** Text ids (some non-ASCII, one with a comma and a quote), two categories, two integers. */
export const LINK_SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      visits: {
        maxRows: 1000,
        columns: {
          person: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 0, max: 120 },
          amount: { type: 'integer', min: -9_007_199_254_740_991, max: 9_007_199_254_740_991 },
        },
      },
    },
  },
  'link-test',
).datasets['visits'] as DatasetSchema;

const IDS = ['p1', 'p2', 'p3', '张三', '李四', 'a,"b"', 'x y', 'P1'];

export const linkRowArb: fc.Arbitrary<LinkRow> = fc.record({
  person: fc.constantFrom(...IDS),
  district: fc.constantFrom('锦江区', '青羊区', '金牛区'),
  sex: fc.constantFrom('男', '女'),
  age: fc.integer({ min: 0, max: 120 }),
  amount: fc.oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.constantFrom(9_007_199_254_740_991, -9_007_199_254_740_991),
  ),
});

export const linkSpecArb: fc.Arbitrary<Omit<LinkSideSpec, 'dataset'>> = fc.record({
  id: fc.constant('person'),
  groupBy: fc.shuffledSubarray(['district', 'sex'], { maxLength: 2 }),
  measures: fc.shuffledSubarray(['age', 'amount'], { maxLength: 2 }),
  where: fc.option(predicateArb(atomArb(LINK_SCHEMA), 3), { nil: null }),
  maxRowsPerId: fc.integer({ min: 1, max: 6 }),
});

export function linkCsv(rows: readonly LinkRow[]): string {
  const names = Object.keys(LINK_SCHEMA.columns);
  return [names.join(','), ...rows.map((r) => csvRecord(names.map((n) => String(r[n]))))].join('\n') + '\n';
}

/** A row of a live table: any cell may be NULL or out of its domain. */
export type RawLinkRow = Readonly<Record<string, string | number | null>>;

/** A valid row, or one with one cell broken: NULL or empty id, NULL or unknown category, integer out of bounds. */
export const rawLinkRowArb: fc.Arbitrary<RawLinkRow> = fc
  .tuple(
    linkRowArb,
    fc.option(fc.constantFrom('person', 'empty', 'district', 'sex', 'age', 'age-high'), { freq: 3, nil: null }),
  )
  .map(([row, broken]): RawLinkRow => {
    if (broken === null) return row;
    if (broken === 'empty') return { ...row, person: '' };
    if (broken === 'age') return { ...row, age: -1 };
    if (broken === 'age-high') return { ...row, age: 121 };
    if (broken === 'sex') return { ...row, sex: '其他' };
    return { ...row, [broken]: null };
  });

/**
 * What a live store must make of `rows` under `skip` (link-assemble.ts): rows with an invalid id
 * (NULL, empty) or a cell out of domain in a column the statement reads are left out and counted;
 * a valid id whose rows are all left out for their cells stays present with zero components.
 */
export function referenceLiveLinkInputs(
  schema: DatasetSchema,
  spec: LinkSideSpec,
  rows: readonly RawLinkRow[],
): ReturnType<typeof referenceLinkInputs> & { readonly census: { rows: number; byColumn: Record<string, number> } } {
  const read = new Set([...spec.groupBy, ...spec.measures, ...predicateColumns(spec.where)]);
  const byColumn: Record<string, number> = {};
  let bad = 0;
  const valid: LinkRow[] = [];
  const present = new Set<string>();
  for (const row of rows) {
    const id = row[spec.id];
    let ok = typeof id === 'string' && id.length > 0;
    if (!ok) byColumn[spec.id] = (byColumn[spec.id] ?? 0) + 1;
    for (const name of read) {
      if (cellInDomain(schema, name, row[name] ?? null)) continue;
      byColumn[name] = (byColumn[name] ?? 0) + 1;
      ok = false;
    }
    if (ok) valid.push(row as LinkRow);
    else bad++;
    if (typeof id === 'string' && id.length > 0) present.add(id);
  }
  const ref = referenceLinkInputs(schema, spec, valid);
  const counts = new Map<string, number>();
  for (const r of valid) counts.set(String(r[spec.id]), (counts.get(String(r[spec.id])) ?? 0) + 1);
  const width = ref.width;
  for (const id of present) {
    if ((counts.get(id) ?? 0) <= spec.maxRowsPerId && !ref.inputs.has(id))
      ref.inputs.set(id, new Array<bigint>(width).fill(0n));
  }
  return { ...ref, census: { rows: bad, byColumn } };
}

/** Whether every cell of `row` is valid (as a CSV load would judge it): what the DuckDB store loads. */
export function cleanLinkRow(schema: DatasetSchema, row: RawLinkRow): boolean {
  return Object.keys(schema.columns).every((name) => {
    const cell = row[name] ?? null;
    return schema.columns[name]?.type === 'id'
      ? typeof cell === 'string' && cell.length > 0
      : cellInDomain(schema, name, cell);
  });
}

function cellInDomain(schema: DatasetSchema, name: string, cell: string | number | null): boolean {
  const col = schema.columns[name];
  if (cell === null || col === undefined) return false;
  if (col.type === 'category') return typeof cell === 'string' && col.values.includes(cell);
  if (col.type === 'integer') return typeof cell === 'number' && cell >= col.min && cell <= col.max;
  return true;
}

function predicateColumns(p: LinkSideSpec['where'], out = new Set<string>()): Set<string> {
  if (p === null) return out;
  if (p.kind === 'and' || p.kind === 'or') for (const a of p.args) predicateColumns(a, out);
  else if (p.kind === 'not') predicateColumns(p.arg, out);
  else out.add(p.column);
  return out;
}
