/**
 * Plan → parameterized SQL: the only place fedstat produces query text. Identifiers come only from
 * the schema and are quoted; every literal is a bound parameter; category literals become their
 * codes. Plans are validated upstream, but a plan is data from the network, so this re-checks
 * every name, type and literal it touches and throws QUERY_INVALID instead of compiling anything
 * it does not understand.
 */
import { FedstatError } from '../errors.js';
import type { CategoryColumn, Column, DatasetSchema, IntegerColumn } from '../federation/schema.js';
import { planMeasures } from '../query/plan.js';
import type { Literal, Measure, Predicate, QueryPlan } from '../query/plan.js';
import { inDomain, type LiveSource } from './live-source.js';
import type { SqlDialect, SqlType } from './sql-dialect.js';

/** Generous structural limits (the plan validator is stricter); they bound recursion here. */
const MAX_DEPTH = 64;
const MAX_PARAMS = 65_535;
const MAX_GROUP_BY = 2;
const DATASET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface CompiledAggregate {
  readonly sql: string;
  /**
   * Bound in order to `$1..$n`: category codes and integer literals, all safe integers (over a live
   * source, a category literal is its text).
   */
  readonly params: readonly (number | string)[];
  /** Domain sizes of the GROUP BY columns, in order: the radices of the group index. */
  readonly groupSizes: readonly number[];
  /** What the columns after the group codes hold: `planMeasures(plan)`. */
  readonly measures: readonly Measure[];
  /** Over a live source, how its result rows carry group texts and the census; null over a loaded table. */
  readonly live: LiveLayout | null;
  /**
   * Over a live source and without WHERE: a cheaper statement that answers when the data is clean
   * (local-aggregate.ts `cleanAnswer`), to run first; `sql` then runs only when it finds a cell out
   * of domain. Null otherwise.
   */
  readonly optimistic: OptimisticAggregate | null;
}

/**
 * The plain aggregate of a live source with, per summed column, MIN, MAX and COUNT of its cells:
 * when every group's text is declared, no summed cell is NULL and every one lies within its
 * bounds, its counts and sums are the answer (no row is out of domain in a column it reads), for
 * no more than what the engine's own GROUP BY costs. Result rows: group texts, the measures, then
 * [MIN, MAX, COUNT] per `summed` column.
 */
export interface OptimisticAggregate {
  readonly sql: string;
  /** The summed columns and their bounds, in output order. */
  readonly summed: readonly (readonly [name: string, min: number, max: number])[];
}

/**
 * The result rows of a live aggregate: group columns as their text (decoded and judged by
 * local-aggregate.ts), the measures over rows whose checked cells are in domain, then all rows the
 * statement read in that group, then per checked column the rows whose cell there is out of domain.
 */
export interface LiveLayout {
  /** The GROUP BY columns' names and declared values, in order. */
  readonly groups: readonly (readonly [name: string, values: readonly string[]])[];
  /** The other columns the statement reads (WHERE, SUM), checked row by row, in output order. */
  readonly checked: readonly string[];
}

/** Array.isArray without its narrowing to any[]. */
function isList(v: unknown): boolean {
  return Array.isArray(v);
}

function invalid(problem: string, fix: string): FedstatError {
  return new FedstatError('QUERY_INVALID', `query plan: ${problem}; ${fix}`);
}

class Compiler {
  readonly params: (number | string)[] = [];

  /** `rawText`: category cells are read as their text (a live source), not as stored codes. */
  constructor(
    private readonly plan: QueryPlan,
    private readonly schema: DatasetSchema,
    private readonly dialect: SqlDialect,
    private readonly rawText = false,
  ) {}

  column(name: unknown): { name: string; col: CategoryColumn | IntegerColumn } {
    const col: Column | undefined =
      typeof name === 'string' && Object.hasOwn(this.schema.columns, name) ? this.schema.columns[name] : undefined;
    if (typeof name !== 'string' || col === undefined) {
      const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : typeof name;
      throw invalid(
        `unknown column ${shown} in ${this.plan.dataset}`,
        `use one of ${Object.keys(this.schema.columns).join(', ')}`,
      );
    }
    if (col.type === 'id') throw invalid(`${name} is an id column`, 'id columns cannot be filtered, grouped or summed');
    return { name, col };
  }

