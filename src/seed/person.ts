/**
 * One synthetic migrant, drawn attribute by attribute from a city's distributions.
 *
 * Each concern draws from its own keyed stream: the core record (who, where, sector) from one,
 * work, housing and schooling each from another, using only core attributes as inputs. So a run
 * that writes only residence registrations skips the other draws yet produces exactly the records
 * of a full run, any subset of agencies gets the same files, and fewer rows give a prefix of more.
 */
import { FedstatError } from '../errors.js';
import { CitizenIdAllocator, formatCitizenId } from './citizen-id.js';
import { birthDayRange, compactDate, parseIsoDate } from './civil-date.js';
import { SeededPrng } from './prng.js';
import { InsuredLogOdds, arrivalMonthWeights, logistic } from './ground-truth.js';
import { WeightedChoice, clamp, lognormalish, lognormalishInt, pick } from './samplers.js';
import type { BoundedSkewed, City, Scenario } from './scenario.js';

/** A reusable record: `draw` overwrites every field. Category fields are indices into the labels. */
export interface Person {
  citizenId: string;
  district: number;
  origin: number;
  male: boolean;
  age: number;
  /** Months since the arrivals window's first month (scenario `groundTruth.arrivals`). */
  arrivalMonth: number;
  /** Months from the arrival month to the reference date's month. */
  monthsResident: number;
  /** Index into the scenario's sectors, or -1 when not employed (then not in social insurance). */
  sector: number;
  monthlyIncome: number;
  insured: boolean;
  contributionMonths: number;
  rents: boolean;
  rentalType: number;
  floorArea: number;
  monthlyRent: number;
  leaseMonths: number;
  enrolled: boolean;
  grade: number;
  schoolType: number;
}

export function emptyPerson(): Person {
  return {
    citizenId: '',
    district: 0,
    origin: 0,
    male: true,
    age: 0,
    arrivalMonth: 0,
    monthsResident: 0,
    sector: -1,
    monthlyIncome: 0,
    insured: false,
    contributionMonths: 0,
    rents: false,
    rentalType: 0,
    floorArea: 0,
    monthlyRent: 0,
    leaseMonths: 0,
    enrolled: false,
    grade: 0,
    schoolType: 0,
  };
}

/** Redraws of the birth day, then of the region, before a full ID key is a hard error. */
const ID_RETRIES = 64;

/** Which optional concerns to draw (the core record is always drawn). */
export interface PersonParts {
  /** Income, insurance and contributions (social_insurance). */
  readonly work: boolean;
  /** Rental filing (rental_filings). */
  readonly housing: boolean;
  /** School enrolment (school_enrolments). */
  readonly school: boolean;
}

/** The distributions of one city, compiled once from the scenario, with the city's streams. */
export class PersonSampler {
  readonly #s: Scenario;
  readonly #parts: PersonParts;
  readonly #core: SeededPrng;
  readonly #work: SeededPrng;
  readonly #housing: SeededPrng;
  readonly #school: SeededPrng;
  readonly #city: City;
  readonly #district: WeightedChoice<number>;
  readonly #sectorByZone: ReadonlyMap<string, WeightedChoice<number>>;
  readonly #sex: WeightedChoice<boolean>;
  readonly #age: WeightedChoice<number>;
  /** Arrival month, by the arrivals model's weights. */
  readonly #arrival: WeightedChoice<number>;
  readonly #lastMonth: number;
  readonly #insured: InsuredLogOdds;
  readonly #origin: WeightedChoice<number>;
  /** Per origin, indices into `#regions`. */
  readonly #originRegions: readonly (readonly number[])[];
  readonly #regions: readonly string[];
  readonly #employedPerMille: Int16Array;
  readonly #rentalType: WeightedChoice<number>;
  readonly #lease: WeightedChoice<number>;
  readonly #schoolType: WeightedChoice<number>;
  readonly #ids: CitizenIdAllocator;
  readonly #birthFirst: Int32Array;
  readonly #birthLast: Int32Array;
  readonly #firstDay: number;
  /** `YYYYMMDD` strings per birth day, filled lazily. */
  readonly #ymd: (string | undefined)[];

