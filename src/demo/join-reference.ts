/**
 * The plaintext reference for linked-record queries (issue 16): the same inner join or anti-join
 * computed directly from both datasets' CSV files, with no PSI, no encryption and no network. The
 * demo compares every encrypted join with it; in a real federation nobody can compute it, since no
 * one holds both departments' identifiers.
 *
 * Semantics are those of the SQL (and of the agencies): each side keeps the records its own WHERE
 * conditions select; an inner join makes one joined record per pair of kept records with the same
 * id, from any agencies of the two sides; an anti-join keeps the left records whose id no right
 * record holds. The joined records are then grouped, counted and summed by the join's virtual
 * plan (protocol/join-round.ts joinCells), so rows come out in the order and with the names the
 * coordinator releases them under.
 */
import type { Policy } from '../federation/federation.js';
import type { DatasetSchema, Schema } from '../federation/schema.js';
import type { ResultRow } from '../coordinator/release.js';
import { chooseMultiplying, joinCells } from '../protocol/join-round.js';
import { evaluatePredicate } from '../query/evaluate.js';
import { joinGroupBy, joinMeasures, type JoinPlan, type JoinSideName } from '../query/join-plan.js';
import { readTypedRows, referenceOfAsyncRows, type TypedRow } from './reference.js';

/** Each side's CSV files: one list per agency (so rows per id can be counted per agency). */
export interface JoinFiles {
  readonly left: readonly (readonly string[])[];
  readonly right: readonly (readonly string[])[];
}

/** A join's released rows in plaintext, and the most records one id has at one agency of either side. */
export interface JoinReference {
  readonly rows: ResultRow[];
  readonly suppressed: number;
  /** Largest number of records (before WHERE) that share one id within one agency's files. */
  readonly maxRowsPerId: number;
}

function datasetOf(schema: Schema, dataset: string): DatasetSchema {
  const ds = schema.datasets[dataset];
  if (ds === undefined) throw new RangeError(`joinReference: the schema has no dataset ${dataset}`);
  return ds;
}

/** One side's kept records, with the qualified columns the virtual plan reads. */
async function* sideRecords(
  join: JoinPlan,
  side: JoinSideName,
  schema: Schema,
  agencies: readonly (readonly string[])[],
  seen: { maxRowsPerId: number },
): AsyncGenerator<{ id: string; row: TypedRow }> {
  const s = join[side];
  const ds = datasetOf(schema, s.dataset);
  const columns = [...joinGroupBy(join, side), ...joinMeasures(join, side)];
  for (const files of agencies) {
    // Rows per id count at each agency separately: that is what maxRowsPerId bounds.
    const perId = new Map<string, number>();
    for await (const row of readTypedRows(ds, files)) {
      const id = String(row[s.id]);
      const n = (perId.get(id) ?? 0) + 1;
      perId.set(id, n);
      if (n > seen.maxRowsPerId) seen.maxRowsPerId = n;
      if (!evaluatePredicate(s.where, row)) continue;
      const out: Record<string, string | number> = {};
      for (const c of columns) out[`${s.alias}.${c}`] = row[c] ?? '';
      yield { id, row: out };
    }
  }
}

async function* joinedRecords(
  join: JoinPlan,
  schema: Schema,
  files: JoinFiles,
  seen: { maxRowsPerId: number },
): AsyncGenerator<TypedRow> {
  // The right side is held in memory by id; the left side streams past it.
  const right = new Map<string, TypedRow[]>();
  for await (const { id, row } of sideRecords(join, 'right', schema, files.right, seen)) {
    const list = right.get(id);
    if (list === undefined) right.set(id, [row]);
    else list.push(row);
  }
  for await (const { id, row } of sideRecords(join, 'left', schema, files.left, seen)) {
    const matches = right.get(id);
    if (join.join === 'anti') {
      if (matches === undefined) yield row;
      continue;
    }
    for (const m of matches ?? []) yield { ...row, ...m };
  }
}

/**
 * The rows `join` releases over the given CSV files under `policy` (exact: minGroupSize
 * suppression as the coordinator applies it; pass `minGroupSize: 1` for every non-empty group).
 * The files must be the agencies' own, one list per agency of each side.
 */
export async function joinReferenceRows(
  join: JoinPlan,
  schema: Schema,
  files: JoinFiles,
  policy: Policy,
): Promise<JoinReference> {
  if (files.left.length === 0 || files.right.length === 0)
    throw new RangeError('joinReferenceRows: each side needs the files of at least one agency');
  const sides = {
    left: files.left.map((_, i) => `left-${i}`),
    right: files.right.map((_, i) => `right-${i}`),
  };
  const cells = joinCells({ join, multiplying: chooseMultiplying(join, schema), sides, maxRowsPerId: 1 }, schema);
  const seen = { maxRowsPerId: 0 };
  const released = await referenceOfAsyncRows(
    cells.plan,
    cells.schema,
    joinedRecords(join, schema, files, seen),
    policy,
  );
  return { ...released, maxRowsPerId: seen.maxRowsPerId };
}