  ident(name: string): string {
    return this.dialect.quoteIdent(name);
  }

  /** Columns a predicate compiled so far compares. */
  readonly compared = new Set<string>();

  /** A column's cell as a predicate compares it: a live category by its text, else as stored. */
  cell(name: string, col: CategoryColumn | IntegerColumn): string {
    this.compared.add(name);
    return this.rawText && col.type === 'category' ? this.dialect.cast(this.ident(name), 'text') : this.ident(name);
  }

  bind(value: number | string, type: SqlType): string {
    if (this.params.length >= MAX_PARAMS)
      throw invalid(`more than ${MAX_PARAMS} literals`, 'simplify the WHERE clause');
    this.params.push(value);
    return this.dialect.cast(this.dialect.param(this.params.length), type);
  }

  /** The bound parameter for a literal compared with `col`: a category code or an integer. */
  literal(name: string, col: CategoryColumn | IntegerColumn, value: Literal): string {
    if (col.type === 'category') {
      const pos = typeof value === 'string' ? col.values.indexOf(value.normalize('NFC')) : -1;
      if (pos < 0) {
        const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
        throw invalid(
          `${shown} is not a value of category column ${name}`,
          'compare it with one of its declared values',
        );
      }
      return this.rawText ? this.bind(col.values[pos] ?? '', 'text') : this.bind(pos, 'code');
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < col.min || value > col.max) {
      const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
      throw invalid(
        `${shown} is not an integer in ${col.min}..${col.max} for column ${name}`,
        'use a whole number inside the column bounds',
      );
    }
    return this.bind(value === 0 ? 0 : value, 'integer');
  }

