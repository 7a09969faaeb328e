/**
 * The scenario file (`seeds/<name>/scenario.json`): the cities, departments and distributions a
 * synthetic federation is drawn from. Plain JSON validated once into frozen values; errors name
 * the file, the JSON path and the fix, like schema errors do.
 */
import { configError } from '../federation/schema.js';
import type { JsonLocation } from '../federation/schema.js';
import { parseIsoDate } from './civil-date.js';
import { isRecord } from '../util/is-record.js';
import { arrivalsModel, insuredModel } from './scenario-ground-truth.js';

export const DEPARTMENT_KINDS = ['public-security', 'human-resources-social-security', 'housing', 'education'] as const;
export type DepartmentKind = (typeof DEPARTMENT_KINDS)[number];

export interface IntBucket {
  readonly min: number;
  readonly max: number;
  readonly weight: number;
}
export interface AgeRate {
  readonly min: number;
  readonly max: number;
  readonly perMille: number;
}
/** median · exp(σ·z), see samplers.ts; `min`/`max` clamp the result where present. */
export interface Skewed {
  readonly median: number;
  readonly sigma: number;
}
export interface BoundedSkewed extends Skewed {
  readonly min: number;
  readonly max: number;
}
export interface Named {
  readonly name: string;
  readonly weight: number;
}
export interface SexSpec {
  readonly label: string;
  readonly weight: number;
}

export interface Department {
  readonly id: string;
  readonly name: string;
  readonly kind: DepartmentKind;
  readonly dataset: string;
}
export interface District {
  readonly name: string;
  readonly code: string;
  readonly zone: string;
  readonly weight: number;
  readonly rentIndex: number;
}
export interface City {
  readonly id: string;
  readonly name: string;
  readonly code: string;
  /**
   * Relative number of registered migrants, an integer ≥ 1. The city with the largest share gets
   * the requested `rows` persons, the others proportionally fewer (see `cityPersonCounts`).
   */
  readonly migrantShare: number;
  /** Percent applied to every sector's median income. */
  readonly incomeIndex: number;
  /** Monthly rent per m² in yuan, before the district's `rentIndex` percent. */
  readonly rentPerSqm: BoundedSkewed;
  readonly districts: readonly District[];
}
export interface Origin {
  readonly province: string;
  readonly code: string;
  readonly weight: number;
  readonly regions: readonly string[];
}
export interface Sector {
  readonly name: string;
  readonly income: Skewed;
  readonly rentsPerMille: number;
}

/** Level → coefficient of a category column; the reference level (the first) has 0. */
export type LevelEffects = Readonly<Record<string, number>>;

/**
 * The ground truth of social_insurance's `insured` column: a worker is insured (`socialInsurance.insured`)
 * with probability 1 / (1 + e^−η), η = intercept + age·a + monthly_income·b + months_resident·c + the
 * coefficients of the worker's sex, sector and district. Numbers are on the columns' own scale
 * (years, yuan, months), so a logistic GLM of those columns on the generated data estimates them.
 */
export interface InsuredModel {
  readonly intercept: number;
  readonly age: number;
  readonly monthlyIncome: number;
  readonly monthsResident: number;
  readonly sex: LevelEffects;
  readonly sector: LevelEffects;
  readonly district: LevelEffects;
}

/**
 * The ground truth of residence_registrations' `arrival_month`: months since `firstMonth`, within
 * [0, months − 1], the last month being the reference date's. Each registered migrant's arrival
 * month is drawn with weight e^(trendPerMonth · month), independently of the district, so the count
 * of registrations per district and month is (conditionally on the city totals) Poisson with
 * log mean = intercept + districtEffects[district] + trendPerMonth · arrival_month.
 */