  /** Streams are keyed by (seed, scenario name, city id, concern). */
  constructor(scenario: Scenario, cityIndex: number, seed: string, parts: PersonParts) {
    const city = scenario.cities[cityIndex];
    if (city === undefined) throw new RangeError(`no city at index ${cityIndex}`);
    this.#s = scenario;
    this.#city = city;
    this.#parts = parts;
    const stream = (concern: string) => SeededPrng.fromLabels(seed, scenario.name, city.id, concern);
    this.#core = stream('core');
    this.#work = stream('work');
    this.#housing = stream('housing');
    this.#school = stream('school');
    const salt = stream('id-salt').nextUint32();
    const indexed = <T extends { weight: number }>(xs: readonly T[]) => xs.map((x, i) => [i, x.weight] as const);
    this.#district = new WeightedChoice(indexed(city.districts));
    const sectorIndex = new Map(scenario.sectors.map((s, i) => [s.name, i]));
    this.#sectorByZone = new Map(
      Object.entries(scenario.zones).map(([zone, weights]) => [
        zone,
        new WeightedChoice(Object.entries(weights).map(([name, w]) => [sectorIndex.get(name) ?? -1, w] as const)),
      ]),
    );
    this.#sex = new WeightedChoice([
      [true, scenario.sex.male.weight],
      [false, scenario.sex.female.weight],
    ]);
    this.#age = new WeightedChoice(indexed(scenario.age));
    this.#arrival = new WeightedChoice(
      arrivalMonthWeights(scenario.groundTruth.arrivals).map((w, t) => [t, w] as const),
    );
    this.#lastMonth = scenario.groundTruth.arrivals.months - 1;
    this.#insured = new InsuredLogOdds(scenario, city);
    this.#origin = new WeightedChoice(indexed(scenario.origins));
    const regions: string[] = [];
    this.#originRegions = scenario.origins.map((o) => o.regions.map((r) => regions.push(r) - 1));
    this.#regions = regions;
    const maxAge = Math.max(...scenario.age.map((b) => b.max));
    this.#employedPerMille = new Int16Array(maxAge + 1);
    for (let a = maxAge; a >= scenario.employment.minAge; a--) {
      this.#employedPerMille[a] = scenario.employment.byAge.find((b) => a >= b.min && a <= b.max)?.perMille ?? 0;
    }
    this.#rentalType = new WeightedChoice(indexed(scenario.rental.types));
    this.#lease = new WeightedChoice(scenario.rental.leaseMonths.map((l) => [l.months, l.weight] as const));
    this.#schoolType = new WeightedChoice(indexed(scenario.school.types));

    const refDay = parseIsoDate(scenario.referenceDate);
    if (refDay === undefined) throw new RangeError('scenario.referenceDate is not a date (parseScenario checks this)');
    this.#birthFirst = new Int32Array(maxAge + 1);
    this.#birthLast = new Int32Array(maxAge + 1);
    for (let a = 0; a <= maxAge; a++) [this.#birthFirst[a], this.#birthLast[a]] = birthDayRange(refDay, a);
    this.#firstDay = this.#birthFirst[maxAge] ?? 0;
    this.#ymd = new Array<string | undefined>(refDay - this.#firstDay + 1);
    this.#ids = new CitizenIdAllocator({
      regionCount: regions.length,
      firstDay: this.#firstDay,
      lastDay: refDay,
      partition: cityIndex,
      partitions: scenario.cities.length,
      salt,
    });
  }

  /** Overwrites `p` with the next person of this city; unselected parts are left zeroed. */
  draw(p: Person): void {
    this.#drawCore(this.#core, p);
    if (this.#parts.work) this.#drawWork(this.#work, p);
    else clearWork(p);
    if (this.#parts.housing) this.#drawHousing(this.#housing, p);
    else clearHousing(p);
    if (this.#parts.school) this.#drawSchool(this.#school, p);
    else clearSchool(p);
  }

  #drawCore(prng: SeededPrng, p: Person): void {
    const s = this.#s;
    p.district = this.#district.sample(prng);
    p.male = this.#sex.sample(prng);
    // The arrival month is drawn first, independently of everything else, so the counts per
    // district and month follow the arrivals model exactly; the age is then drawn from the age
    // buckets given that the person was born by then (nobody has lived somewhere longer than they
    // have lived), which only thins young children among earlier arrivals.
    p.arrivalMonth = this.#arrival.sample(prng);
    p.monthsResident = this.#lastMonth - p.arrivalMonth;
    do {
      const ageBucket = s.age[this.#age.sample(prng)];
      p.age = prng.intBetween(ageBucket?.min ?? 0, ageBucket?.max ?? 0);
    } while (p.age * 12 + 11 < p.monthsResident);
    p.origin = this.#origin.sample(prng);
    p.citizenId = this.#citizenId(prng, p);

    const employed = prng.bernoulli(this.#employedPerMille[p.age] ?? 0, 1000);
    p.sector = employed
      ? (this.#sectorByZone.get(this.#city.districts[p.district]?.zone ?? '')?.sample(prng) ?? -1)
      : -1;
  }

  #drawWork(prng: SeededPrng, p: Person): void {
    const s = this.#s;
    const sector = s.sectors[p.sector];
    if (sector === undefined) return clearWork(p);
    const si = s.socialInsurance;
    const median = (sector.income.median * this.#city.incomeIndex) / 100;
    p.monthlyIncome = lognormalishInt(prng, median, sector.income.sigma, si.incomeMin, si.incomeMax);
    // The ground truth: a logistic model of the worker's attributes (scenario groundTruth.insured).
    const eta = this.#insured.eta(p.age, p.male, p.sector, p.district, p.monthlyIncome, p.monthsResident);
    p.insured = prng.unit() < logistic(eta);
    // Contribution months do not reveal the label: a newly insured worker has none yet, and a
    // lapsed one kept those of an earlier job; otherwise both draw from the same range.
    const working = clamp((p.age - s.employment.minAge) * 12 + 12, 1, si.maxContributionMonths);
    const contributed = p.insured
      ? !prng.bernoulli(si.newlyInsuredPerMille, 1000)
      : prng.bernoulli(si.lapsedPerMille, 1000);
    p.contributionMonths = contributed ? prng.intBetween(1, working) : 0;
  }

  #drawHousing(prng: SeededPrng, p: Person): void {
    const r = this.#s.rental;
    p.rents =
      p.age >= r.minAge && prng.bernoulli(this.#s.sectors[p.sector]?.rentsPerMille ?? r.notEmployedRentsPerMille, 1000);
    if (!p.rents) return clearHousing(p);
    p.rentalType = this.#rentalType.sample(prng);
    // Mostly the type's own floor area; sometimes that of a type drawn afresh, so the distributions overlap everywhere.
    const areaType = prng.bernoulli(r.areaMixPerMille, 1000) ? this.#rentalType.sample(prng) : p.rentalType;
    const area = r.types[areaType]?.floorArea as BoundedSkewed;
    p.floorArea = lognormalishInt(prng, area.median, area.sigma, area.min, area.max);
    const price = this.#city.rentPerSqm;
    const rentIndex = this.#city.districts[p.district]?.rentIndex ?? 100;
    const perSqm = clamp(lognormalish(prng, (price.median * rentIndex) / 100, price.sigma), price.min, price.max);
    p.monthlyRent = clamp(Math.round(p.floorArea * perSqm), r.rentMin, r.rentMax);
    p.leaseMonths = this.#lease.sample(prng);
  }

  #drawSchool(prng: SeededPrng, p: Person): void {
    const sc = this.#s.school;
    p.enrolled = p.age >= sc.minAge && p.age <= sc.maxAge && prng.bernoulli(sc.enrolledPerMille, 1000);
    if (!p.enrolled) return clearSchool(p);
    p.grade = p.age - sc.minAge + 1;
    p.schoolType = this.#schoolType.sample(prng);
  }

  /** A scenario-wide unique ID: birth day consistent with the age, region from the origin. */
  #citizenId(prng: SeededPrng, p: Person): string {
    const regions = this.#originRegions[p.origin] ?? [];
    const first = this.#birthFirst[p.age] ?? 0;
    const last = this.#birthLast[p.age] ?? 0;
    let region = pick(prng, regions);
    for (let attempt = 0; attempt < 2 * ID_RETRIES; attempt++) {
      // First redraw the birth day (same age), then also the region (same province).
      if (attempt >= ID_RETRIES) region = pick(prng, regions);
      const day = prng.intBetween(first, last);
      const seq = this.#ids.allocate(region, day, p.male);
      if (seq !== undefined) return formatCitizenId(this.#regions[region] ?? '', this.#compactDate(day), seq);
    }
    throw new FedstatError(
      'CONFIG_INVALID',
      `scenario ${this.#s.name}: citizen ID numbers ran out for ${this.#city.name}; generate fewer rows or list more origin regions`,
    );
  }

  #compactDate(day: number): string {
    const i = day - this.#firstDay;
    return (this.#ymd[i] ??= compactDate(day));
  }
}

function clearWork(p: Person): void {
  p.monthlyIncome = 0;
  p.insured = false;
  p.contributionMonths = 0;
}

function clearHousing(p: Person): void {
  p.rents = false;
  p.rentalType = 0;
  p.floorArea = 0;
  p.monthlyRent = 0;
  p.leaseMonths = 0;
}

function clearSchool(p: Person): void {
  p.enrolled = false;
  p.grade = 0;
  p.schoolType = 0;
}
