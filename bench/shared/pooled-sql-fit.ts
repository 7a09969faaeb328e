/**
 * The single-process baseline of the `train` benchmark: the pooled-data fit, with each round's
 * sums computed by DuckDB on one table holding every agency's rows (store/glm-sums.ts, the SQL an
 * agency runs) and the same Newton rounds and inference table as learn/pooled-fit.ts'
 * `fitWithSums`. That function takes a synchronous source of sums and DuckDB answers
 * asynchronously, so its loop is repeated here with an await, line for line.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetSchema } from '../../src/federation/schema.js';
import type { ModelCoding } from '../../src/learn/design.js';
import { inferenceTable, type GlmTable } from '../../src/learn/inference.js';
import { newtonOptions, newtonRound, startNewton } from '../../src/learn/newton.js';
import type { GlmSums } from '../../src/learn/sums.js';
import { compileGlmSums, duckDbGlmSums } from '../../src/store/glm-sums.js';
import { DUCKDB_DIALECT } from '../../src/store/sql-dialect.js';

/** A pooled fit: its table, and the wall time of each round (sums and Newton step) and of the whole fit. */
export interface PooledFit {
  readonly table: GlmTable;
  readonly roundMs: readonly number[];
  readonly ms: number;
}

/** Fits `coding` to the table named `coding.dataset` on `conn` (see the file comment). */
export async function pooledSqlFit(
  conn: DuckDBConnection,
  coding: ModelCoding,
  schema: DatasetSchema,
  maxRounds?: number,
): Promise<PooledFit> {
  const t0 = performance.now();
  const newton = newtonOptions(maxRounds === undefined ? {} : { maxRounds });
  const roundMs: number[] = [];
  let t = t0;
  const sumsAt = (beta: readonly number[]): Promise<GlmSums> =>
    duckDbGlmSums(conn, compileGlmSums(coding, schema, beta, DUCKDB_DIALECT));
  let state = startNewton(coding);
  let sums = await sumsAt(state.beta);
  for (;;) {
    state = newtonRound(state, sums, coding, newton);
    roundMs.push(performance.now() - t);
    t = performance.now();
    if (state.phase === 'done') break;
    sums = await sumsAt(state.beta);
  }
  const table = inferenceTable(coding, state, sums, newton.ridge);
  return { table, roundMs, ms: performance.now() - t0 };
}

/** The largest relative difference between two fits' estimates and between their standard errors. */
export function maxRelativeDifference(
  a: Pick<GlmTable, 'terms'>,
  b: Pick<GlmTable, 'terms'>,
): { estimate: number; stderr: number } {
  if (a.terms.length !== b.terms.length || a.terms.some((t, j) => t.term !== b.terms[j]?.term))
    throw new Error('the two fits have different terms');
  const rel = (x: number, y: number): number => (x === y ? 0 : Math.abs(x - y) / Math.max(Math.abs(y), 1e-300));
  let estimate = 0;
  let stderr = 0;
  a.terms.forEach((t, j) => {
    const u = b.terms[j];
    if (u === undefined) return;
    estimate = Math.max(estimate, rel(t.estimate, u.estimate));
    stderr = Math.max(stderr, rel(t.stderr, u.stderr));
  });
  return { estimate, stderr };
}