export interface ArrivalsModel {
  /** `YYYY-MM`: the month that arrival_month 0 stands for. */
  readonly firstMonth: string;
  /** Months from firstMonth through the reference date's month. */
  readonly months: number;
  readonly trendPerMonth: number;
  /**
   * ln(city's migrantShare × district weight / the city's total district weight), minus that of
   * the first district: they follow from the weights, and are written out (and checked) so the
   * scenario file states its ground truth.
   */
  readonly districtEffects: LevelEffects;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Ages are completed years on this day (`YYYY-MM-DD`). */
  readonly referenceDate: string;
  readonly schemaFile: string;
  readonly province: { readonly name: string; readonly code: string };
  readonly departments: readonly Department[];
  readonly cities: readonly City[];
  /** Zone name → sector name → integer weight. */
  readonly zones: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly origins: readonly Origin[];
  /** Male IDs get odd sequence numbers, female IDs even ones (GB 11643). */
  readonly sex: { readonly male: SexSpec; readonly female: SexSpec };
  readonly age: readonly IntBucket[];
  readonly employment: { readonly notEmployed: string; readonly minAge: number; readonly byAge: readonly AgeRate[] };
  readonly sectors: readonly Sector[];
  readonly socialInsurance: {
    readonly incomeMin: number;
    readonly incomeMax: number;
    readonly insured: string;
    readonly uninsured: string;
    readonly maxContributionMonths: number;
    /** Insured workers with no contribution month yet (enrolled this month), per mille. */
    readonly newlyInsuredPerMille: number;
    /** Uninsured workers who contributed in an earlier job, per mille. */
    readonly lapsedPerMille: number;
  };
  readonly rental: {
    readonly minAge: number;
    readonly notEmployedRentsPerMille: number;
    readonly types: readonly (Named & { readonly floorArea: BoundedSkewed })[];
    /**
     * Per mille of filings whose floor area is drawn as for a type drawn afresh by weight (a small
     * flat let whole, a shared flat filed with its whole area), so no floor area or rent determines the type.
     */
    readonly areaMixPerMille: number;
    readonly rentMin: number;
    readonly rentMax: number;
    readonly leaseMonths: readonly { readonly months: number; readonly weight: number }[];
  };
  readonly school: {
    readonly minAge: number;
    readonly maxAge: number;
    readonly enrolledPerMille: number;
    readonly types: readonly Named[];
  };
  readonly groundTruth: { readonly insured: InsuredModel; readonly arrivals: ArrivalsModel };
}

const ID = /^[a-z][a-z0-9-]{0,31}$/;
const DATASET = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const REGION = /^\d{6}$/;
const MAX_WEIGHT = 1_000_000;

/** A JSON cursor: the value and where it sits, so every check can point at its path. */
export class At {
  constructor(
    readonly v: unknown,
    readonly loc: JsonLocation,
  ) {}

  get(key: string | number): At {
    if (!isRecord(this.v) && !Array.isArray(this.v))
      this.fail(
        `expected ${typeof key === 'number' ? 'an array' : 'an object'}, got ${JSON.stringify(this.v) ?? 'nothing'}`,
        'write the missing section',
      );
    const seg =
      typeof key === 'number' ? `[${key}]` : /^[A-Za-z_]\w*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    const path = this.loc.path === '' ? seg.replace(/^\./, '') : this.loc.path + seg;
    const v =
      isRecord(this.v) && Object.hasOwn(this.v, key)
        ? this.v[key]
        : Array.isArray(this.v) && typeof key === 'number'
          ? (this.v as readonly unknown[])[key]
          : undefined;
    return new At(v, { file: this.loc.file, path });
  }
  fail(problem: string, fix: string): never {
    throw configError(this.loc, problem, fix);
  }
  obj(): Record<string, unknown> {
    return isRecord(this.v) ? this.v : this.fail('expected an object', 'write {...}');
  }
  arr(): At[] {
    if (!Array.isArray(this.v) || this.v.length === 0)
      this.fail('expected a non-empty array', 'write [...] with at least one entry');
    return this.v.map((_, i) => this.get(i));
  }
  entries(): [string, At][] {
    const keys = Object.keys(this.obj());
    if (keys.length === 0) this.fail('expected a non-empty object', 'add at least one entry');
    return keys.map((k) => [k, this.get(k)]);
  }
  str(pattern?: RegExp, fix = 'write a non-empty string'): string {
    if (typeof this.v !== 'string' || this.v.length === 0 || (pattern !== undefined && !pattern.test(this.v))) {
      this.fail(
        `expected a string${pattern === undefined ? '' : ` matching ${String(pattern)}`}, got ${JSON.stringify(this.v)}`,
        fix,
      );
    }
    return this.v.normalize('NFC');
  }
  int(min: number, max: number): number {
    if (typeof this.v !== 'number' || !Number.isSafeInteger(this.v) || this.v < min || this.v > max) {
      this.fail(
        `expected an integer in [${min}, ${max}], got ${JSON.stringify(this.v)}`,
        'use an integer within the range',
      );
    }
    return this.v;
  }
  num(min: number, max: number): number {
    if (typeof this.v !== 'number' || !Number.isFinite(this.v) || this.v < min || this.v > max) {
      this.fail(
        `expected a number in [${min}, ${max}], got ${JSON.stringify(this.v)}`,
        'use a number within the range',
      );
    }
    return this.v;
  }
}

