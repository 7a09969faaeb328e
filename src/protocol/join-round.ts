/**
 * The plan of a query over linked records (issue 16): a query envelope whose `plan` is a
 * `JoinRoundPlan`. Both datasets' agencies take part: after private set intersection
 * (link-messages.ts), the agencies of the *encrypting* side send their per-id components under BFV
 * at the positions the coordinator drew, and the agencies of the *multiplying* side answer round 1
 * with encrypted inner products of those ciphertexts and their own components (he/inner-product.ts).
 * Round 1 and everything after it (secure aggregation, noise, one decryption, release) are those of
 * any query, over a virtual plan whose columns are `alias.column` of either side (joinCells).
 *
 * The multiplying side's agencies are the envelope's `agencies` (the participants of secure
 * aggregation) and its dataset is the plan's `dataset`, so admission, budgets and round 1 work as
 * for a single-dataset query; the encrypting side's agencies are named in `sides` only.
 */
import { FedstatError } from '../errors.js';
import { datasetParties, type Federation } from '../federation/federation.js';
import type { CategoryColumn, DatasetSchema, IntegerColumn, Schema } from '../federation/schema.js';
import { joinGroupBy, joinMeasures, validateJoinPlan, type JoinPlan, type JoinSideName } from '../query/join-plan.js';
import type { QueryPlan, SelectItem } from '../query/plan.js';
import type { LinkSideSpec } from '../store/link-inputs.js';
import { div, rational, type Rational } from '../dp/rational.js';
import { MAX_CIPHERTEXTS, planSlotLayout, type SlotLayout } from '../he/packing.js';
import { planCells, type PlanCells } from './cells.js';
import { privacyTerms, type PrivacyTerms } from './privacy-terms.js';

/** The `kind` that tells a join round's plan from a SQL query's. */
export const JOIN_ROUND_KIND = 'join-round';
/** The most rows one id may have at one agency, whatever a query asks (bounds the sensitivity). */
export const MAX_ROWS_PER_ID = 64;

/** A linked-records query, as the `plan` of a query envelope. */
export interface JoinRoundPlan {
  readonly kind: typeof JOIN_ROUND_KIND;
  /** The multiplying side's dataset (its agencies answer round 1). */
  readonly dataset: string;
  readonly join: JoinPlan;
  /** The side whose agencies multiply and contribute; the other side encrypts its components. */
  readonly multiplying: JoinSideName;
  /** The agencies asked on each side, sorted and unique. */
  readonly sides: { readonly left: readonly string[]; readonly right: readonly string[] };
  /** At most this many rows share one id at one agency (agencies enforce it). */
  readonly maxRowsPerId: number;
}

export function isJoinRoundPlan<P extends object>(plan: P | JoinRoundPlan): plan is JoinRoundPlan {
  return (plan as { kind?: unknown }).kind === JOIN_ROUND_KIND;
}

export function otherSide(side: JoinSideName): JoinSideName {
  return side === 'left' ? 'right' : 'left';
}

/** The encrypting side: the one that is not multiplying. */
export function encryptingSide(plan: Pick<JoinRoundPlan, 'multiplying'>): JoinSideName {
  return otherSide(plan.multiplying);
}

/** What one side's store computes per id (store/link-inputs.ts). */
export function sideSpec(plan: Pick<JoinRoundPlan, 'join' | 'maxRowsPerId'>, side: JoinSideName): LinkSideSpec {
  const s = plan.join[side];
  return Object.freeze({
    dataset: s.dataset,
    id: s.id,
    groupBy: joinGroupBy(plan.join, side),
    measures: joinMeasures(plan.join, side),
    where: s.where,
    maxRowsPerId: plan.maxRowsPerId,
  });
}

/** Components per id on one side: groups × (1 + measures). */
function sideWidth(join: JoinPlan, side: JoinSideName, schema: Schema): number {
  const groups = joinGroupBy(join, side).reduce(
    (n, c) => n * categoryOf(schema, join[side].dataset, c).values.length,
    1,
  );
  return groups * (1 + joinMeasures(join, side).length);
}

/**
 * Which side multiplies: the anti-join's left side (the right side sends presence only); for an
 * inner join the side with more components per id, so the other one sends fewer ciphertexts.
 */
