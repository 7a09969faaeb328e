import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';
import { sumsOf } from '../../src/learn/pooled-fit.js';
import type { GlmSums } from '../../src/learn/sums.js';
import type { Predicate, QueryPlan } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { prng } from '../learn/arbitraries.js';
import { tempDir, writeCsv } from './helpers.js';

const dir = tempDir('store-glm-sums');
const DISTRICTS = ['锦江区', '青羊区', '金牛区'];
const SCHEMA: DatasetSchema = parseSchema(
  {
    datasets: {
      claims: {
        maxRows: 10_000,
        columns: {
          district: { type: 'category', values: DISTRICTS },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 18, max: 90 },
          visits: { type: 'integer', min: 0, max: 30 },
          exposure: { type: 'integer', min: 1, max: 12 },
          insured: { type: 'category', values: ['否', '是'] },
        },
      },
    },
  },
  'claims.json',
).datasets['claims'] as DatasetSchema;
const COLUMNS = Object.keys(SCHEMA.columns);

function records(n: number, seed: number): DataRecord[] {
  const rand = prng(seed);
  const pick = (xs: readonly string[]): string => xs[Math.floor(rand() * xs.length)] as string;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  return Array.from({ length: n }, () => ({
    district: pick(DISTRICTS),
    sex: pick(['男', '女']),
    age: int(18, 90),
    visits: rand() < 0.3 ? 0 : int(0, 30),
    exposure: int(1, 12),
    insured: pick(['否', '是']),
  }));
}

function csv(rows: readonly DataRecord[]): string {
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => String(r[c])).join(','))].join('\n') + '\n';
}

function code(formula: string, family: FamilyName, schema = SCHEMA): ModelCoding {
  return codeModel(parseFormula(formula, schema, 'claims'), schema, family, 'claims');
}

/** Entry by entry within 1e-9 relative (entries near zero: relative to the array's largest). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i] as number, expected[i] as number];
    if (!(Math.abs(a - e) <= 1e-9 * Math.max(Math.abs(e), scale * 1e-3)))
      expect.fail(`${what}[${i}]: store ${a}, JavaScript ${e}`);
  }
}

function expectSums(actual: GlmSums, expected: GlmSums): void {
  expect(actual.n).toBe(expected.n);
  expectClose(actual.gradient, expected.gradient, 'gradient');
  expectClose(actual.information, expected.information, 'information');
  expectClose([actual.deviance], [expected.deviance], 'deviance');
  expectClose([actual.saturated], [expected.saturated], 'saturated');
}

const MODELS: readonly (readonly [FamilyName, string])[] = [
  ['binomial', "insured == '是' ~ district + age + sex + age:sex"],
  ['poisson', 'visits ~ district + sex + age + offset(log(exposure))'],
];

const countPlan: QueryPlan = {
  dataset: 'claims',
  groupBy: [],
  select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }],
  where: null,
};

describe('AgencyStore.glmSums (DuckDB)', () => {
  it('equals sumsOf over the records of the loaded CSV file, for binomial and poisson at random β', async () => {
    const rows = records(700, 13);
    await using store = await openDuckDbStore(':memory:');
    const report = await store.loadCsv('claims', SCHEMA, writeCsv(dir, csv(rows)));
    expect(report.rowsLoaded).toBe(rows.length);
    const rand = prng(99);
    for (const [family, formula] of MODELS) {
      const coding = code(formula, family);
      for (let k = 0; k < 3; k++) {
        const beta = coding.columns.map(() => (rand() - 0.5) * (family === 'poisson' ? 0.4 : 2));
        const got = await store.glmSums(coding, SCHEMA, beta, null);
        expect(got.n).toBe(rows.length);
        expectSums(got, sumsOf(coding, rows, beta));
      }
    }
  });

  it('sums only the rows the WHERE predicate keeps', async () => {
    const rows = records(400, 5);
    await using store = await openDuckDbStore(':memory:');
    await store.loadCsv('claims', SCHEMA, writeCsv(dir, csv(rows)));
    const where: Predicate = {
      kind: 'and',
      args: [
        { kind: 'in', column: 'district', values: ['锦江区', '金牛区'] },
        { kind: 'between', column: 'age', low: 30, high: 70 },
      ],
    };
    const kept = rows.filter(
      (r) => r['district'] !== '青羊区' && (r['age'] as number) >= 30 && (r['age'] as number) <= 70,
    );
    expect(kept.length).toBeGreaterThan(50);
    const rand = prng(3);
    for (const [family, formula] of MODELS) {
      const coding = code(formula, family);
      const beta = coding.columns.map(() => (rand() - 0.5) * 0.4);
      expectSums(await store.glmSums(coding, SCHEMA, beta, where), sumsOf(coding, kept, beta));
    }
  });

  it('NOT_FOUND, as aggregate() says it, when the dataset is not loaded', async () => {
    await using store = await openDuckDbStore(':memory:');
    const coding = code(MODELS[0]![1], 'binomial');
    const beta = coding.columns.map(() => 0.1);
    const expected = await store.aggregate(countPlan, SCHEMA).catch((e: unknown) => e);
    expect(expected).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/claims is not loaded/) });
    const got = await store.glmSums(coding, SCHEMA, beta, null).catch((e: unknown) => e);
    expect(got).toMatchObject({ code: 'NOT_FOUND', message: (expected as Error).message });
  });

  it('the error aggregate() gives when the dataset was loaded under a different schema', async () => {
    await using store = await openDuckDbStore(':memory:');
    await store.loadCsv('claims', SCHEMA, writeCsv(dir, csv(records(50, 1))));
    // The same values in another order would decode every stored code to the wrong district.
    const reordered: DatasetSchema = {
      ...SCHEMA,
      columns: { ...SCHEMA.columns, district: { type: 'category', values: [...DISTRICTS].reverse() } },
    };
    for (const other of [reordered, { ...SCHEMA, maxRows: 5 }]) {
      const expected = await store.aggregate(countPlan, other).catch((e: unknown) => e);
      expect(expected).toMatchObject({
        code: 'DATA_INVALID',
        message: expect.stringMatching(/loaded under a different schema/) as unknown,
      });
      for (const [family, formula] of MODELS) {
        const coding = code(formula, family, other);
        const got = await store
          .glmSums(
            coding,
            other,
            coding.columns.map(() => 0.1),
            null,
          )
          .catch((e: unknown) => e);
        expect(got).toMatchObject({ code: 'DATA_INVALID', message: (expected as Error).message });
      }
    }
    const coding = code(MODELS[1]![1], 'poisson');
    const good = await store.glmSums(
      coding,
      SCHEMA,
      coding.columns.map(() => 0.1),
      null,
    );
    expect(good.n).toBe(50);
  });
});