function unique<T>(at: At, items: readonly T[], key: (t: T) => string, what: string): readonly T[] {
  const seen = new Set<string>();
  items.forEach((t, i) => {
    const k = key(t);
    if (seen.has(k)) at.get(i).fail(`duplicate ${what} ${JSON.stringify(k)}`, `give each ${what} once`);
    seen.add(k);
  });
  return Object.freeze(items);
}

const skewed = (a: At): Skewed =>
  Object.freeze({ median: a.get('median').num(1e-6, 1e9), sigma: a.get('sigma').num(0, 3) });
function boundedSkewed(a: At): BoundedSkewed {
  const s = skewed(a);
  const min = a.get('min').int(0, 1e12);
  const max = a.get('max').int(min, 1e12);
  return Object.freeze({ ...s, min, max });
}
const weight = (a: At): number => a.get('weight').int(0, MAX_WEIGHT);

/** Every sampled distribution needs some weight, or there is nothing to draw. */
function needWeight(a: At, items: readonly { readonly weight: number }[] | readonly number[]): void {
  const total = items.reduce<number>((t, x) => t + (typeof x === 'number' ? x : x.weight), 0);
  if (total < 1) a.fail('all weights are zero', 'give at least one entry a positive weight');
}

function buckets(a: At, maxValue: number): readonly IntBucket[] {
  const out = a.arr().map((b) => {
    const min = b.get('min').int(0, maxValue);
    return Object.freeze({ min, max: b.get('max').int(min, maxValue), weight: weight(b) });
  });
  needWeight(a, out);
  return Object.freeze(out);
}

function parseReferenceDate(root: At): string {
  const referenceDate = root.get('referenceDate').str(/^\d{4}-\d{2}-\d{2}$/, 'write the date as YYYY-MM-DD');
  if (parseIsoDate(referenceDate) === undefined)
    root.get('referenceDate').fail('not a calendar date', 'write a real date as YYYY-MM-DD');
  return referenceDate;
}

function parseSectors(at: At): readonly Sector[] {
  const sectors = at.entries().map(([name, s]): Sector =>
    Object.freeze({
      name: name.normalize('NFC'),
      income: skewed(s.get('income')),
      rentsPerMille: s.get('rentsPerMille').int(0, 1000),
    }),
  );
  return Object.freeze(sectors);
}

/** Zone → sector weights; every sector named must be one of `sectorNames`. */
function parseZones(at: At, sectorNames: ReadonlySet<string>): Scenario['zones'] {
  const zones = Object.fromEntries(
    at.entries().map(([zone, z]) => {
      const w = z.get('sectorWeights');
      const weights = Object.fromEntries(
        w.entries().map(([sector, v]) => {
          if (!sectorNames.has(sector.normalize('NFC')))
            v.fail(`unknown sector ${JSON.stringify(sector)}`, `use one of: ${[...sectorNames].join(', ')}`);
          return [sector.normalize('NFC'), v.int(0, MAX_WEIGHT)];
        }),
      );
      needWeight(w, Object.values(weights));
      return [zone, Object.freeze(weights)];
    }),
  );
  return Object.freeze(zones);
}

/** One department per kind, each id once. */
function parseDepartments(at: At): readonly Department[] {
  const departments = unique(
    at,
    at.arr().map((d): Department => {
      const kind = d.get('kind').str();
      if (!(DEPARTMENT_KINDS as readonly string[]).includes(kind))
        d.get('kind').fail(
          `unknown department kind ${JSON.stringify(kind)}`,
          `use one of: ${DEPARTMENT_KINDS.join(', ')}`,
        );
      return Object.freeze({
        id: d.get('id').str(ID, 'use lowercase letters, digits and dashes'),
        name: d.get('name').str(),
        kind: kind as DepartmentKind,
        dataset: d.get('dataset').str(DATASET, 'use the dataset name from the schema'),
      });
    }),
    (d) => d.id,
    'department id',
  );
  unique(at, departments, (d) => d.kind, 'department kind');
  return departments;
}