export function chooseMultiplying(join: JoinPlan, schema: Schema): JoinSideName {
  if (join.join === 'anti') return 'left';
  return sideWidth(join, 'left', schema) >= sideWidth(join, 'right', schema) ? 'left' : 'right';
}

/**
 * How many joined records one record of either dataset can be part of: the bound on its rows per
 * id times the agencies of the other side that may hold the same id. Every released number moves
 * by at most this many records when one record changes, so the noise is sized for it.
 */
export function joinSensitivity(plan: Pick<JoinRoundPlan, 'join' | 'sides' | 'maxRowsPerId'>): number {
  const { left, right } = plan.sides;
  const widest = plan.join.join === 'anti' ? left.length : Math.max(left.length, right.length);
  return plan.maxRowsPerId * Math.max(1, widest);
}

/** One released cell as an inner product: which encrypting component meets which multiplying one. */
export interface JoinOutput {
  readonly eComponent: number;
  readonly mComponent: number;
}

/** The virtual single-dataset view of a join that release, noise and no-wrap proofs run on. */
export interface JoinCells {
  /** `SELECT alias.col …, aggregates FROM <join> GROUP BY alias.col …` as a plan over `schema`. */
  readonly plan: QueryPlan;
  /** Columns `alias.column` of both sides; maxRows bounds the joined records of one multiplying agency. */
  readonly schema: DatasetSchema;
  readonly cells: PlanCells;
  /** Per cell (group × measures + measure), the components it multiplies. */
  readonly outputs: readonly JoinOutput[];
  /** Per side, the offset subtracted from each summed value (cells.ts: Σ(x − min) for a negative min). */
  readonly offsets: { readonly left: readonly bigint[]; readonly right: readonly bigint[] };
  readonly widths: { readonly left: number; readonly right: number };
}

function categoryOf(schema: Schema, dataset: string, column: string): CategoryColumn {
  const col = schema.datasets[dataset]?.columns[column];
  if (col?.type !== 'category')
    throw new FedstatError('QUERY_INVALID', `${dataset}.${column} is not a category column`);
  return col;
}

function integerOf(schema: Schema, dataset: string, column: string): IntegerColumn {
  const col = schema.datasets[dataset]?.columns[column];
  if (col?.type !== 'integer') throw new FedstatError('QUERY_INVALID', `${dataset}.${column} is not an integer column`);
  return col;
}

const qualified = (join: JoinPlan, side: JoinSideName, column: string): string => `${join[side].alias}.${column}`;

/** Mixed-radix digits of `index` (most significant first). */
function digits(index: number, radices: readonly number[]): number[] {
  const out = new Array<number>(radices.length).fill(0);
  for (let i = radices.length - 1; i >= 0; i--) {
    const r = radices[i] ?? 1;
    out[i] = index % r;
    index = Math.floor(index / r);
  }
  return out;
}

/**
 * The join's cells: a virtual plan over `alias.column` names, its cells (planCells) and, per cell,
 * the encrypting and multiplying components whose inner product it is. `sides` sizes the bound on
 * the joined records of one multiplying agency (its rows × maxRowsPerId × encrypting agencies).
 */
