/** fedstat/coordinator: run encrypted cross-agency queries. */
export { Coordinator, type CoordinatorOptions, type QueryOptions, type QueryResult, type QueryProgress, type FailedAgency, type QueryTimings, type QueryExplanation } from './coordinator.js';
export { connectCoordinator, defaultKeyFile, type ConnectOptions } from './connect.js';
export { release, average, type Release, type ResultRow, type ResultColumn, type CellValue } from './release.js';
