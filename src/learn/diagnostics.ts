/**
 * The errors a fit can meet once the formula is valid, each naming the coefficient and the term
 * responsible, so the table never shows NaN or a meaningless number:
 *
 * - a column that is zero on every row (a category level with no rows; an integer variable that
 *   does not vary), seen at the first round;
 * - a column that is a linear combination of earlier ones (collinear terms), seen at the first
 *   round from the failed Cholesky pivot, with the columns it depends on;
 * - separation (binomial) or divergence (poisson): a coefficient that keeps growing by about the
 *   same step while the deviance stops changing, or a deviance that reaches 0.
 *
 * All are QUERY_INVALID: the model cannot be estimated from these rows, and the fix is the formula
 * (or a ridge penalty). Messages name columns and levels of the schema, never a record's values.
 */
import { FedstatError } from '../errors.js';
import type { CholeskyResult } from './cholesky.js';
import { dependency } from './cholesky.js';
import type { ModelCoding } from './design.js';

const RIDGE_FIX = 'or fit with a ridge penalty (--ridge 0.1)';

/** The term label of design column j. */
export function termOf(coding: ModelCoding, j: number): string {
  const c = coding.columns[j];
  if (c === undefined || c.term < 0) return '(Intercept)';
  return coding.terms[c.term]?.label ?? '(Intercept)';
}

/** `sex = 女 and sector = 建筑业` for a column's category levels (empty when it has none). */
function levelsOf(coding: ModelCoding, j: number): string {
  const c = coding.columns[j];
  const term = c === undefined ? undefined : coding.terms[c.term];
  if (c === undefined || term === undefined) return '';
  return term.factors
    .map((x, k) => (x.kind === 'category' ? `${x.column} = ${x.values[c.levels[k] ?? 0] ?? ''}` : null))
    .filter((s): s is string => s !== null)
    .join(' and ');
}

function integersOf(coding: ModelCoding, j: number): string[] {
  const c = coding.columns[j];
  const term = c === undefined ? undefined : coding.terms[c.term];
  return term === undefined ? [] : term.factors.filter((x) => x.kind === 'integer').map((x) => x.column);
}

function modelError(problem: string, fix: string, details: Record<string, unknown>): FedstatError {
  return new FedstatError('QUERY_INVALID', `${problem}; ${fix}`, { details });
}

/** The error for design column j being zero on every row. */
export function noRowsError(coding: ModelCoding, j: number): FedstatError {
  const name = coding.coefficients[j] ?? `#${j}`;
  const term = termOf(coding, j);
  const levels = levelsOf(coding, j);
  const ints = integersOf(coding, j);
  if (j === 0 && coding.intercept)
    return modelError('there are no rows to fit', 'check the dataset and the WHERE condition', {
      reason: 'no-rows',
      coefficient: name,
      term,
    });
  const why =
    levels !== ''
      ? `no row has ${levels}${ints.length > 0 ? ` (or ${ints.join(' and ')} is at the centre of its range on all of them)` : ''}`
      : `${ints.join(' and ')} does not vary: it is at the centre of its range on every row`;
  return modelError(
    `the coefficient ${name} (term ${term}) cannot be estimated: ${why}`,
    `drop the term ${term} or merge its levels, or select rows where it varies`,
    {
      reason: 'no-rows',
      coefficient: name,
      term,
    },
  );
}

/** The error for a failed factorisation of the information at the first round (no ridge). */
export function collinearError(
  coding: ModelCoding,
  failed: Extract<CholeskyResult, { ok: false }>,
  information: Float64Array,
): FedstatError {
  const j = failed.column;
  if (!(failed.diagonal > 0)) return noRowsError(coding, j);
  const z = dependency(failed, information);
  const scale = Math.max(...Array.from(z, Math.abs), 0);
  const on = Array.from(z, (v, k) => ({ v, k }))
    .filter(({ v }) => Math.abs(v) > 1e-6 * scale)
    .map(({ k }) => coding.coefficients[k] ?? `#${k}`);
  const name = coding.coefficients[j] ?? `#${j}`;
  const term = termOf(coding, j);
  const shown = on.length > 6 ? `${on.slice(0, 6).join(', ')}, …` : on.join(', ');
  return modelError(
    `the information matrix is singular: the coefficient ${name} (term ${term}) is a linear combination of ${shown === '' ? 'the columns before it' : shown} on these rows`,
    `drop the term ${term} (or one it depends on), ${RIDGE_FIX}`,
    { reason: 'collinear', coefficient: name, term, dependsOn: on },
  );
}

/**
 * The columns whose last three Newton steps have one sign, do not shrink (each at least half the
 * one before) and are not small, while the coefficient is already large: a coefficient running
 * to ±∞. `steps` are the accepted steps, oldest first, on the internal scale (|x| ≤ 1, so a step
 * of 1 moves η by up to 1).
 */
export function divergingColumns(steps: readonly (readonly number[])[], beta: readonly number[]): number[] {
  if (steps.length < 3) return [];
  const [s1, s2, s3] = steps.slice(-3) as [readonly number[], readonly number[], readonly number[]];
  const out: number[] = [];
  for (let j = 0; j < s3.length; j++) {
    const a = s1[j] ?? 0;
    const b = s2[j] ?? 0;
    const c = s3[j] ?? 0;
    const oneSign = (a > 0 && b > 0 && c > 0) || (a < 0 && b < 0 && c < 0);
    if (
      oneSign &&
      Math.abs(c) > 0.05 &&
      Math.abs(c) >= 0.5 * Math.abs(b) &&
      Math.abs(b) >= 0.5 * Math.abs(a) &&
      Math.abs(beta[j] ?? 0) >= 5
    )
      out.push(j);
  }
  return out;
}

/** The error for coefficients `js` running away: separation (binomial) or divergence (poisson). */
export function divergenceError(coding: ModelCoding, columns: readonly number[], complete: boolean): FedstatError {
  // The intercept runs along with any separating term; name it only when it runs alone.
  const terms0 = columns.filter((j) => !(coding.intercept && j === 0));
  const js = terms0.length > 0 ? terms0 : columns;
  const names = js.slice(0, 4).map((j) => coding.coefficients[j] ?? `#${j}`);
  const terms = [...new Set(js.map((j) => termOf(coding, j)))];
  const where =
    names.length === 0
      ? ''
      : `; it runs along ${names.join(', ')} (term${terms.length > 1 ? 's' : ''} ${terms.join(', ')})`;
  if (coding.family === 'binomial') {
    const kind = complete
      ? 'complete separation: the terms predict every outcome exactly'
      : 'quasi-complete separation: some fitted probabilities are 0 or 1';
    return modelError(
      `${kind}, so the maximum-likelihood estimate does not exist${where}`,
      `drop or merge ${terms.length > 0 ? terms.join(', ') : 'the separating terms'}, ${RIDGE_FIX}`,
      {
        reason: 'separation',
        coefficients: names,
        terms,
      },
    );
  }
  return modelError(
    `the fit diverges: the fitted means of some rows go to 0 (their counts are all 0)${where}`,
    `drop or merge ${terms.length > 0 ? terms.join(', ') : 'the terms concerned'}, ${RIDGE_FIX}`,
    { reason: 'divergence', coefficients: names, terms },
  );
}
