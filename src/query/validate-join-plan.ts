/**
 * Validation of linked-record plans that arrive as plain objects from the network, with the same
 * discipline as validate-plan.ts: own data properties only, exact keys, sizes checked before any
 * walk, only FedstatError thrown, and a fresh deep-frozen copy returned. Each side's WHERE goes
 * through validatePredicate, so a join condition is checked by the single-dataset code.
 */
import { FedstatError } from '../errors.js';
import { planColumn, planReader } from './plan-reader.js';
import { datasetSchema } from '../federation/schema.js';
import type { DatasetSchema, IdColumn, Schema } from '../federation/schema.js';
import { checkUniqueAliases } from './aliases.js';
import { isSafeAlias, predicateSize, QUERY_LIMITS } from './limits.js';
import type { JoinColumn, JoinKind, JoinPlan, JoinSelectItem, JoinSide, JoinSideName } from './join-plan.js';
import type { AggregateFn } from './plan.js';
import { queryInvalid, quoted } from './query-error.js';
import { listNames } from './suggest.js';
import { validatePredicate } from './validate-plan.js';

const { bad, fields, list, text, oneOf } = planReader('join plan', 64);
const column = planColumn;

const SIDES: readonly JoinSideName[] = ['left', 'right'];

interface CheckedSide {
  readonly side: JoinSide;
  readonly ds: DatasetSchema;
  readonly idColumn: IdColumn;
}

function readSide(v: unknown, path: string, schema: Schema): CheckedSide {
  const f = fields(v, path, ['dataset', 'alias', 'id', 'where']);
  const dataset = text(f['dataset'], `${path}.dataset`);
  const ds = datasetSchema(schema, dataset);
  const alias = text(f['alias'], `${path}.alias`);
  if (!isSafeAlias(alias)) throw bad(`${path}.alias`, `unsafe alias ${quoted(alias)}`);
  const id = text(f['id'], `${path}.id`);
  const idColumn = Object.hasOwn(ds.columns, id) ? ds.columns[id] : undefined;
  if (idColumn?.type !== 'id') {
    const ids = Object.keys(ds.columns).filter((n) => ds.columns[n]?.type === 'id');
    throw queryInvalid(
      `${dataset}.${id} is not an id column, so records cannot be linked on it`,
      null,
      ids.length === 0 ? `${dataset} has no id column` : `join on ${listNames(ids.map((n) => `${dataset}.${n}`))}`,
      { columnName: id },
    );
  }
  const where = f['where'] === null ? null : validatePredicate(f['where'], dataset, schema);
  return { side: Object.freeze({ dataset, alias, id, where }), ds, idColumn };
}

function readGroup(v: unknown, path: string, sides: Readonly<Record<JoinSideName, CheckedSide>>): JoinColumn {
  const f = fields(v, path, ['side', 'column']);
  const side = oneOf(f['side'], `${path}.side`, SIDES);
  const name = text(f['column'], `${path}.column`);
  const { side: s, ds } = sides[side];
  if (column(s.dataset, ds, name).type !== 'category')
    throw queryInvalid(
      `GROUP BY ${name}: ${s.dataset}.${name} is an integer column`,
      null,
      'group by category columns',
    );
  return Object.freeze({ side, column: name });
}

function readItem(
  v: unknown,
  path: string,
  sides: Readonly<Record<JoinSideName, CheckedSide>>,
  groupBy: readonly JoinColumn[],
): JoinSelectItem {
  const kindDesc = typeof v === 'object' && v !== null ? Object.getOwnPropertyDescriptor(v, 'kind') : undefined;
  const kind = oneOf(kindDesc !== undefined && 'value' in kindDesc ? kindDesc.value : undefined, `${path}.kind`, [
    'group',
    'aggregate',
  ] as const);
  const f = fields(
    v,
    path,
    kind === 'group' ? ['kind', 'side', 'column', 'alias'] : ['kind', 'fn', 'side', 'column', 'alias'],
  );
  const alias = text(f['alias'], `${path}.alias`);
  if (!isSafeAlias(alias)) throw bad(`${path}.alias`, `unsafe output name ${quoted(alias)}`);
  if (kind === 'group') {
    const side = oneOf(f['side'], `${path}.side`, SIDES);
    const name = text(f['column'], `${path}.column`);
    column(sides[side].side.dataset, sides[side].ds, name);
    if (!groupBy.some((g) => g.side === side && g.column === name))
      throw queryInvalid(`${name} is selected but not in GROUP BY`, null, 'add it to groupBy or remove it from select');
    return Object.freeze({ kind, side, column: name, alias });
  }
  const fn = oneOf(f['fn'], `${path}.fn`, ['count', 'sum', 'avg'] as const satisfies readonly AggregateFn[]);
  if (fn === 'count') {
    if (f['side'] !== null) throw bad(`${path}.side`, 'count takes side null');
    if (f['column'] !== null) throw bad(`${path}.column`, 'count takes column null');
    return Object.freeze({ kind, fn, side: null, column: null, alias });
  }
  const side = oneOf(f['side'], `${path}.side`, SIDES);
  const name = text(f['column'], `${path}.column`);
  const { side: s, ds } = sides[side];
  if (column(s.dataset, ds, name).type !== 'integer')
    throw queryInvalid(
      `${fn}(${name}): ${s.dataset}.${name} is a category column`,
      null,
      `${fn.toUpperCase()} needs an integer column`,
    );
  return Object.freeze({ kind, fn, side, column: name, alias });
}

