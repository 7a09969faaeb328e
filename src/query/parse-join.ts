/**
 * SQL to JoinPlan: linked-record queries over two datasets joined on their `id` columns. Accepts
 * exactly
 *
 *   SELECT … FROM a x [INNER] JOIN b y ON x.id = y.id [WHERE …] [GROUP BY …]            (inner join)
 *   SELECT … FROM a x WHERE NOT EXISTS (SELECT 1 FROM b y WHERE y.id = x.id) [AND …] [GROUP BY …]  (anti-join)
 *
 * and refuses every other join form with the one to write instead. The plan is passed through
 * validateJoinPlan, so the coordinator and the agencies check it by one and the same code.
 */
import { FedstatError } from '../errors.js';
import type { Schema } from '../federation/schema.js';
import { readJoinFrom } from './join-from.js';
import { validateJoinPlan } from './join-plan.js';
import type { JoinPlan, JoinSide, JoinSideName } from './join-plan.js';
import { joinTokens, refuseJoinTokens } from './join-refusals.js';
import type { JoinScope } from './join-scope.js';
import { readJoinGroupBy, readJoinSelect } from './join-select.js';
import { readJoinWhere } from './join-where.js';
import { checkStatement, refuseOperatorLookalikes } from './parse.js';
import type { Predicate } from './plan.js';
import { parseSqlStatements } from './sql-parser.js';
import { tokenize } from './sql-lexer.js';

const JOIN_SHAPE =
  'fedstat links records with SELECT … FROM a x JOIN b y ON x.id = y.id [WHERE …] [GROUP BY …], or counts unmatched records with FROM a x WHERE NOT EXISTS (SELECT 1 FROM b y WHERE y.id = x.id)';

/**
 * True when `sql` asks for linked records (a JOIN, a comma between datasets, EXISTS, ANTI/SEMI
 * JOIN, EXCEPT, NOT IN (SELECT …)): route it to parseJoinQuery, everything else to parseQuery.
 * Token-level; never throws for a string.
 */
export function isJoinQuery(sql: string): boolean {
  if (typeof sql !== 'string') throw new TypeError('isJoinQuery: sql must be a string');
  return joinTokens(tokenize(sql));
}

function side(scope: JoinScope, name: JoinSideName, id: string, where: Predicate | null): JoinSide {
  const s = scope.side(name);
  return { dataset: s.dataset, alias: s.alias, id, where };
}

/**
 * Parses a linked-record query into a validated, frozen JoinPlan.
 *
 * Throws FedstatError `QUERY_SYNTAX` (text does not parse), `QUERY_INVALID` (a join form fedstat
 * does not compute, an ambiguous or unknown column, a condition across both datasets, with the
 * position and the fix) or `NOT_FOUND` (unknown dataset, listing the valid ones).
 */
export function parseJoinQuery(sql: string, schema: Schema): JoinPlan {
  if (typeof sql !== 'string') throw new TypeError('parseJoinQuery: sql must be a string');
  const tokens = tokenize(sql);
  // Before parsing: some of these do not parse, others parse as a different (inner) join.
  refuseJoinTokens(sql, tokens);
  const statements = parseSqlStatements(sql);
  refuseOperatorLookalikes(sql, tokens);
  const stmt = checkStatement(sql, tokens, statements, JOIN_SHAPE);
  const { scope, ids, notExists } = readJoinFrom(sql, tokens, schema, stmt);
  const where = readJoinWhere(scope, stmt['where'], notExists);
  const groupBy = readJoinGroupBy(scope, stmt);
  const select = readJoinSelect(scope, stmt, groupBy);
  const plan: JoinPlan = {
    kind: 'join',
    join: scope.kind,
    left: side(scope, 'left', ids.left, where.left),
    right: side(scope, 'right', ids.right, where.right),
    groupBy,
    select,
  };
  try {
    return validateJoinPlan(plan, schema);
  } catch (e) {
    // The parser checked everything above; a structural refusal here is our bug, not the user's.
    if (e instanceof FedstatError && e.code === 'BAD_MESSAGE') {
      throw new FedstatError(
        'INTERNAL',
        `parseJoinQuery built a plan that validateJoinPlan refuses (${e.message}); please report this query`,
        { cause: e },
      );
    }
    throw e;
  }
}
