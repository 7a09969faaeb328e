/**
 * `fedstat/seed`: deterministic synthetic federations for demos, tests and benchmarks, modelled on
 * migrant-population governance in 四川省 (see seeds/sichuan/scenario.json).
 */
export { generateScenario, cityPersonCounts, csvFileName, DEFAULT_ROWS, DEFAULT_SEED, SCHEMA_FILE, MANIFEST_FILE } from './generate.js';
export type { GenerateOptions, ScenarioManifest, ManifestAgency, ManifestDataset } from './generate.js';
export { listScenarios, loadScenario, scenarioAgencies, seedsDirectory } from './scenario-registry.js';
export type { LoadedScenario, ScenarioAgency } from './scenario-registry.js';
export { parseScenario, DEPARTMENT_KINDS } from './scenario.js';
export type { Scenario, City, District, Department, DepartmentKind, Origin, Sector } from './scenario.js';
export { formatCitizenId, parseCitizenId, CitizenIdAllocator } from './citizen-id.js';
export type { ParsedCitizenId, AllocatorOptions } from './citizen-id.js';
export { SeededPrng, deriveSeedKey } from './prng.js';
export { CsvFileWriter, csvField, csvRecord, encodeField } from './csv-writer.js';
export type { CsvWriterOptions, CsvRecordSink } from './csv-writer.js';