/** The anti-join's rules: nothing of the right side but its id. */
function checkAnti(right: JoinSide, groupBy: readonly JoinColumn[], select: readonly JoinSelectItem[]): void {
  const fix = `an anti-join selects, groups and counts only records of the FROM dataset`;
  if (right.where !== null)
    throw queryInvalid(`the NOT EXISTS dataset ${right.dataset} carries conditions`, null, `drop right.where; ${fix}`);
  if (groupBy.some((g) => g.side === 'right') || select.some((s) => s.side === 'right'))
    throw queryInvalid(`the plan uses columns of the NOT EXISTS dataset ${right.dataset}`, null, fix);
}

function validate(raw: unknown, schema: Schema): JoinPlan {
  const f = fields(raw, '', ['kind', 'join', 'left', 'right', 'groupBy', 'select']);
  oneOf(f['kind'], 'kind', ['join'] as const);
  const join = oneOf(f['join'], 'join', ['inner', 'anti'] as const satisfies readonly JoinKind[]);
  const sides = { left: readSide(f['left'], 'left', schema), right: readSide(f['right'], 'right', schema) };
  const [l, r] = [sides.left, sides.right];
  if (l.side.dataset === r.side.dataset)
    throw queryInvalid(`${l.side.dataset} is joined with itself`, null, 'link two different datasets');
  if (l.side.alias.toLowerCase() === r.side.alias.toLowerCase())
    throw queryInvalid(`both datasets are called ${l.side.alias}`, null, 'give the datasets different aliases');
  if (l.idColumn.format !== r.idColumn.format) {
    throw queryInvalid(
      `${l.side.dataset}.${l.side.id} (${l.idColumn.format}) and ${r.side.dataset}.${r.side.id} (${r.idColumn.format}) hold ids of different formats`,
      null,
      'join on id columns of the same format',
    );
  }
  for (const s of [l.side, r.side]) {
    const { depth, nodes } = s.where === null ? { depth: 0, nodes: 0 } : predicateSize(s.where);
    if (depth > QUERY_LIMITS.maxPredicateDepth || nodes > QUERY_LIMITS.maxPredicateNodes)
      throw bad(`${s === l.side ? 'left' : 'right'}.where`, 'predicate too large');
  }
  const groupBy = list(f['groupBy'], 'groupBy', 0, QUERY_LIMITS.maxGroupBy).map((g, i) =>
    readGroup(g, `groupBy[${i}]`, sides),
  );
  groupBy.forEach((g, i) => {
    if (groupBy.findIndex((h) => h.side === g.side && h.column === g.column) !== i)
      throw queryInvalid(`${g.column} appears twice in GROUP BY`, null, 'list each column once');
  });
  const select = list(f['select'], 'select', 1, QUERY_LIMITS.maxSelectItems).map((s, i) =>
    readItem(s, `select[${i}]`, sides, groupBy),
  );
  if (!select.some((s) => s.kind === 'aggregate'))
    throw queryInvalid('the query has no aggregate', null, 'add COUNT(*), SUM(col) or AVG(col)');
  checkUniqueAliases(
    select.map((s) => s.alias),
    () => null,
  );
  if (join === 'anti') checkAnti(r.side, groupBy, select);
  return Object.freeze({
    kind: 'join',
    join,
    left: l.side,
    right: r.side,
    groupBy: Object.freeze(groupBy),
    select: Object.freeze(select),
  });
}

/** See validateJoinPlan in join-plan.ts. */
export function validateJoin(raw: unknown, schema: Schema): JoinPlan {
  try {
    return validate(raw, schema);
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw new FedstatError('BAD_MESSAGE', 'join plan: unreadable input', { cause: e });
  }
}
