/**
 * The scenarios shipped in fedstat's `seeds/` directory: listing, loading (scenario plus its
 * schema, cross-checked so every value the scenario can produce is inside the schema) and the
 * agencies a scenario defines (one per city and department, e.g. `cd-psb`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FedstatError, describeError } from '../errors.js';
import { parseSchemaText } from '../federation/schema.js';
import type { Schema } from '../federation/schema.js';
import { packageRoot } from '../util/package-root.js';
import { bindToSchema, datasetSource } from './datasets.js';
import { parseScenario } from './scenario.js';
import type { City, Department, DepartmentKind, LevelEffects, Scenario } from './scenario.js';

const SCENARIO_FILE = 'scenario.json';
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly schema: Schema;
  /** The directory holding `scenario.json` and the schema file. */
  readonly dir: string;
  readonly schemaPath: string;
  /** The schema file's exact text, copied verbatim into every generated directory. */
  readonly schemaText: string;
}

/** One data-holding party of a scenario: a department of a city. */
export interface ScenarioAgency {
  /** `<city id>-<department id>`, e.g. `cd-psb`. */
  readonly id: string;
  /** Chinese display name, e.g. 成都市公安局. */
  readonly name: string;
  readonly city: City;
  readonly department: Department;
}

/** fedstat's `seeds/` directory. */
export function seedsDirectory(): string {
  return join(packageRoot(), 'seeds');
}

/** Names of the shipped scenarios (directories of `seeds/` with a scenario.json), sorted. */
export function listScenarios(): string[] {
  const root = seedsDirectory();
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && NAME.test(e.name) && existsSync(join(root, e.name, SCENARIO_FILE)))
    .map((e) => e.name)
    .sort();
}

/** Loads and cross-checks a shipped scenario; NOT_FOUND (listing valid names) if there is none. */
export async function loadScenario(name: string): Promise<LoadedScenario> {
  const valid = listScenarios();
  if (!valid.includes(name)) {
    throw new FedstatError(
      'NOT_FOUND',
      `unknown scenario ${JSON.stringify(name)}; valid scenarios: ${valid.join(', ') || '(none installed)'}`,
      {
        details: { scenario: name, valid },
      },
    );
  }
  const dir = join(seedsDirectory(), name);
  const scenarioPath = join(dir, SCENARIO_FILE);
  const scenario = parseScenario(parseJson(await readText(scenarioPath), scenarioPath), scenarioPath);
  if (scenario.name !== name) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `${scenarioPath}: name: ${JSON.stringify(scenario.name)} differs from its directory ${JSON.stringify(name)}; make them equal`,
    );
  }
  const schemaPath = join(dir, scenario.schemaFile);
  const schemaText = await readText(schemaPath);
  const schema = parseSchemaText(schemaText, schemaPath);
  for (const agency of scenarioAgencies(scenario)) {
    const { dataset, kind } = agency.department;
    const ds = Object.hasOwn(schema.datasets, dataset) ? schema.datasets[dataset] : undefined;
    if (ds === undefined) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `${scenarioPath}: department ${agency.department.id} names dataset ${dataset}, which ${schemaPath} does not declare; valid datasets: ${Object.keys(schema.datasets).join(', ')}`,
      );
    }
    bindToSchema(datasetSource(kind, scenario, agency.city), dataset, ds, `${scenarioPath} against ${schemaPath}`);
  }
  checkReferenceLevels(scenario, schema, scenarioPath, schemaPath);
  return Object.freeze({ scenario, schema, dir, schemaPath, schemaText });
}

/**
 * The ground truth's coefficients are those a GLM reports, so each category column's reference
 * level, the one with coefficient 0, must be the first value of that column in the schema.
 */
export function checkReferenceLevels(
  scenario: Scenario,
  schema: Schema,
  scenarioPath: string,
  schemaPath: string,
): void {
  const { insured, arrivals } = scenario.groundTruth;
  const datasetOf = (kind: DepartmentKind) => scenario.departments.find((d) => d.kind === kind)?.dataset;
  const checks: [DepartmentKind, string, string, LevelEffects][] = [
    ['human-resources-social-security', 'groundTruth.insured', 'sex', insured.sex],
    ['human-resources-social-security', 'groundTruth.insured', 'sector', insured.sector],
    ['human-resources-social-security', 'groundTruth.insured', 'district', insured.district],
    ['public-security', 'groundTruth.arrivals.districtEffects', 'district', arrivals.districtEffects],
  ];
  for (const [kind, path, column, effects] of checks) {
    const dataset = datasetOf(kind);
    const col = dataset === undefined ? undefined : schema.datasets[dataset]?.columns[column];
    const first = col?.type === 'category' ? col.values[0] : undefined;
    if (first === undefined || !Object.hasOwn(effects, first) || effects[first] === 0) continue;
    throw new FedstatError(
      'CONFIG_INVALID',
      `${scenarioPath}: ${path}: the reference level of ${column} is ${first}, the first value of ${dataset ?? ''}.${column} in ${schemaPath}, but its coefficient is ${effects[first]}; list ${first} first with coefficient 0, or reorder the schema's values`,
    );
  }
}

/** Every agency of the scenario, city by city, departments in declaration order. */
export function scenarioAgencies(scenario: Scenario): readonly ScenarioAgency[] {
  const out = scenario.cities.flatMap((city) =>
    scenario.departments.map((department) =>
      Object.freeze({ id: `${city.id}-${department.id}`, name: `${city.name}${department.name}`, city, department }),
    ),
  );
  const ids = new Set(out.map((a) => a.id));
  if (ids.size !== out.length) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `scenario ${scenario.name}: two city/department pairs give the same agency id; avoid dashes in city or department ids`,
    );
  }
  return Object.freeze(out);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new FedstatError('IO', `cannot read ${path}: ${describeError(e)}; reinstall fedstat or restore the file`, {
      cause: e,
    });
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FedstatError('CONFIG_INVALID', `${file}: not valid JSON (${describeError(e)}); fix the syntax`, {
      cause: e,
      details: { file },
    });
  }
}
