/**
 * Fits that cannot give a table are refused with the term to blame, never a table with NaN: a
 * category level with no rows, collinear terms, separation, Poisson divergence, a constant
 * response, a perfect gaussian fit.
 */
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import type { GlmTable } from '../../src/learn/inference.js';
import { NEWTON_DEFAULTS, newtonOptions } from '../../src/learn/newton.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import type { FitOptions } from '../../src/learn/pooled-fit.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { prng } from './arbitraries.js';

const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      d: {
        columns: {
          g: { type: 'category', values: ['G1', 'G2', 'G3'] },
          h: { type: 'category', values: ['H1', 'H2'] },
          x: { type: 'integer', min: -10, max: 30 },
          z: { type: 'integer', min: 0, max: 8 },
          ev: { type: 'integer', min: 0, max: 1 },
          count: { type: 'integer', min: 0, max: 1000 },
          y: { type: 'integer', min: -1000, max: 1000 },
        },
      },
    },
  },
  'd.json',
).datasets['d'] as DatasetSchema;

function fit(formula: string, family: FamilyName, rows: readonly DataRecord[], options: FitOptions = {}): GlmTable {
  return fitPooled(rows, codeModel(parseFormula(formula, SCHEMA, 'd'), SCHEMA, family, 'd'), options).table;
}

/** n rows with g, h, x, z uniform, ev a coin with P(1) rising in x, count Poisson-ish, y linear plus noise. */
function rows(n: number, seed = 1, edit: (r: Record<string, string | number>) => void = () => {}): DataRecord[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => {
    const x = -10 + Math.floor(rand() * 41);
    const r: Record<string, string | number> = {
      g: ['G1', 'G2', 'G3'][Math.floor(rand() * 3)] as string,
      h: rand() < 0.5 ? 'H1' : 'H2',
      x,
      z: Math.floor(rand() * 9),
      ev: rand() < 1 / (1 + Math.exp(-x / 15)) ? 1 : 0,
      count: Math.floor(rand() * 8),
      y: Math.round(3 * x + 20 * (rand() - 0.5)),
    };
    edit(r);
    return r;
  });
}

function refuses(fn: () => unknown, reason: string, pattern: RegExp) {
  const e = fedstatErrorOf(fn);
  expect(e.code).toBe('QUERY_INVALID');
  expect(e.details['reason']).toBe(reason);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/NaN|undefined/);
  return e;
}

function finite(t: GlmTable): boolean {
  return [
    t.deviance,
    t.nullDeviance,
    t.aic,
    ...t.terms.flatMap((r) => [r.estimate, r.stderr, r.z, r.p, ...r.ci95]),
  ].every(Number.isFinite);
}

describe('a singular information matrix names the term', () => {
  it('a category level with no rows', () => {
    const data = rows(200, 1, (r) => {
      if (r['g'] === 'G3') r['g'] = 'G2';
    });
    refuses(
      () => fit('y ~ g + x', 'gaussian', data),
      'no-rows',
      /the coefficient gG3 \(term g\) cannot be estimated: no row has g = G3; drop the term g or merge its levels/,
    );
  });

  it('a combination of levels with no rows, in an interaction', () => {
    const data = rows(300, 2, (r) => {
      if (r['g'] === 'G3' && r['h'] === 'H2') r['h'] = 'H1';
    });
    refuses(
      () => fit('ev ~ g + h + g:h', 'binomial', data),
      'no-rows',
      /gG3:hH2 \(term g:h\) cannot be estimated: no row has g = G3 and h = H2/,
    );
  });

  it('a term that is a linear combination of others, with the terms it depends on', () => {
    // z = (x + 10) / 5 exactly, so z's centred column equals x's.
    const data = rows(200, 3, (r) => {
      r['x'] = -10 + 5 * Math.floor(Number(r['z']));
    });
    const e = refuses(
      () => fit('y ~ x + z', 'gaussian', data),
      'collinear',
      /the coefficient z \(term z\) is a linear combination of x on these rows; drop the term z/,
    );
    expect(e.details['dependsOn']).toEqual(['x']);
  });

  it('a ridge penalty resolves collinearity, but not a level with no rows', () => {
    const data = rows(200, 3, (r) => {
      r['x'] = -10 + 5 * Math.floor(Number(r['z']));
    });
    expect(finite(fit('y ~ x + z', 'gaussian', data, { ridge: 1 }))).toBe(true);
    const none = rows(200, 1, (r) => {
      if (r['g'] === 'G3') r['g'] = 'G1';
    });
    refuses(() => fit('y ~ g', 'gaussian', none, { ridge: 1 }), 'no-rows', /no row has g = G3/);
  });
});

