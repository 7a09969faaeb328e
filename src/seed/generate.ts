/**
 * Writes a scenario's synthetic federation to a directory: the schema, one CSV per agency dataset
 * and a manifest. Output depends only on (scenario, rows, seed): each city draws its persons from
 * its own keyed streams (see person.ts), so files are byte-identical across runs and machines, and generating a
 * subset of agencies yields exactly those agencies' files of the full run. A city's person count
 * depends on `rows` and the scenario's shares only (never on the selection), and grows with `rows`,
 * so a smaller run's files are prefixes of a larger run's.
 *
 * Rows stream to disk with backpressure, one person at a time, so memory stays flat at any size.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FedstatError, describeError } from '../errors.js';
import { CsvFileWriter } from './csv-writer.js';
import { bindToSchema, datasetSource } from './datasets.js';
import type { ColumnWriter } from './datasets.js';
import { PersonSampler, emptyPerson } from './person.js';
import type { Person } from './person.js';
import { loadScenario, scenarioAgencies } from './scenario-registry.js';
import type { LoadedScenario, ScenarioAgency } from './scenario-registry.js';
import type { Scenario } from './scenario.js';

const DEFAULT_ROWS = 10_000;
const DEFAULT_SEED = 'fedstat';
const SCHEMA_FILE = 'schema.json';
const MANIFEST_FILE = 'manifest.json';
/** Persons between two `onProgress` calls. */
const PROGRESS_EVERY = 1 << 16;

export interface GenerateOptions {
  /** A scenario in `seeds/` (see `listScenarios`). */
  readonly scenario: string;
  readonly outDir: string;
  /**
   * Residence registrations of the city with the largest `migrantShare` (成都市 in sichuan); every
   * other city gets `max(1, round(rows × share / largest share))` (see `cityPersonCounts`). The
   * other datasets hold subsets of each city's persons. Default 10,000.
   */
  readonly rows?: number;
  /** Any string; the same seed, scenario and rows give byte-identical files. Default `fedstat`. */
  readonly seed?: string;
  /** Agency ids to write (default: all). Unselected cities are skipped entirely. */
  readonly agencies?: readonly string[];
  /** Called with persons generated so far and the total (summed over the selected cities), now and then and once at the end. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ManifestDataset {
  /** File name relative to the output directory. */
  readonly file: string;
  readonly rows: number;
}

export interface ManifestAgency {
  readonly id: string;
  readonly name: string;
  /** City display name, e.g. 成都市. */
  readonly city: string;
  readonly cityId: string;
  /** Department kind: public-security, human-resources-social-security, housing or education. */
  readonly department: string;
  readonly datasets: Readonly<Record<string, ManifestDataset>>;
}

export interface ScenarioManifest {
  readonly scenario: string;
  readonly seed: string;
  /** The requested `rows`: the largest city's registrations (per-agency counts are in `datasets`). */
  readonly rows: number;
  /** Ages in the files are completed years on this date. */
  readonly referenceDate: string;
  readonly schemaFile: string;
  readonly agencies: readonly ManifestAgency[];
}