  predicate(p: Predicate, depth: number): string {
    if (depth > MAX_DEPTH) throw invalid(`predicate nested deeper than ${MAX_DEPTH}`, 'simplify the WHERE clause');
    if (typeof p !== 'object' || p === null) throw invalid('a predicate is not an object', 'send a validated plan');
    switch (p.kind) {
      case 'and':
      case 'or': {
        if (!isList(p.args) || p.args.length === 0)
          throw invalid(`${p.kind.toUpperCase()} without operands`, 'give it at least one condition');
        const parts = p.args.map((a) => this.predicate(a, depth + 1));
        return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(p.kind === 'and' ? ' AND ' : ' OR ')})`;
      }
      case 'not':
        return `(NOT ${this.predicate(p.arg, depth + 1)})`;
      case 'compare': {
        const { name, col } = this.column(p.column);
        if (!['=', '<>', '<', '<=', '>', '>='].includes(p.op))
          throw invalid(`unknown comparison ${String(p.op)}`, 'use = <> < <= > >=');
        if (col.type === 'category' && p.op !== '=' && p.op !== '<>') {
          throw invalid(`${p.op} on category column ${name}`, 'categories have no order: use =, <> or IN');
        }
        return `(${this.cell(name, col)} ${p.op} ${this.literal(name, col, p.value)})`;
      }
      case 'in': {
        const { name, col } = this.column(p.column);
        if (!isList(p.values) || p.values.length === 0)
          throw invalid(`empty IN list on ${name}`, 'list at least one value');
        return `(${this.cell(name, col)} IN (${p.values.map((v) => this.literal(name, col, v)).join(', ')}))`;
      }
      case 'between': {
        const { name, col } = this.column(p.column);
        if (col.type === 'category')
          throw invalid(`BETWEEN on category column ${name}`, 'categories have no order: use IN');
        return `(${this.cell(name, col)} BETWEEN ${this.literal(name, col, p.low)} AND ${this.literal(name, col, p.high)})`;
      }
      default:
        throw invalid(
          `unknown predicate kind ${JSON.stringify(String((p as { kind: unknown }).kind)).slice(0, 40)}`,
          'use and, or, not, compare, in or between',
        );
    }
  }
}

/**
 * Compiles a plan to one SELECT whose result columns are the GROUP BY codes, then COUNT(*), then
 * SUM(CAST(col AS <exact>)) for each SUM measure in `planMeasures(plan)` order; over a `live` source
 * (read in place, cells unchecked) the census columns follow (`CompiledAggregate.census`). Throws
 * QUERY_INVALID for unknown or id columns, mistyped or out-of-domain literals, and malformed plans.
 */
export function compileAggregate(
  plan: QueryPlan,
  schema: DatasetSchema,
  dialect: SqlDialect,
  live?: LiveSource,
): CompiledAggregate {
  if (typeof plan.dataset !== 'string' || !DATASET_NAME.test(plan.dataset)) {
    throw invalid(
      `bad dataset name ${JSON.stringify(String(plan.dataset).slice(0, 64))}`,
      'name a dataset of the schema',
    );
  }
  const c = new Compiler(plan, schema, dialect, live !== undefined);
  if (!isList(plan.groupBy) || plan.groupBy.length > MAX_GROUP_BY) {
    throw invalid(`GROUP BY must list at most ${MAX_GROUP_BY} columns`, 'group by one or two category columns');
  }
  const groupSizes: number[] = [];
  const groups: string[] = [];
  for (const g of plan.groupBy) {
    const { name, col } = c.column(g);
    if (col.type !== 'category')
      throw invalid(`GROUP BY ${name}: not a category column`, 'group by category columns only');
    if (plan.groupBy.indexOf(g) !== groups.length) throw invalid(`GROUP BY ${name} twice`, 'list each column once');
    groups.push(c.ident(name));
    groupSizes.push(col.values.length);
  }
  if (!isList(plan.select)) throw invalid('missing SELECT list', 'select at least one aggregate');
  for (const item of plan.select) {
    if (item.kind === 'group') {
      if (!plan.groupBy.includes(item.column))
        throw invalid(`${String(item.column)} is selected but not grouped`, 'add it to GROUP BY');
    } else if (item.kind === 'aggregate') {
      if (item.fn === 'count') {
        if (item.column !== null) throw invalid('COUNT takes no column here', 'use COUNT(*)');
      } else if (item.fn === 'sum' || item.fn === 'avg') {
        const { name, col } = c.column(item.column);
        if (col.type !== 'integer')
          throw invalid(
            `${item.fn.toUpperCase()}(${name}): not an integer column`,
            'sum or average integer columns only',
          );
      } else {
        throw invalid(`unknown aggregate ${JSON.stringify(String(item.fn)).slice(0, 40)}`, 'use COUNT, SUM or AVG');
      }
    } else {
      throw invalid('unknown SELECT item', 'select group columns and aggregates only');
    }
  }
  const measures = planMeasures(plan);
  const condition = plan.where === null || plan.where === undefined ? null : c.predicate(plan.where, 1);
  if (live !== undefined) return liveAggregate(plan, live, dialect, { c, groups, groupSizes, measures, condition });
  // The stored integer columns are BIGINT: SUM of BIGINT is exact in both engines (HUGEINT in
  // DuckDB, NUMERIC in PostgreSQL), and a per-row CAST to the wide type tripled DuckDB's time.
  const outputs = measures.map((m) => (m.kind === 'count' ? 'COUNT(*)' : `SUM(${c.ident(c.column(m.column).name)})`));
  const where = condition === null ? '' : ` WHERE ${condition}`;
  const groupBy = groups.length === 0 ? '' : ` GROUP BY ${groups.join(', ')}`;
  const sql = `SELECT ${[...groups, ...outputs].join(', ')} FROM ${dialect.table(plan.dataset)}${where}${groupBy}`;
  return Object.freeze({
    sql,
    params: Object.freeze(c.params),
    groupSizes: Object.freeze(groupSizes),
    measures,
    live: null,
    optimistic: null,
  });
}

interface Parts {
  readonly c: Compiler;
  readonly groups: readonly string[];
  readonly groupSizes: readonly number[];
  readonly measures: readonly Measure[];
  readonly condition: string | null;
}

/**
 * The same aggregate over a live source, in one scan that also takes the census, judging each row
 * by the columns the statement reads (checking every column would cost a read of every column,
 * which a column store otherwise skips). GROUP BY columns are grouped by their text, decoded and
 * judged per group afterwards (local-aggregate.ts), so they cost nothing per row; WHERE and SUM
 * columns (a GROUP BY column the WHERE compares too: NULL would make the predicate unknown) are
 * checked per row, and a row out of domain in any of them passes the WHERE whatever the predicate
 * says, to be counted, and is left out of every measure.
 */
function liveAggregate(plan: QueryPlan, live: LiveSource, dialect: SqlDialect, p: Parts): CompiledAggregate {
  const summed = p.measures.flatMap((m) => (m.kind === 'sum' && m.column !== null ? [m.column] : []));
  const checked = [...new Set([...p.c.compared, ...summed])];
  const checks = checked.map((n) => inDomain(live.schema, n, dialect));
  const ok = checks.length === 0 ? null : `(${checks.join(' AND ')})`;
  const when = (expr: string): string => (ok === null ? expr : `CASE WHEN ${ok} THEN ${expr} END`);
  const outputs = p.measures.map((m) =>
    m.kind === 'count'
      ? ok === null
        ? 'COUNT(*)'
        : `COUNT(${when('1')})`
      : `SUM(${when(dialect.cast(p.c.ident(p.c.column(m.column).name), 'integer'))})`,
  );
  const census = ['COUNT(*)', ...checks.map((check) => `COUNT(CASE WHEN NOT ${check} THEN 1 END)`)];
  const groups = plan.groupBy.map((g) => dialect.cast(dialect.quoteIdent(g), 'text'));
  const where =
    p.condition === null ? '' : ok === null ? ` WHERE ${p.condition}` : ` WHERE (NOT ${ok} OR ${p.condition})`;
  const groupBy = groups.length === 0 ? '' : ` GROUP BY ${groups.join(', ')}`;
  const layout: LiveLayout = {
    groups: plan.groupBy.map((g) => {
      const col = live.schema.columns[g];
      return [g, col?.type === 'category' ? col.values : []] as const;
    }),
    checked,
  };
  return Object.freeze({
    sql: `SELECT ${[...groups, ...outputs, ...census].join(', ')} FROM ${live.from}${where}${groupBy}`,
    params: Object.freeze(p.c.params),
    groupSizes: Object.freeze([...p.groupSizes]),
    measures: p.measures,
    live: layout,
    optimistic: p.condition === null ? optimistic(live, dialect, groups, summed, groupBy) : null,
  });
}

function optimistic(
  live: LiveSource,
  dialect: SqlDialect,
  groups: readonly string[],
  summed: readonly string[],
  groupBy: string,
): OptimisticAggregate {
  const bounds = summed.map((name) => {
    const col = live.schema.columns[name];
    if (col?.type !== 'integer') throw new Error('optimistic aggregate: a summed column is not an integer column');
    return [name, col.min, col.max] as const;
  });
  const q = (name: string): string => dialect.quoteIdent(name);
  // SUM of the raw integer type is exact in both engines (BIGINT sums to NUMERIC or HUGEINT; a
  // smaller type to BIGINT, which an in-domain column cannot overflow below maxRows = 2^53 / 2^31).
  const outputs = ['COUNT(*)', ...summed.map((n) => `SUM(${q(n)})`)];
  const stats = summed.flatMap((n) => [`MIN(${q(n)})`, `MAX(${q(n)})`, `COUNT(${q(n)})`]);
  return Object.freeze({
    sql: `SELECT ${[...groups, ...outputs, ...stats].join(', ')} FROM ${live.from}${groupBy}`,
    summed: Object.freeze(bounds),
  });
}