export function joinCells(
  plan: Pick<JoinRoundPlan, 'join' | 'multiplying' | 'sides' | 'maxRowsPerId'>,
  schema: Schema,
): JoinCells {
  const { join, multiplying } = plan;
  const encrypting = otherSide(multiplying);
  const columns: Record<string, DatasetSchema['columns'][string]> = {};
  for (const g of join.groupBy)
    columns[qualified(join, g.side, g.column)] = categoryOf(schema, join[g.side].dataset, g.column);
  for (const side of ['left', 'right'] as const)
    for (const m of joinMeasures(join, side))
      columns[qualified(join, side, m)] = integerOf(schema, join[side].dataset, m);
  const mSchema = schema.datasets[join[multiplying].dataset];
  if (mSchema === undefined) throw new FedstatError('QUERY_INVALID', `unknown dataset ${join[multiplying].dataset}`);
  const eAgencies = Math.max(1, plan.sides[encrypting].length);
  const pairs = join.join === 'anti' ? mSchema.maxRows : mSchema.maxRows * plan.maxRowsPerId * eAgencies;
  if (!Number.isSafeInteger(pairs))
    throw new FedstatError('PLAN_UNSAFE', 'the joined records cannot be bounded: lower maxRows or maxRowsPerId');
  const virtualSchema: DatasetSchema = Object.freeze({ columns: Object.freeze(columns), maxRows: pairs });
  const select: SelectItem[] = join.select.map((s) =>
    s.kind === 'group'
      ? { kind: 'group', column: qualified(join, s.side, s.column), alias: s.alias }
      : {
          kind: 'aggregate',
          fn: s.fn,
          column: s.side === null || s.column === null ? null : qualified(join, s.side, s.column),
          alias: s.alias,
        },
  );
  const virtualPlan: QueryPlan = Object.freeze({
    dataset: `${join.left.dataset}⋈${join.right.dataset}`,
    groupBy: join.groupBy.map((g) => qualified(join, g.side, g.column)),
    select,
    where: null,
  });
  const cells = planCells(virtualPlan, virtualSchema);
  return Object.freeze({
    plan: virtualPlan,
    schema: virtualSchema,
    cells,
    outputs: Object.freeze(joinOutputs(plan, schema, cells)),
    offsets: Object.freeze({ left: sideOffsets(join, 'left', schema), right: sideOffsets(join, 'right', schema) }),
    widths: Object.freeze({ left: sideWidth(join, 'left', schema), right: sideWidth(join, 'right', schema) }),
  });
}

function sideOffsets(join: JoinPlan, side: JoinSideName, schema: Schema): readonly bigint[] {
  return Object.freeze(
    joinMeasures(join, side).map((m) => {
      const min = integerOf(schema, join[side].dataset, m).min;
      return min < 0 ? BigInt(min) : 0n;
    }),
  );
}

function joinOutputs(
  plan: Pick<JoinRoundPlan, 'join' | 'multiplying'>,
  schema: Schema,
  cells: PlanCells,
): JoinOutput[] {
  const { join, multiplying } = plan;
  const encrypting = otherSide(multiplying);
  const radices = join.groupBy.map((g) => categoryOf(schema, join[g.side].dataset, g.column).values.length);
  const measures = { left: joinMeasures(join, 'left'), right: joinMeasures(join, 'right') };
  // The anti-join's encrypting side sends one component: whether the id is absent there.
  const eStride = join.join === 'anti' ? 0 : 1 + measures[encrypting].length;
  const mStride = 1 + measures[multiplying].length;
  const out: JoinOutput[] = [];
  for (let g = 0; g < cells.groupCount; g++) {
    const d = digits(g, radices);
    const sideGroup = (side: JoinSideName): number =>
      join.groupBy.reduce((acc, col, i) => (col.side === side ? acc * (radices[i] ?? 1) + (d[i] ?? 0) : acc), 0);
    const eBase = sideGroup(encrypting) * eStride;
    const mBase = sideGroup(multiplying) * mStride;
    for (const m of cells.measures) {
      if (m.kind === 'count') {
        out.push({ eComponent: eBase, mComponent: mBase });
        continue;
      }
      const [alias, column] = splitQualified(m.column ?? '');
      const side: JoinSideName = join.left.alias === alias ? 'left' : 'right';
      const k = measures[side].indexOf(column);
      out.push(
        side === multiplying
          ? { eComponent: eBase, mComponent: mBase + 1 + k }
          : { eComponent: eBase + 1 + k, mComponent: mBase },
      );
    }
  }
  return out;
}

function splitQualified(name: string): [string, string] {
  const at = name.indexOf('.');
  return [name.slice(0, at), name.slice(at + 1)];
}

function sortedUnique(raw: unknown, what: string): readonly string[] {
  if (!Array.isArray(raw) || !raw.every((a) => typeof a === 'string') || raw.length === 0)
    throw new FedstatError('BAD_MESSAGE', `join plan: ${what} agency list is malformed`);
  const list: string[] = raw;
  for (let i = 1; i < list.length; i++)
    if ((list[i - 1] ?? '') >= (list[i] ?? ''))
      throw new FedstatError('BAD_MESSAGE', `join plan: ${what} agency list is not sorted and unique`);
  return Object.freeze([...list]);
}

/**
 * Re-validates a join round's plan from a verified envelope: exact keys, the join plan against the
 * schema, sides that only name agencies the federation lets serve each dataset, the multiplying side
 * the rule picks, and the envelope's agencies equal to the multiplying side.
 */
