/**
 * A WHERE clause on its own, for statements other than an aggregate plan's (a GLM round's sums, a
 * record scan). It is compiled by compile-sql.ts, the only place fedstat turns a predicate into
 * SQL, as the WHERE of a COUNT(*) plan and cut out of that statement, so every check and every
 * bound parameter stays compile-sql's.
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { Predicate } from '../query/plan.js';
import { compileAggregate } from './compile-sql.js';
import type { SqlDialect } from './sql-dialect.js';

/** A compiled WHERE clause: ` WHERE …` (empty for no predicate) and its parameters. */
export interface CompiledWhere {
  /** Empty, or ` WHERE <condition>` with placeholders `$1..$n`. */
  readonly text: string;
  /** Bound in order to `$1..$n`: category codes and integer literals. */
  readonly params: readonly number[];
}

/**
 * `where` over `dataset` as a WHERE clause whose placeholders start at `$1`; QUERY_INVALID (from
 * compile-sql.ts) when the predicate does not fit `schema`.
 */
export function compileWhere(
  dataset: string,
  schema: DatasetSchema,
  dialect: SqlDialect,
  where: Predicate | null,
): CompiledWhere {
  if (where === null) return { text: '', params: [] };
  const compiled = compileAggregate(
    { dataset, groupBy: [], select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }], where },
    schema,
    dialect,
  );
  const head = `SELECT COUNT(*) FROM ${dialect.table(dataset)} WHERE `;
  if (!compiled.sql.startsWith(head)) throw new Error('compileWhere: compile-sql changed its COUNT(*) shape');
  // Compiled over a stored table, a predicate binds only codes and integers.
  const params = compiled.params.map((p) => {
    if (typeof p !== 'number') throw new Error('compileWhere: a stored-table predicate bound text');
    return p;
  });
  return { text: ` WHERE ${compiled.sql.slice(head.length)}`, params };
}
