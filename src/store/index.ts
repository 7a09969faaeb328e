/**
 * `fedstat/store`: where an agency keeps its records and computes its local aggregates. Plans are
 * compiled to parameterized SQL here and nowhere else; CSV files are validated row by row against
 * the schema (in SQL) as they load.
 */
export type { AgencyStore, InvalidRow, LoadOptions, LoadReport, LocalAggregate } from './store.js';
export { openDuckDbStore, schemaFingerprint } from './duckdb-store.js';
export { compileAggregate } from './compile-sql.js';
export type { CompiledAggregate } from './compile-sql.js';
export { DUCKDB_DIALECT, POSTGRES_DIALECT, qualifiedDialect, quoteIdent } from './sql-dialect.js';
export type { SqlDialect, SqlType } from './sql-dialect.js';
export { groupIndex, toLocalAggregate } from './local-aggregate.js';
