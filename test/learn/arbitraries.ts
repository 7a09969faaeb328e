/**
 * Generators for the learn/ tests: random dataset schemas, formulas over them, and data drawn from
 * a model (so fits usually exist), split into random partitions as agencies would hold them.
 * Data come from a small seeded PRNG driven by a fast-check seed, so failures replay.
 */
import fc from 'fast-check';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import type { FamilyName } from '../../src/learn/family.js';
import type { DataRecord } from '../../src/learn/design-row.js';

/** fast-check runs: small by default (the whole test/learn run stays fast); FEDSTAT_LEARN_RUNS for the long form. */
export function runs(defaultRuns: number): number {
  const env = Number(process.env['FEDSTAT_LEARN_RUNS']);
  return Number.isSafeInteger(env) && env > 0 ? env : defaultRuns;
}

/** mulberry32: a tiny deterministic PRNG for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function below(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

function poisson(rand: () => number, lambda: number): number {
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal(rand)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A random fitting problem: schema, formula, family, rows and each row's partition. */
export interface FitScenario {
  readonly schema: DatasetSchema;
  readonly formula: string;
  readonly family: FamilyName;
  readonly rows: readonly DataRecord[];
  readonly partition: readonly number[];
  readonly parts: number;
  readonly ridge: number;
}

type Predictor =
  { name: string; type: 'category'; values: string[] } | { name: string; type: 'integer'; min: number; max: number };

const LEVELS = ['锦江区', '青羊区', '金牛区', '武侯区', 'a', "it's", 'B 2', '制造业'];

function predictors(rand: () => number): Predictor[] {
  const k = 1 + below(rand, 3);
  return Array.from({ length: k }, (_, i): Predictor => {
    if (rand() < 0.5) {
      const n = 2 + below(rand, 3);
      const start = below(rand, LEVELS.length - n + 1);
      return { name: `v${i}`, type: 'category', values: LEVELS.slice(start, start + n) };
    }
    const min = below(rand, 41) - 20;
    return { name: `v${i}`, type: 'integer', min, max: min + 2 + below(rand, 100) };
  });
}

function responseColumn(family: FamilyName, rand: () => number): Record<string, unknown> {
  if (family === 'binomial')
    return rand() < 0.5 ? { type: 'category', values: ['否', '是'] } : { type: 'integer', min: 0, max: 1 };
  if (family === 'poisson') return { type: 'integer', min: 0, max: 400 };
  return { type: 'integer', min: -300, max: 300 };
}

/** The formula: main effects (at least one), maybe one interaction, maybe no intercept or an offset. */
function formulaOf(preds: readonly Predictor[], offset: boolean, rand: () => number): string {
  const terms = preds.filter(() => rand() < 0.8).map((p) => p.name);
  if (terms.length === 0) terms.push((preds[0] as Predictor).name);
  if (preds.length >= 2 && rand() < 0.4) terms.push(`${(preds[1] as Predictor).name}:${(preds[0] as Predictor).name}`);
  if (offset) terms.push('offset(log(expo))');
  return `resp ~ ${terms.join(' + ')}${rand() < 0.15 ? ' - 1' : ''}`;
}

/** Rows drawn from a random model of the predictors (scaled to [-1, 1]), response by family. */
function rowsOf(
  preds: readonly Predictor[],
  family: FamilyName,
  respIsCategory: boolean,
  offset: boolean,
  n: number,
  rand: () => number,
): DataRecord[] {
  const coef = preds.map(() => (rand() - 0.5) * 1.4);
  const b0 = family === 'poisson' ? 1.5 : (rand() - 0.5) * 0.6;
  return Array.from({ length: n }, () => {
    const rec: Record<string, string | number> = {};
    let eta = b0;
    preds.forEach((p, i) => {
      if (p.type === 'category') {
        const v = below(rand, p.values.length);
        rec[p.name] = p.values[v] as string;
        eta += (coef[i] as number) * (v / (p.values.length - 1));
      } else {
        const v = p.min + below(rand, p.max - p.min + 1);
        rec[p.name] = v;
        eta += (coef[i] as number) * ((2 * (v - p.min)) / (p.max - p.min) - 1);
      }
    });
    if (offset) {
      const e = 1 + below(rand, 500);
      rec['expo'] = e;
      eta += Math.log(e) - Math.log(250);
    }
    if (family === 'binomial') {
      const y = rand() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
      rec['resp'] = respIsCategory ? (y === 1 ? '是' : '否') : y;
    } else if (family === 'poisson') {
      rec['resp'] = Math.min(400, poisson(rand, Math.exp(eta)));
    } else {
      rec['resp'] = Math.max(-300, Math.min(300, Math.round(20 * eta + 8 * normal(rand))));
    }
    return rec;
  });
}

/** Random fitting problems (see FitScenario). */
export const fitScenarioArb: fc.Arbitrary<FitScenario> = fc
  .record({
    seed: fc.integer(),
    family: fc.constantFrom<FamilyName>('binomial', 'gaussian', 'poisson'),
    parts: fc.integer({ min: 1, max: 6 }),
    ridge: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(0.5, 3) }),
  })
  .map(({ seed, family, parts, ridge }) => {
    const rand = prng(seed);
    const preds = predictors(rand);
    const response = responseColumn(family, rand);
    const offset = family === 'poisson' && rand() < 0.4;
    const columns: Record<string, unknown> = { id: { type: 'id', format: 'text' }, resp: response };
    for (const p of preds)
      columns[p.name] =
        p.type === 'category' ? { type: 'category', values: p.values } : { type: 'integer', min: p.min, max: p.max };
    if (offset) columns['expo'] = { type: 'integer', min: 1, max: 500 };
    const schema = parseSchema({ datasets: { d: { columns } } }, 'generated.json').datasets['d'] as DatasetSchema;
    const n = 40 + below(rand, 160);
    const rows = rowsOf(preds, family, response['type'] === 'category', offset, n, rand);
    return {
      schema,
      formula: formulaOf(preds, offset, rand),
      family,
      rows,
      partition: rows.map(() => below(rand, parts)),
      parts,
      ridge,
    };
  });