function parseDistricts(at: At, zones: Scenario['zones']): readonly District[] {
  const districts = unique(
    at,
    at.arr().map((d): District => {
      const zone = d.get('zone').str();
      if (!Object.hasOwn(zones, zone))
        d.get('zone').fail(`unknown zone ${JSON.stringify(zone)}`, `use one of: ${Object.keys(zones).join(', ')}`);
      return Object.freeze({
        name: d.get('name').str(),
        code: d.get('code').str(REGION, 'use the 6-digit GB/T 2260 code'),
        zone,
        weight: weight(d),
        rentIndex: d.get('rentIndex').int(1, 1000),
      });
    }),
    (d) => d.name,
    'district',
  );
  needWeight(at, districts);
  return districts;
}

function parseCities(at: At, zones: Scenario['zones']): readonly City[] {
  return unique(
    at,
    at.arr().map((c): City => {
      const districts = parseDistricts(c.get('districts'), zones);
      return Object.freeze({
        id: c.get('id').str(ID, 'use lowercase letters, digits and dashes'),
        name: c.get('name').str(),
        code: c.get('code').str(REGION, 'use the 6-digit GB/T 2260 code'),
        migrantShare: c.get('migrantShare').int(1, MAX_WEIGHT),
        incomeIndex: c.get('incomeIndex').int(1, 1000),
        rentPerSqm: boundedSkewed(c.get('rentPerSqm')),
        districts,
      });
    }),
    (c) => c.id,
    'city id',
  );
}

/** Provinces of origin, each with county codes inside it. */
function parseOrigins(at: At): readonly Origin[] {
  const origins = unique(
    at,
    at.arr().map((o): Origin => {
      const code = o.get('code').str(/^\d{2}0000$/, 'use the 6-digit province code, e.g. 510000');
      const regions = o
        .get('regions')
        .arr()
        .map((r) => {
          const region = r.str(REGION, 'use a 6-digit GB/T 2260 county code');
          if (region.slice(0, 2) !== code.slice(0, 2))
            r.fail(`region ${region} is not in province ${code}`, 'list only county codes of this province');
          return region;
        });
      return Object.freeze({
        province: o.get('province').str(),
        code,
        weight: weight(o),
        regions: unique(o.get('regions'), regions, (r) => r, 'region'),
      });
    }),
    (o) => o.province,
    'origin province',
  );
  needWeight(at, origins);
  return origins;
}

function parseSex(at: At): Scenario['sex'] {
  const sexOf = (a: At): SexSpec => Object.freeze({ label: a.get('label').str(), weight: weight(a) });
  const sex = Object.freeze({ male: sexOf(at.get('male')), female: sexOf(at.get('female')) });
  if (sex.male.label === sex.female.label) at.fail('male and female share a label', 'give them distinct labels');
  needWeight(at, [sex.male, sex.female]);
  return sex;
}

/** The not-employed label must not be a sector's, since both fill the same column. */
function parseEmployment(at: At, sectorNames: ReadonlySet<string>): Scenario['employment'] {
  const employment = Object.freeze({
    notEmployed: at.get('notEmployed').str(),
    minAge: at.get('minAge').int(0, 120),
    byAge: Object.freeze(
      at
        .get('byAge')
        .arr()
        .map((b) => {
          const min = b.get('min').int(0, 120);
          return Object.freeze({ min, max: b.get('max').int(min, 120), perMille: b.get('perMille').int(0, 1000) });
        }),
    ),
  });
  if (sectorNames.has(employment.notEmployed))
    at.get('notEmployed').fail('the not-employed label is also a sector name', 'pick a distinct label');
  return employment;
}

function parseSocialInsurance(at: At): Scenario['socialInsurance'] {
  const incomeMin = at.get('incomeMin').int(0, 1e9);
  return Object.freeze({
    incomeMin,
    incomeMax: at.get('incomeMax').int(incomeMin, 1e9),
    insured: at.get('insured').str(),
    uninsured: at.get('uninsured').str(),
    maxContributionMonths: at.get('maxContributionMonths').int(1, 1200),
    newlyInsuredPerMille: at.get('newlyInsuredPerMille').int(0, 1000),
    lapsedPerMille: at.get('lapsedPerMille').int(0, 1000),
  });
}

