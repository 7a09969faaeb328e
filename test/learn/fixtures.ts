/** A social-insurance dataset schema (as in seeds/sichuan) and a few rows, for the learn/ tests. */
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { ModelCoding } from '../../src/learn/design.js';
import type { FamilyName } from '../../src/learn/family.js';
import { parseFormula } from '../../src/learn/formula.js';

export const INSURANCE: DatasetSchema = parseSchema(
  {
    datasets: {
      social_insurance: {
        columns: {
          citizen_id: { type: 'id', format: 'gb11643' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          sex: { type: 'category', values: ['男', '女'] },
          age: { type: 'integer', min: 16, max: 120 },
          sector: { type: 'category', values: ['制造业', '建筑业', '批发零售', '信息技术'] },
          monthly_income: { type: 'integer', min: 0, max: 1000000 },
          insured: { type: 'category', values: ['是', '否'] },
          contribution_months: { type: 'integer', min: 0, max: 600 },
          employed: { type: 'integer', min: 0, max: 1 },
          household: { type: 'integer', min: 1, max: 20 },
          offset_days: { type: 'integer', min: -30, max: 30 },
          single: { type: 'category', values: ['only'] },
          fixed: { type: 'integer', min: 7, max: 7 },
        },
      },
    },
  },
  'fixtures.json',
).datasets['social_insurance'] as DatasetSchema;

/** A small schema like R's examples: factors a (3 levels), b, c (2 each), numbers x, z, response y. */
export const ABC: DatasetSchema = parseSchema(
  {
    datasets: {
      t: {
        columns: {
          a: { type: 'category', values: ['A1', 'A2', 'A3'] },
          b: { type: 'category', values: ['B1', 'B2'] },
          c: { type: 'category', values: ['C1', 'C2'] },
          x: { type: 'integer', min: -10, max: 30 },
          z: { type: 'integer', min: 0, max: 8 },
          y: { type: 'integer', min: -100, max: 100 },
        },
      },
    },
  },
  'abc.json',
).datasets['t'] as DatasetSchema;

/** Parses and codes `formula` over `schema`. */
export function coded(formula: string, family: FamilyName = 'gaussian', schema: DatasetSchema = ABC): ModelCoding {
  return codeModel(parseFormula(formula, schema, 'test'), schema, family, 'test');
}

/** The 1-based column of the first `needle` in `text` (after `from`). */
export function col(text: string, needle: string, from = 0): number {
  const i = text.indexOf(needle, from);
  if (i < 0) throw new Error(`${needle} not in ${text}`);
  return i + 1;
}
