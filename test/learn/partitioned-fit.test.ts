/**
 * The claim federated fitting rests on: the sums of a Newton round over a partition of the rows
 * add up to the sums over all rows, so fitting with per-partition sums added (what agencies and
 * the coordinator will do) gives the pooled fit. Also: the Newton state survives a JSON
 * checkpoint bit for bit, and no table ever holds a non-finite number.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { codeModel } from '../../src/learn/design.js';
import { parseFormula } from '../../src/learn/formula.js';
import type { GlmTable } from '../../src/learn/inference.js';
import { inferenceTable } from '../../src/learn/inference.js';
import { newtonOptions, newtonRound, startNewton } from '../../src/learn/newton.js';
import type { NewtonState } from '../../src/learn/newton.js';
import { encodeRows, fitPooled, fitWithSums, sumsOfRows } from '../../src/learn/pooled-fit.js';
import type { GlmFit } from '../../src/learn/pooled-fit.js';
import { addSums, emptySums } from '../../src/learn/sums.js';
import { fitScenarioArb, runs } from './arbitraries.js';
import type { FitScenario } from './arbitraries.js';

function codingOf(s: FitScenario) {
  return codeModel(parseFormula(s.formula, s.schema, 'd'), s.schema, s.family, 'd');
}

/** The fit, or the FedstatError it ends in. */
function attempt(fn: () => GlmFit): GlmFit | FedstatError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FedstatError) return e;
    throw e;
  }
}

function allFinite(t: GlmTable): boolean {
  const numbers = [
    t.deviance,
    t.nullDeviance,
    t.aic,
    t.dispersion,
    ...t.covariance,
    ...t.terms.flatMap((r) => [r.estimate, r.stderr, r.z, r.p, ...r.ci95]),
  ];
  return numbers.every(Number.isFinite) && t.terms.every((r) => r.stderr > 0 && r.p >= 0 && r.p <= 1);
}

/** |a - b| within `rel` of the larger magnitude, or of `scale` for numbers near 0. */
function close(a: number, b: number, rel: number, scale = 0): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), scale);
}

describe('fitting from per-partition sums equals the pooled fit', () => {
  it('coefficients, standard errors and deviances agree to 1e-9 relative (or both fits refuse alike)', () => {
    let fitted = 0;
    fc.assert(
      fc.property(fitScenarioArb, (s) => {
        const coding = codingOf(s);
        const options = { ridge: s.ridge, tolerance: 1e-10 };
        const pooled = attempt(() => fitPooled(s.rows, coding, options));
        const parts = Array.from({ length: s.parts }, (_, p) =>
          encodeRows(
            coding,
            s.rows.filter((_, i) => s.partition[i] === p),
          ),
        );
        const federated = attempt(() =>
          fitWithSums(
            coding,
            (beta) =>
              parts.map((rows) => sumsOfRows(coding, rows, beta)).reduce(addSums, emptySums(coding.columns.length)),
            options,
          ),
        );
        if (pooled instanceof FedstatError || federated instanceof FedstatError) {
          expect(federated instanceof FedstatError && pooled instanceof FedstatError).toBe(true);
          expect((federated as FedstatError).code).toBe((pooled as FedstatError).code);
          expect((federated as FedstatError).message).toBe((pooled as FedstatError).message);
          return;
        }
        fitted++;
        expect(allFinite(pooled.table)).toBe(true);
        expect(federated.table.terms.map((r) => r.term)).toEqual(pooled.table.terms.map((r) => r.term));
        pooled.table.terms.forEach((p, j) => {
          const f = federated.table.terms[j]!;
          expect(
            close(f.estimate, p.estimate, 1e-9, p.stderr),
            `${p.term} estimate ${f.estimate} vs ${p.estimate}`,
          ).toBe(true);
          expect(close(f.stderr, p.stderr, 1e-9), `${p.term} stderr ${f.stderr} vs ${p.stderr}`).toBe(true);
        });
        expect(close(federated.table.deviance, pooled.table.deviance, 1e-9, 1e-9)).toBe(true);
        expect(close(federated.table.nullDeviance, pooled.table.nullDeviance, 1e-9)).toBe(true);
        expect(federated.table.n).toBe(pooled.table.n);
      }),
      { numRuns: runs(40) },
    );
    expect(fitted).toBeGreaterThan(0);
  });
});

describe('a checkpointed fit', () => {
  it('resumed from its JSON state after every round is bit-identical to an uninterrupted fit', () => {
    fc.assert(
      fc.property(fitScenarioArb, (s) => {
        const coding = codingOf(s);
        const options = newtonOptions({ ridge: s.ridge });
        const rows = encodeRows(coding, s.rows);
        const straight = attempt(() => fitPooled(s.rows, coding, options));
        const resumed = attempt(() => {
          let state: NewtonState = startNewton(coding);
          let sums = sumsOfRows(coding, rows, state.beta);
          for (;;) {
            state = JSON.parse(JSON.stringify(newtonRound(state, sums, coding, options))) as NewtonState;
            if (state.phase === 'done') break;
            sums = sumsOfRows(coding, rows, state.beta);
          }
          return { table: inferenceTable(coding, state, sums, options.ridge), state };
        });
        if (straight instanceof FedstatError) {
          expect(resumed).toBeInstanceOf(FedstatError);
          return;
        }
        expect(resumed).not.toBeInstanceOf(FedstatError);
        expect((resumed as GlmFit).table).toEqual(straight.table);
      }),
      { numRuns: runs(15) },
    );
  });
});