export function openJoinRoundPlan(raw: unknown, federation: Federation, agencies: readonly string[]): JoinRoundPlan {
  const bad = (why: string): FedstatError => new FedstatError('BAD_MESSAGE', `join plan: ${why}`);
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const p = raw as Record<string, unknown>;
  const keys = Object.keys(p).sort().join(',');
  if (keys !== 'dataset,join,kind,maxRowsPerId,multiplying,sides') throw bad('unexpected keys');
  const join = validateJoinPlan(p['join'], federation.schema);
  const multiplying = chooseMultiplying(join, federation.schema);
  if (p['multiplying'] !== multiplying) throw bad('the multiplying side is not the one the rule picks');
  if (p['dataset'] !== join[multiplying].dataset) throw bad("dataset is not the multiplying side's");
  const maxRowsPerId = p['maxRowsPerId'];
  if (
    typeof maxRowsPerId !== 'number' ||
    !Number.isSafeInteger(maxRowsPerId) ||
    maxRowsPerId < 1 ||
    maxRowsPerId > MAX_ROWS_PER_ID
  )
    throw bad(`maxRowsPerId must be an integer from 1 to ${MAX_ROWS_PER_ID}`);
  const sides = p['sides'] as Record<string, unknown> | null;
  if (typeof sides !== 'object' || sides === null || Object.keys(sides).sort().join(',') !== 'left,right')
    throw bad('sides must name left and right');
  const left = sortedUnique(sides['left'], 'left');
  const right = sortedUnique(sides['right'], 'right');
  for (const [side, list] of [
    ['left', left],
    ['right', right],
  ] as const) {
    const allowed = new Set(datasetParties(federation, join[side].dataset).map((a) => a.id));
    if (!list.every((a) => allowed.has(a)))
      throw bad(`the ${side} side names an agency that may not serve ${join[side].dataset}`);
  }
  // An agency holding both side keys could blind any id fully and test it against what it relays.
  if (left.some((a) => right.includes(a))) throw bad('an agency is named on both sides');
  const m = multiplying === 'left' ? left : right;
  if (m.length !== agencies.length || m.some((a, i) => a !== agencies[i]))
    throw bad("the envelope's agencies are not the multiplying side");
  return Object.freeze({
    kind: JOIN_ROUND_KIND,
    dataset: join[multiplying].dataset,
    join,
    multiplying,
    sides: Object.freeze({ left, right }),
    maxRowsPerId,
  });
}

/**
 * The privacy terms of a join: noise sized for a sensitivity of `joinSensitivity` records per
 * changed record (μ for ρ/m², which is ρ-zCDP at sensitivity m), while every agency charges ρ.
 */
export function joinPrivacyTerms(
  plan: Pick<JoinRoundPlan, 'join' | 'sides' | 'maxRowsPerId'>,
  cells: JoinCells,
  rho: Rational,
  threshold: number,
): PrivacyTerms {
  const m = BigInt(joinSensitivity(plan));
  const scaled = privacyTerms(cells.cells, cells.schema, div(rho, rational(m * m)), threshold);
  return Object.freeze({ ...scaled, rho });
}

/**
 * The slot layout of a join's round 1: one cell per ciphertext, in coefficient 0 (an inner
 * product's other coefficients are masked cross terms). PLAN_UNSAFE when a cell would need more
 * than one limb (its bound times the agencies reaches the plain modulus) or the join releases more
 * cells than one contribution may carry ciphertexts.
 */
export function joinSlotLayout(
  cells: JoinCells,
  parties: number,
  plainModulus: bigint,
  noiseBound: bigint,
): SlotLayout {
  const count = cells.cells.cellBounds.length;
  if (count > MAX_CIPHERTEXTS)
    throw new FedstatError(
      'PLAN_UNSAFE',
      `a join releases at most ${MAX_CIPHERTEXTS} numbers (groups × aggregates), this one ${count}; group by fewer values or aggregate fewer columns`,
    );
  const layout = planSlotLayout(cells.cells.cellBounds, parties, { slotCount: 1, plainModulus }, noiseBound);
  if (layout.cells.some((c) => c.limbs !== 1))
    throw new FedstatError(
      'PLAN_UNSAFE',
      'a joined total could reach the plain modulus; lower maxRows or the bounds of the summed columns, or maxRowsPerId',
    );
  return layout;
}