/** Generates the scenario into `outDir` (created if missing) and returns the manifest it wrote. */
export async function generateScenario(opts: GenerateOptions): Promise<ScenarioManifest> {
  const rows = opts.rows ?? DEFAULT_ROWS;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  if (typeof seed !== 'string') throw new TypeError('seed must be a string');
  const loaded = await loadScenario(opts.scenario);
  const { scenario } = loaded;
  const selected = selectAgencies(loaded, opts.agencies);
  const persons = cityPersonCounts(scenario, rows);
  const maxShare = Math.max(...scenario.cities.map((c) => c.migrantShare));
  const personsOf = (a: ScenarioAgency): number => persons[scenario.cities.indexOf(a.city)] ?? 0;
  const maxRowsOf = (a: ScenarioAgency): number => loaded.schema.datasets[a.department.dataset]?.maxRows ?? 0;
  const over = selected.find((a) => personsOf(a) > maxRowsOf(a));
  if (over !== undefined) {
    // The fix names a `rows` that fits every selected agency, not just the first one over.
    const fits = Math.min(...selected.map((a) => largestRows(a.city.migrantShare, maxShare, maxRowsOf(a))));
    const fix = fits < 1 ? `raise maxRows in ${loaded.schemaPath}` : `generate at most ${fits} rows`;
    throw new FedstatError(
      'CONFIG_INVALID',
      `${personsOf(over)} rows for ${over.city.name} exceed maxRows ${maxRowsOf(over)} of dataset ${over.department.dataset} in ${loaded.schemaPath}; ${fix}`,
    );
  }

  await inDir(opts.outDir, () => mkdir(opts.outDir, { recursive: true }));
  await inDir(opts.outDir, () => writeFile(join(opts.outDir, SCHEMA_FILE), loaded.schemaText));

  const cities = scenario.cities
    .map((c, i) => ({ index: i, persons: persons[i] ?? 0, agencies: selected.filter((a) => a.city === c) }))
    .filter((c) => c.agencies.length > 0);
  const total = cities.reduce((t, c) => t + c.persons, 0);
  const counts = new Map<string, number>();
  let base = 0;
  for (const c of cities) {
    const written = await generateCity(loaded, c.index, c.agencies, c.persons, seed, opts.outDir, (done) =>
      opts.onProgress?.(base + done, total),
    );
    for (const [id, n] of written) counts.set(id, n);
    base += c.persons;
  }
  opts.onProgress?.(total, total);

  const manifest: ScenarioManifest = {
    scenario: scenario.name,
    seed,
    rows,
    referenceDate: scenario.referenceDate,
    schemaFile: SCHEMA_FILE,
    agencies: selected.map((a) => ({
      id: a.id,
      name: a.name,
      city: a.city.name,
      cityId: a.city.id,
      department: a.department.kind,
      datasets: { [a.department.dataset]: { file: csvFileName(a), rows: counts.get(a.id) ?? 0 } },
    })),
  };
  await inDir(opts.outDir, () => writeFile(join(opts.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`));
  return deepFreeze(manifest);
}

/**
 * Persons (residence registrations) per city, in scenario order, for a run of `rows`: the city with
 * the largest `migrantShare` gets `rows`, every other city `max(1, round(rows × share / maxShare))`,
 * halves rounded up. Exact integer arithmetic, and non-decreasing in `rows` for every city, which is
 * what makes a smaller run's files prefixes of a larger run's.
 */
export function cityPersonCounts(scenario: Scenario, rows: number): readonly number[] {
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  const maxShare = BigInt(Math.max(...scenario.cities.map((c) => c.migrantShare)));
  return Object.freeze(
    scenario.cities.map((c) => {
      // round(r·s/M) = floor((2·r·s + M) / 2M); BigInt because r·s can pass 2^53.
      const n = Number((2n * BigInt(rows) * BigInt(c.migrantShare) + maxShare) / (2n * maxShare));
      return Math.max(1, n);
    }),
  );
}

/** The largest `rows` for which a city of `share` gets at most `limit` persons; 0 when none does. */
function largestRows(share: number, maxShare: number, limit: number): number {
  if (limit < 1) return 0; // every city gets at least one person
  // floor((2rs + M) / 2M) ≤ limit ⇔ 2rs + M < 2M(limit + 1) ⇔ r ≤ floor((2M·limit + M − 1) / 2s).
  const m = BigInt(maxShare);
  const r = (2n * m * BigInt(limit) + m - 1n) / (2n * BigInt(share));
  return Number(r > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : r);
}

/** `<agency id>.<dataset>.csv`, e.g. `cd-psb.residence_registrations.csv`. */
function csvFileName(agency: ScenarioAgency): string {
  return `${agency.id}.${agency.department.dataset}.csv`;
}

interface Output {
  readonly agency: ScenarioAgency;
  readonly includes: (p: Person) => boolean;
  readonly columns: readonly ColumnWriter[];
  readonly writer: CsvFileWriter;
}

/**
 * Writes the person to every output that records them; true when a stream pushed back. Kept
 * synchronous with indexed loops: in the async caller, iterators were allocated per person.
 */
function writePerson(p: Person, outputs: readonly Output[]): boolean {
  let blocked = false;
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k] as Output;
    if (!o.includes(p)) continue;
    const columns = o.columns;
    for (let c = 0; c < columns.length; c++) (columns[c] as ColumnWriter)(p, o.writer);
    if (o.writer.endRecord()) blocked = true;
  }
  return blocked;
}

function selectAgencies(loaded: LoadedScenario, ids: readonly string[] | undefined): readonly ScenarioAgency[] {
  const all = scenarioAgencies(loaded.scenario);
  if (ids === undefined) return all;
  const known = new Set(all.map((a) => a.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new FedstatError(
      'NOT_FOUND',
      `unknown agency ${unknown.map((u) => JSON.stringify(u)).join(', ')} in scenario ${loaded.scenario.name}; valid agencies: ${[...known].join(', ')}`,
      {
        details: { unknown, valid: [...known] },
      },
    );
  }
  if (ids.length === 0) throw new RangeError('agencies must name at least one agency (omit it for all)');
  return all.filter((a) => ids.includes(a.id)); // scenario order, duplicates dropped
}

/** One city's persons, written to the selected agencies' files; returns rows per agency. */
async function generateCity(
  loaded: LoadedScenario,
  cityIndex: number,
  agencies: readonly ScenarioAgency[],
  rows: number,
  seed: string,
  outDir: string,
  progress: (done: number) => void,
): Promise<Map<string, number>> {
  const { scenario, schema } = loaded;
  const city = scenario.cities[cityIndex];
  if (city === undefined) throw new RangeError(`no city at index ${cityIndex}`);
  const kinds = new Set(agencies.map((a) => a.department.kind));
  const sampler = new PersonSampler(scenario, cityIndex, seed, {
    work: kinds.has('human-resources-social-security'),
    housing: kinds.has('housing'),
    school: kinds.has('education'),
  });

  const outputs: Output[] = [];
  try {
    for (const agency of agencies) {
      const { dataset, kind } = agency.department;
      const ds = schema.datasets[dataset];
      if (ds === undefined) throw new FedstatError('INTERNAL', `dataset ${dataset} vanished from the checked schema`);
      const source = datasetSource(kind, scenario, city);
      const columns = bindToSchema(source, dataset, ds, loaded.schemaPath);
      const writer = await CsvFileWriter.create(join(outDir, csvFileName(agency)), Object.keys(ds.columns));
      outputs.push({ agency, includes: source.includes, columns, writer });
    }
    const p = emptyPerson();
    for (let i = 1; i <= rows; i++) {
      sampler.draw(p);
      if (writePerson(p, outputs)) await Promise.all(outputs.map((o) => o.writer.drained()));
      if (i % PROGRESS_EVERY === 0) progress(i);
    }
    for (const o of outputs) await o.writer.close();
  } catch (e) {
    for (const o of outputs) o.writer.abort();
    throw e;
  }
  return new Map(outputs.map((o) => [o.agency.id, o.writer.rows]));
}

async function inDir<T>(dir: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new FedstatError('IO', `cannot write to ${dir}: ${describeError(e)}; choose a writable --out directory`, {
      cause: e,
    });
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
