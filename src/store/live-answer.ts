/**
 * A live source's answer to one plan, whatever engine runs the statements: the optimistic plain
 * aggregate first where the plan has one (clean data answers from it), else the checked statement,
 * whose census is refused or reported as the dataset says; either way the rows counted are checked
 * against the schema's maxRows. Both stores call this with a `run` that executes one compiled
 * statement (the PostgreSQL store inside one read-only snapshot).
 */
import type { DatasetSchema } from '../federation/schema.js';
import type { CompiledAggregate } from './compile-sql.js';
import { applyCensus, type InvalidRowsReport, type OnInvalidRows } from './invalid-rows.js';
import { cleanAnswer, liveCensus, toLocalAggregate } from './local-aggregate.js';
import { checkMaxRows } from './max-rows.js';
import type { LocalAggregate } from './store.js';

/** Runs one statement with its parameters and returns its rows as arrays of cells. */
export type RunStatement = (
  sql: string,
  params: readonly (number | string)[],
) => Promise<readonly (readonly unknown[])[]>;

/** How the dataset treats out-of-domain rows, and who hears of the skipped ones. */
export interface LiveRules {
  readonly onInvalid: OnInvalidRows;
  readonly report: InvalidRowsReport | undefined;
}

export async function answerLive(
  dataset: string,
  schema: DatasetSchema,
  compiled: CompiledAggregate,
  run: RunStatement,
  rules: LiveRules,
): Promise<LocalAggregate> {
  if (compiled.optimistic !== null) {
    const clean = cleanAnswer(await run(compiled.optimistic.sql, []), compiled);
    if (clean !== null) {
      checkMaxRows(dataset, schema, clean);
      return clean;
    }
  }
  const rows = await run(compiled.sql, compiled.params);
  applyCensus(liveCensus(dataset, rows, compiled), rules.onInvalid, rules.report);
  const local = toLocalAggregate(rows, compiled);
  checkMaxRows(dataset, schema, local);
  return local;
}
