/**
 * What each department's dataset holds: which persons it records and how each column is filled
 * from a `Person`. Every column also declares the domain it can produce, derived from the scenario,
 * so a scenario whose values would fall outside the schema is rejected before a row is written.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import { encodeField } from './csv-writer.js';
import type { CsvRecordSink } from './csv-writer.js';
import type { Person } from './person.js';
import type { City, DepartmentKind, Scenario } from './scenario.js';

export type ColumnDomain =
  | { readonly type: 'category'; readonly values: readonly string[] }
  | { readonly type: 'integer'; readonly min: number; readonly max: number }
  | { readonly type: 'id' };

export interface ColumnSource {
  readonly domain: ColumnDomain;
  /** Writes this column's field for a person the dataset includes. */
  readonly write: (p: Person, out: CsvRecordSink) => void;
}

export interface DatasetSource {
  readonly kind: DepartmentKind;
  /** Whether the department holds a record of this person. */
  readonly includes: (p: Person) => boolean;
  readonly columns: Readonly<Record<string, ColumnSource>>;
}

function category(labels: readonly string[], index: (p: Person) => number): ColumnSource {
  const encoded = labels.map(encodeField);
  const none = new Uint8Array(0);
  return { domain: { type: 'category', values: labels }, write: (p, out) => out.rawField(encoded[index(p)] ?? none) };
}

function integer(min: number, max: number, value: (p: Person) => number): ColumnSource {
  return { domain: { type: 'integer', min, max }, write: (p, out) => out.intField(value(p)) };
}

const lo = (xs: readonly number[]): number => Math.min(...xs);
const hi = (xs: readonly number[]): number => Math.max(...xs);

/** The columns a department of `city` can fill, keyed by column name. */
export function datasetSource(kind: DepartmentKind, s: Scenario, city: City): DatasetSource {
  const maxAge = hi(s.age.map((b) => b.max));
  const common = {
    citizen_id: {
      domain: { type: 'id' },
      write: (p: Person, out: CsvRecordSink) => out.textField(p.citizenId),
    } satisfies ColumnSource,
    city: category([city.name], () => 0),
    district: category(
      city.districts.map((d) => d.name),
      (p) => p.district,
    ),
    origin_province: category(
      s.origins.map((o) => o.province),
      (p) => p.origin,
    ),
    sex: category([s.sex.male.label, s.sex.female.label], (p) => (p.male ? 0 : 1)),
  };
  const sectors = s.sectors.map((x) => x.name);
  const lastMonth = s.groundTruth.arrivals.months - 1;
  switch (kind) {
    case 'public-security':
      return {
        kind,
        includes: () => true,
        columns: {
          ...common,
          age: integer(lo(s.age.map((b) => b.min)), maxAge, (p) => p.age),
          months_resident: integer(0, lastMonth, (p) => p.monthsResident),
          arrival_month: integer(0, lastMonth, (p) => p.arrivalMonth),
          sector: category([...sectors, s.employment.notEmployed], (p) => (p.sector < 0 ? sectors.length : p.sector)),
        },
      };
    case 'human-resources-social-security': {
      const si = s.socialInsurance;
      return {
        kind,
        includes: (p) => p.sector >= 0,
        columns: {
          ...common,
          age: integer(s.employment.minAge, maxAge, (p) => p.age),
          months_resident: integer(0, lastMonth, (p) => p.monthsResident),
          sector: category(sectors, (p) => p.sector),
          monthly_income: integer(si.incomeMin, si.incomeMax, (p) => p.monthlyIncome),
          insured: category([si.insured, si.uninsured], (p) => (p.insured ? 0 : 1)),
          contribution_months: integer(0, si.maxContributionMonths, (p) => p.contributionMonths),
        },
      };
    }
    case 'housing': {
      const r = s.rental;
      return {
        kind,
        includes: (p) => p.rents,
        columns: {
          ...common,
          age: integer(r.minAge, maxAge, (p) => p.age),
          rental_type: category(
            r.types.map((t) => t.name),
            (p) => p.rentalType,
          ),
          monthly_rent: integer(r.rentMin, r.rentMax, (p) => p.monthlyRent),
          floor_area: integer(
            lo(r.types.map((t) => t.floorArea.min)),
            hi(r.types.map((t) => t.floorArea.max)),
            (p) => p.floorArea,
          ),
          lease_months: integer(
            lo(r.leaseMonths.map((l) => l.months)),
            hi(r.leaseMonths.map((l) => l.months)),
            (p) => p.leaseMonths,
          ),
        },
      };
    }
    case 'education': {
      const sc = s.school;
      return {
        kind,
        includes: (p) => p.enrolled,
        columns: {
          ...common,
          age: integer(sc.minAge, sc.maxAge, (p) => p.age),
          grade: integer(1, sc.maxAge - sc.minAge + 1, (p) => p.grade),
          school_type: category(
            sc.types.map((t) => t.name),
            (p) => p.schoolType,
          ),
        },
      };
    }
  }
}

export type ColumnWriter = (p: Person, out: CsvRecordSink) => void;

/**
 * The column writers in the schema's column order, after proving every value the scenario can produce
 * lies inside the schema's domain. `where` names the files for the error message.
 */
export function bindToSchema(
  source: DatasetSource,
  dataset: string,
  schema: DatasetSchema,
  where: string,
): readonly ColumnWriter[] {
  const fail = (column: string, problem: string, fix: string): never => {
    throw new FedstatError('CONFIG_INVALID', `${where}: dataset ${dataset}, column ${column}: ${problem}; ${fix}`, {
      details: { dataset, column },
    });
  };
  return Object.entries(schema.columns).map(([name, col]) => {
    const src = Object.hasOwn(source.columns, name) ? source.columns[name] : undefined;
    if (src === undefined) {
      return fail(
        name,
        `the ${source.kind} generator has no such column`,
        `use one of: ${Object.keys(source.columns).join(', ')}`,
      );
    }
    const d = src.domain;
    if (d.type !== col.type)
      return fail(
        name,
        `the generator produces ${d.type} values but the schema declares ${col.type}`,
        'make the types agree',
      );
    if (d.type === 'category' && col.type === 'category') {
      const missing = d.values.filter((v) => !col.values.includes(v));
      if (missing.length > 0)
        fail(name, `values ${missing.join(', ')} are not in the schema`, 'add them to the column\'s "values"');
    }
    if (d.type === 'integer' && col.type === 'integer' && (d.min < col.min || d.max > col.max)) {
      fail(
        name,
        `the scenario produces [${d.min}, ${d.max}], outside the schema bounds [${col.min}, ${col.max}]`,
        'widen the bounds or narrow the scenario',
      );
    }
    return src.write;
  });
}