describe('separation and divergence name the term', () => {
  it('complete separation (binomial): the outcome is a step in x', () => {
    const data = rows(200, 4, (r) => {
      r['ev'] = Number(r['x']) > 10 ? 1 : 0;
    });
    refuses(
      () => fit('ev ~ x + h', 'binomial', data),
      'separation',
      /complete separation: the terms predict every outcome exactly.*along x \(term x\)/,
    );
  });

  it('quasi-complete separation (binomial): a level where no row is an event', () => {
    const data = rows(400, 5, (r) => {
      if (r['g'] === 'G3') r['ev'] = 0;
    });
    const e = refuses(
      () => fit('ev ~ g + x', 'binomial', data),
      'separation',
      /quasi-complete separation: some fitted probabilities are 0 or 1.*it runs along gG3 \(term g\); drop or merge g, or fit with a ridge penalty/,
    );
    expect(e.details['terms']).toEqual(['g']);
  });

  it('a ridge penalty gives a finite fit where the data separate', () => {
    const data = rows(400, 5, (r) => {
      if (r['g'] === 'G3') r['ev'] = 0;
    });
    const t = fit('ev ~ g + x', 'binomial', data, { ridge: 1 });
    expect(finite(t)).toBe(true);
    expect(t.converged).toBe(true);
  });

  it('poisson divergence: a level whose counts are all 0', () => {
    const data = rows(300, 6, (r) => {
      if (r['g'] === 'G2') r['count'] = 0;
    });
    refuses(
      () => fit('count ~ g + x', 'poisson', data),
      'divergence',
      /the fit diverges: the fitted means of some rows go to 0.*along gG2 \(term g\)/,
    );
  });
});

describe('responses that leave nothing to fit', () => {
  it('a binomial response with one outcome, a poisson response of zeros', () => {
    refuses(
      () =>
        fit(
          'ev ~ x',
          'binomial',
          rows(50, 7, (r) => (r['ev'] = 1)),
        ),
      'constant-response',
      /every row has the response ev = event/,
    );
    refuses(
      () =>
        fit(
          'ev ~ x',
          'binomial',
          rows(50, 7, (r) => (r['ev'] = 0)),
        ),
      'constant-response',
      /every row has the response ev = non-event/,
    );
    refuses(
      () =>
        fit(
          'count ~ x',
          'poisson',
          rows(50, 7, (r) => (r['count'] = 0)),
        ),
      'constant-response',
      /every row has the count count = 0/,
    );
  });

  it('a perfect gaussian fit, fewer rows than coefficients, no rows at all', () => {
    refuses(
      () =>
        fit(
          'y ~ x',
          'gaussian',
          rows(50, 8, (r) => (r['y'] = 2 * Number(r['x']))),
        ),
      'perfect-fit',
      /a perfect fit/,
    );
    refuses(
      () => fit('y ~ x + z', 'gaussian', rows(3, 8)),
      'too-few-rows',
      /3 rows cannot estimate 3 coefficients and a variance/,
    );
    refuses(() => fit('y ~ x', 'gaussian', []), 'no-rows', /there are no rows to fit/);
  });
});

describe('a fit that runs out of rounds', () => {
  it('reports converged: false with a warning, and finite numbers', () => {
    const t = fit('ev ~ g + x + h', 'binomial', rows(300, 9), { maxRounds: 3, tolerance: 1e-12 });
    expect(t.converged).toBe(false);
    expect(t.warnings.join()).toMatch(/did not converge in 3 rounds/);
    expect(finite(t)).toBe(true);
  });
});

describe('newtonOptions', () => {
  it('fills in R’s defaults and refuses bad values by name', () => {
    expect(newtonOptions()).toEqual(NEWTON_DEFAULTS);
    expect(NEWTON_DEFAULTS).toEqual({ ridge: 0, tolerance: 1e-8, maxRounds: 30 });
    expect(newtonOptions({ ridge: 2 }).ridge).toBe(2);
    expect(() => newtonOptions({ ridge: -1 })).toThrow(/ridge must be a finite number ≥ 0/);
    expect(() => newtonOptions({ tolerance: 0 })).toThrow(/tolerance must be in \(0, 1\)/);
    expect(() => newtonOptions({ maxRounds: 2 })).toThrow(/maxRounds must be an integer ≥ 3/);
  });
});
