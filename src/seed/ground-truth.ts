/**
 * The documented ground truth of the scenario's labels (scenario.json `groundTruth`, described in
 * docs/cli.md), compiled into what the person sampler draws from: the logistic model of `insured`
 * and the log-linear arrival-month weights. Only +, −, ×, ÷ and `portableExp`, so every machine
 * draws the same persons.
 */
import { portableExp } from './samplers.js';
import type { ArrivalsModel, City, InsuredModel, Scenario } from './scenario.js';

const TWO_32 = 4294967296;
/** Beyond this |η| the probability is within 2^-57 of 0 or 1, far below the 2^-32 grain of a draw. */
const MAX_LOG_ODDS = 40;

/** 1 / (1 + e^−η), bit-identical on every platform. */
export function logistic(eta: number): number {
  const e = eta > MAX_LOG_ODDS ? MAX_LOG_ODDS : eta < -MAX_LOG_ODDS ? -MAX_LOG_ODDS : eta;
  return 1 / (1 + portableExp(-e));
}

/**
 * Integer weights of arrival months 0 … months − 1, proportional to e^(trend · month) and summing
 * to exactly 2^32, so one 32-bit draw picks a month without rejection. Each weight is the floor of
 * its exact share, the remainder (fewer than `months` units) going to the most likely month: the
 * relative error of any month's probability is below months / (2^32 × its probability), under 1e-5
 * for sichuan.
 */
export function arrivalMonthWeights(m: ArrivalsModel): readonly number[] {
  const top = m.trendPerMonth >= 0 ? m.months - 1 : 0;
  const shape = Array.from({ length: m.months }, (_, t) => portableExp(m.trendPerMonth * (t - top)));
  const total = shape.reduce((a, b) => a + b, 0);
  const weights = shape.map((x) => Math.floor((x / total) * TWO_32));
  weights[top] = (weights[top] ?? 0) + TWO_32 - weights.reduce((a, b) => a + b, 0);
  return Object.freeze(weights);
}

/** The insured model's linear predictor for the persons of one city, with its level effects as arrays. */
export class InsuredLogOdds {
  readonly #m: InsuredModel;
  readonly #sex: readonly [number, number];
  readonly #sector: Float64Array;
  readonly #district: Float64Array;

  constructor(scenario: Scenario, city: City) {
    const m = scenario.groundTruth.insured;
    this.#m = m;
    this.#sex = [m.sex[scenario.sex.male.label] ?? 0, m.sex[scenario.sex.female.label] ?? 0];
    this.#sector = Float64Array.from(scenario.sectors, (s) => m.sector[s.name] ?? 0);
    this.#district = Float64Array.from(city.districts, (d) => m.district[d.name] ?? 0);
  }

  /** η of a worker; `sector` and `district` index the scenario's sectors and the city's districts. */
  eta(
    age: number,
    male: boolean,
    sector: number,
    district: number,
    monthlyIncome: number,
    monthsResident: number,
  ): number {
    const m = this.#m;
    return (
      m.intercept +
      m.age * age +
      (male ? this.#sex[0] : this.#sex[1]) +
      (this.#sector[sector] ?? 0) +
      (this.#district[district] ?? 0) +
      m.monthlyIncome * monthlyIncome +
      m.monthsResident * monthsResident
    );
  }
}

/** The ground truth under R's coefficient names (`sex女`, `district青羊区`). */
export function insuredTruthByTerm(m: InsuredModel): Map<string, number> {
  const truth = new Map<string, number>([
    ['(Intercept)', m.intercept],
    ['age', m.age],
    ['monthly_income', m.monthlyIncome],
    ['months_resident', m.monthsResident],
  ]);
  for (const [column, effects] of Object.entries({ sex: m.sex, sector: m.sector, district: m.district }))
    for (const [level, b] of Object.entries(effects)) truth.set(`${column}${level}`, b);
  return truth;
}