function parseRental(r: At): Scenario['rental'] {
  needWeight(r.get('types'), r.get('types').arr().map(weight));
  needWeight(r.get('leaseMonths'), r.get('leaseMonths').arr().map(weight));
  const rentMin = r.get('rentMin').int(0, 1e9);
  return Object.freeze({
    minAge: r.get('minAge').int(0, 120),
    notEmployedRentsPerMille: r.get('notEmployedRentsPerMille').int(0, 1000),
    types: unique(
      r.get('types'),
      r
        .get('types')
        .arr()
        .map((t) =>
          Object.freeze({ name: t.get('name').str(), weight: weight(t), floorArea: boundedSkewed(t.get('floorArea')) }),
        ),
      (t) => t.name,
      'rental type',
    ),
    areaMixPerMille: r.get('areaMixPerMille').int(0, 1000),
    rentMin,
    rentMax: r.get('rentMax').int(rentMin, 1e9),
    leaseMonths: unique(
      r.get('leaseMonths'),
      r
        .get('leaseMonths')
        .arr()
        .map((l) => Object.freeze({ months: l.get('months').int(1, 1200), weight: weight(l) })),
      (l) => String(l.months),
      'lease length',
    ),
  });
}

function parseSchool(sc: At): Scenario['school'] {
  needWeight(sc.get('types'), sc.get('types').arr().map(weight));
  const schoolMin = sc.get('minAge').int(0, 120);
  return Object.freeze({
    minAge: schoolMin,
    maxAge: sc.get('maxAge').int(schoolMin, 120),
    enrolledPerMille: sc.get('enrolledPerMille').int(0, 1000),
    types: unique(
      sc.get('types'),
      sc
        .get('types')
        .arr()
        .map((t) => Object.freeze({ name: t.get('name').str(), weight: weight(t) })),
      (t) => t.name,
      'school type',
    ),
  });
}

function parseProvince(at: At): Scenario['province'] {
  return Object.freeze({
    name: at.get('name').str(),
    code: at.get('code').str(/^\d{2}0000$/, 'use the 6-digit province code'),
  });
}

/**
 * Validates raw JSON into a frozen scenario; errors name `file` and the JSON path. The sections
 * are read in a fixed order (later ones check names the earlier ones define), so a file with
 * several errors always reports the same one.
 */
export function parseScenario(raw: unknown, file: string): Scenario {
  const root = new At(raw, { file, path: '' });
  root.obj();
  const referenceDate = parseReferenceDate(root);
  const sectors = parseSectors(root.get('sectors'));
  const sectorNames = new Set(sectors.map((s) => s.name));
  const zones = parseZones(root.get('zones'), sectorNames);
  const departments = parseDepartments(root.get('departments'));
  const cities = parseCities(root.get('cities'), zones);
  const origins = parseOrigins(root.get('origins'));
  const sex = parseSex(root.get('sex'));
  const employment = parseEmployment(root.get('employment'), sectorNames);
  const socialInsurance = parseSocialInsurance(root.get('socialInsurance'));
  const rental = parseRental(root.get('rental'));
  const school = parseSchool(root.get('school'));
  const age = buckets(root.get('age'), 120);
  const arrivals = arrivalsModel(root.get('groundTruth').get('arrivals'), referenceDate, cities, age);
  const name = root.get('name').str(/^[a-z][a-z0-9_-]{0,62}$/, 'use lowercase letters, digits, dashes and underscores');
  const title = root.get('title').str();
  const description = root.get('description').str();
  const schemaFile = root
    .get('schemaFile')
    .str(/^[A-Za-z0-9_.-]+\.json$/, 'name a JSON file in the scenario directory');
  const province = parseProvince(root.get('province'));
  const insured = insuredModel(root.get('groundTruth').get('insured'), sex, sectors, cities);
  return Object.freeze({
    name,
    title,
    description,
    referenceDate,
    schemaFile,
    province,
    departments,
    cities,
    zones,
    origins,
    sex,
    age,
    employment,
    sectors,
    socialInsurance,
    rental,
    school,
    groundTruth: Object.freeze({ insured, arrivals }),
  });
}
