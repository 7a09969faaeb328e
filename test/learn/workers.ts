/**
 * The `workers` records the model-file and predict tests fit and score: a binomial label and a
 * Poisson count that follow known models of the other columns, reproducible from a seed.
 */
import type { DataRecord } from '../../src/learn/design-row.js';
import { prng } from './arbitraries.js';

/** The `workers` dataset's schema (JSON, as a schema file holds it) that workerRows fills. */
export const WORKERS_DATASET_JSON = {
  columns: {
    citizen_id: { type: 'id', format: 'text' },
    district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
    sex: { type: 'category', values: ['男', '女'] },
    age: { type: 'integer', min: 16, max: 80 },
    income: { type: 'integer', min: 0, max: 50000 },
    insured: { type: 'category', values: ['否', '是'] },
    visits: { type: 'integer', min: 0, max: 60 },
    months: { type: 'integer', min: 1, max: 24 },
  },
};

/** `n` workers from `seed`; `idOf` makes each citizen_id (a test may want one holding a comma). */
export function workerRows(n: number, seed: number, idOf: (i: number) => string = (i) => `id${i}`): DataRecord[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const district = ['锦江区', '青羊区', '金牛区'][Math.floor(rnd() * 3)] as string;
    const sex = rnd() < 0.5 ? '男' : '女';
    const age = 16 + Math.floor(rnd() * 65);
    const income = Math.floor(rnd() * 50001);
    const months = 1 + Math.floor(rnd() * 24);
    const eta =
      -1 + 0.02 * (age - 40) + 0.00004 * income + (sex === '女' ? 0.3 : 0) + (district === '金牛区' ? -0.4 : 0);
    const insured = rnd() < 1 / (1 + Math.exp(-eta)) ? '是' : '否';
    const rate = Math.exp(-2 + 0.01 * (age - 40) + (district === '青羊区' ? 0.3 : 0));
    // Poisson(rate·months) by Knuth's product of uniforms, capped at the schema's 60.
    let visits = 0;
    for (let p = rnd(); p >= Math.exp(-rate * months) && visits < 60; p *= rnd()) visits++;
    return { citizen_id: idOf(i), district, sex, age, income, insured, visits, months };
  });
}
