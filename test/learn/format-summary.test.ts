import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { formatP, formatSummary, stars } from '../../src/learn/format-summary.js';
import { displayWidth } from '../../src/util/display-width.js';
import { parseFormula } from '../../src/learn/formula.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';

const v = JSON.parse(readFileSync(new URL('../vectors/glm/insurance.json', import.meta.url), 'utf8')) as {
  schema: unknown;
  rows: DataRecord[];
};
const schema = parseSchema({ datasets: { si: v.schema } }, 'si.json').datasets['si'] as DatasetSchema;
const summary = (formula: string, family: FamilyName, ridge = 0) =>
  formatSummary(
    fitPooled(v.rows, codeModel(parseFormula(formula, schema, 'si'), schema, family, 'si'), { ridge }).table,
  );

describe('formatSummary', () => {
  it('reads like R’s summary(glm()), with the reference levels named', () => {
    const text = summary("insured == '是' ~ age + sex + sector + monthly_income", 'binomial');
    expect(text).toContain("Formula: insured == '是' ~ age + sex + sector + monthly_income");
    expect(text).toContain('Family: binomial (link: logit)');
    expect(text).toContain('Reference levels: sex = 男, sector = 制造业');
    expect(text).toMatch(/^ +Estimate Std\. Error z value Pr\(>\|z\|\)/m);
    expect(text).toMatch(/^sex女 +0\.475\d+ +0\.178\d+ +2\.670 +0\.0076 \*\*$/m);
    expect(text).toContain('(Dispersion parameter for binomial family taken to be 1)');
    expect(text).toContain('    Null deviance: 785.25  on 599 degrees of freedom');
    expect(text).toContain('Residual deviance: 743.59  on 593 degrees of freedom');
    expect(text).toContain('AIC: 757.59');
    expect(text).toMatch(/Number of rounds: \d+\n$/);
    expect(text).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('lines the columns up in a terminal, Chinese labels counting two cells', () => {
    const text = summary('score ~ age + sex + sector + months', 'gaussian');
    const block = text.split('\n').filter((l) => /^(\s+Estimate|\(Intercept\)|age|sex|sector|months)/.test(l));
    // The p-value column ends at the same cell on every line (before the stars).
    const ends = block.map((l) => displayWidth(l.replace(/ [*.]*\s*$/, '').replace(/\s+$/, '')));
    expect(new Set(ends).size).toBe(1);
    expect(text).toMatch(/t value Pr\(>\|t\|\)/);
    expect(text).toMatch(/\(Dispersion parameter for gaussian family estimated at 2992\.8\)/);
    expect(text).toMatch(/^months .* < 2e-16 \*\*\*$/m);
  });

  it('states the ridge penalty', () => {
    expect(summary('score ~ age + sex', 'gaussian', 50)).toContain('Ridge penalty: λ = 50 on the internal scale');
  });

  it('formats p-values and stars as R does', () => {
    expect([1e-300, 1.5e-10, 3.75e-5, 0.000527, 0.0871, 0.5].map(formatP)).toEqual([
      '< 2e-16',
      '1.50e-10',
      '3.75e-05',
      '0.000527',
      '0.0871',
      '0.5',
    ]);
    expect([0.0001, 0.005, 0.02, 0.07, 0.5].map(stars)).toEqual(['***', '**', '*', '.', ' ']);
    expect(displayWidth('sector建筑业')).toBe(12);
  });
});
