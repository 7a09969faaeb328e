/**
 * Known-answer vectors (test/vectors/glm/, made by make_vectors.py with statsmodels, numpy and
 * scipy): every family, offsets, interactions, no intercept and ridge, to 1e-6 relative.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { normalTwoSidedP, studentTwoSidedP } from '../../src/learn/distributions.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';

interface Expected {
  coefficients: Record<string, { estimate: number; stderr: number; z: number; p: number }>;
  deviance: number;
  nullDeviance: number;
  aic: number;
  dfResidual: number;
  dispersion: number;
  n: number;
}
interface VectorFile {
  source: string;
  schema: unknown;
  rows: DataRecord[];
  cases: { name: string; family: FamilyName; formula: string; ridge?: number; expected: Expected }[];
}

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../vectors/glm/${name}.json`, import.meta.url), 'utf8')) as T;

/** Relative agreement; p-values that underflowed to 0 in double precision on both sides count as equal. */
function expectClose(actual: number, expected: number, rel: number, what: string): void {
  const ok = Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), Number.MIN_VALUE);
  expect(ok, `${what}: ${actual} vs ${expected}`).toBe(true);
}

describe.each(['insurance', 'arrivals'])('known-answer fits: %s', (file) => {
  const v = load<VectorFile>(file);
  const schema = parseSchema({ datasets: { [file]: v.schema } }, `${file}.json`).datasets[file] as DatasetSchema;

  it.each(v.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const coding = codeModel(parseFormula(c.formula, schema, file), schema, c.family, file);
    const { table } = fitPooled(v.rows, coding, { ridge: c.ridge ?? 0, tolerance: 1e-12 });
    expect(table.converged).toBe(true);
    expect(table.terms.map((t) => t.term).sort()).toEqual(Object.keys(c.expected.coefficients).sort());
    for (const t of table.terms) {
      const e = c.expected.coefficients[t.term]!;
      expectClose(t.estimate, e.estimate, 1e-6, `${t.term} estimate`);
      expectClose(t.stderr, e.stderr, 1e-6, `${t.term} stderr`);
      expectClose(t.z, e.z, 1e-6, `${t.term} ${table.statistic}`);
      expectClose(t.p, e.p, 1e-6, `${t.term} p`);
      expectClose(t.ci95[0], e.estimate - 1.959963984540054 * e.stderr, 1e-6, `${t.term} ci95 low`);
    }
    expectClose(table.deviance, c.expected.deviance, 1e-6, 'deviance');
    expectClose(table.nullDeviance, c.expected.nullDeviance, 1e-6, 'null deviance');
    expectClose(table.aic, c.expected.aic, 1e-6, 'AIC');
    expectClose(table.dispersion, c.expected.dispersion, 1e-6, 'dispersion');
    expect(table.dfResidual).toBe(c.expected.dfResidual);
    expect(table.n).toBe(c.expected.n);
  });
});

describe('p-values against scipy', () => {
  const v = load<{ normal: { z: number; p: number }[]; t: { t: number; df: number; p: number }[] }>('distributions');

  it.each(v.normal.map((x) => [x.z, x.p]))('normal, z = %d', (z, p) => {
    expectClose(normalTwoSidedP(z), p, 1e-12, 'p');
    expectClose(normalTwoSidedP(-z), p, 1e-12, 'p (negative z)');
  });

  it.each(v.t.map((x) => [x.t, x.df, x.p]))('Student t, t = %d on %d df', (t, df, p) => {
    expectClose(studentTwoSidedP(t, df), p, 1e-9, 'p');
  });
});
