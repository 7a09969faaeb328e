/**
 * The `groundTruth` section of scenario.json: the documented models of the labels (scenario.ts
 * `InsuredModel`, `ArrivalsModel`), validated against the levels and weights the rest of the
 * scenario defines, so the file cannot state a truth its own data contradicts.
 */
import type {
  ArrivalsModel,
  At,
  City,
  District,
  InsuredModel,
  IntBucket,
  LevelEffects,
  Scenario,
  Sector,
} from './scenario.js';

/** A generous bound on category effects and intercepts (log-odds); `logistic` clamps η at ±40 anyway. */
const COEFFICIENT = 20;

/** A coefficient for each of `levels` and nothing else; the first level is the reference (0). */
function levelEffects(a: At, levels: readonly string[], what: string): LevelEffects {
  const given = a.obj();
  const unknown = Object.keys(given).find((k) => !levels.includes(k.normalize('NFC')));
  if (unknown !== undefined)
    a.get(unknown).fail(`unknown ${what} ${JSON.stringify(unknown)}`, `use one of: ${levels.join(', ')}`);
  const effects = Object.fromEntries(levels.map((l) => [l, a.get(l).num(-COEFFICIENT, COEFFICIENT)]));
  if (effects[levels[0] ?? ''] !== 0)
    a.get(levels[0] ?? '').fail(
      `the reference ${what} (the first) must have coefficient 0`,
      'write 0 and shift the other coefficients of this column and the intercept',
    );
  return Object.freeze(effects);
}

/** `groundTruth.insured`: a coefficient per level of the scenario's sexes, sectors and districts. */
export function insuredModel(
  a: At,
  sex: Scenario['sex'],
  sectors: readonly Sector[],
  cities: readonly City[],
): InsuredModel {
  return Object.freeze({
    intercept: a.get('intercept').num(-COEFFICIENT, COEFFICIENT),
    age: a.get('age').num(-1, 1),
    monthlyIncome: a.get('monthly_income').num(-0.01, 0.01),
    monthsResident: a.get('months_resident').num(-1, 1),
    sex: levelEffects(a.get('sex'), [sex.male.label, sex.female.label], 'sex'),
    sector: levelEffects(
      a.get('sector'),
      sectors.map((s) => s.name),
      'sector',
    ),
    district: levelEffects(
      a.get('district'),
      cities.flatMap((c) => c.districts.map((d) => d.name)),
      'district',
    ),
  });
}

/** Tolerance of the written district effects: they are rounded to 4 decimals. */
const EFFECT_TOLERANCE = 5e-4;

/** `firstMonth` and the number of months from it through the reference date's month. */
function arrivalWindow(at: At, referenceDate: string): { firstMonth: string; months: number } {
  const firstMonth = at.str(/^\d{4}-\d{2}$/, 'write the month as YYYY-MM');
  const [fy, fm] = firstMonth.split('-').map(Number) as [number, number];
  const [ry, rm] = referenceDate.split('-').map(Number) as [number, number];
  const months = (ry - fy) * 12 + (rm - fm) + 1;
  if (fm < 1 || fm > 12 || fy < 1900) at.fail('not a calendar month', 'write a real month as YYYY-MM');
  if (months < 2 || months > 1441)
    at.fail(
      `gives a window of ${months} months up to the reference date`,
      "choose a month from 1 month to 120 years before the reference date's",
    );
  return { firstMonth, months };
}

/** The written district effects, each checked against what the weights imply (ArrivalsModel). */
function districtEffects(at: At, cities: readonly City[]): LevelEffects {
  const districts = cities.flatMap((c) => c.districts.map((d) => d.name));
  const effects = levelEffects(at, districts, 'district');
  // The count of a district is its city's persons (∝ migrantShare) × its share of the city's weight.
  const logRate = (c: City, d: District): number =>
    Math.log((c.migrantShare * d.weight) / c.districts.reduce((t, x) => t + x.weight, 0));
  const first = cities[0] as City;
  const base = logRate(first, first.districts[0] as District);
  for (const c of cities) {
    for (const d of c.districts) {
      if (d.weight === 0)
        at.get(d.name).fail(
          'a district of weight 0 has no arrivals to model',
          'give the district a positive weight or remove it',
        );
      const expected = logRate(c, d) - base;
      if (!(Math.abs((effects[d.name] ?? 0) - expected) <= EFFECT_TOLERANCE)) {
        at.get(d.name).fail(
          `does not match the district weights: ln(migrantShare × weight / city weight) relative to ${first.districts[0]?.name ?? ''} is ${expected.toFixed(4)}`,
          `write ${expected.toFixed(4)}, or change the weights`,
        );
      }
    }
  }
  return effects;
}

/**
 * `groundTruth.arrivals`. The window may not reach back before the oldest person drawn from `age`
 * was born, or some arrivals could not be drawn.
 */
export function arrivalsModel(
  a: At,
  referenceDate: string,
  cities: readonly City[],
  age: readonly IntBucket[],
): ArrivalsModel {
  const { firstMonth, months } = arrivalWindow(a.get('firstMonth'), referenceDate);
  const trendPerMonth = a.get('trendPerMonth').num(-0.1, 0.1);
  if (Math.abs(trendPerMonth) * (months - 1) > 12)
    a.get('trendPerMonth').fail(
      `changes the arrival rate by e^${(Math.abs(trendPerMonth) * (months - 1)).toFixed(1)} over the window`,
      'keep |trendPerMonth| × (months − 1) at most 12',
    );
  const effects = districtEffects(a.get('districtEffects'), cities);
  const oldest = Math.max(...age.filter((x) => x.weight > 0).map((x) => x.max));
  if (months - 1 > oldest * 12 + 11) {
    a.get('firstMonth').fail(
      `the window of ${months} months is longer than the oldest age, ${oldest}, allows`,
      'start the window later or allow older ages',
    );
  }
  return Object.freeze({ firstMonth, months, trendPerMonth, districtEffects: effects });
}
