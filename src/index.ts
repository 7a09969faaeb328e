/**
 * `fedstat`: everything an agency developer needs to embed an agency node in a service.
 *
 * Read the agency's material from files (`loadAgencyMaterial`) or take it from memory
 * (`agencyMaterialFrom`), open a store and a budget ledger, `createAgency`, then `serveAgency`
 * (or `mountAgency` on a gRPC server you already run). The coordinator, the key authority, the
 * auditor's tools and the primitives have their own entry points: `fedstat/coordinator`,
 * `fedstat/key-authority`, `fedstat/audit`, `fedstat/primitives`.
 *
 * @packageDocumentation
 */
export { FedstatError, ERROR_CODES, isFedstatError, type ErrorCode, type FedstatErrorOptions } from './errors.js';
export {
  loadFederation,
  parseFederation,
  type Federation,
  type Party,
  type PartyRole,
  type Policy,
} from './federation/federation.js';
export type { Schema, DatasetSchema, Column, CategoryColumn, IntegerColumn, IdColumn } from './federation/schema.js';
export {
  loadKeyFile,
  parseKeyFile,
  type KeyFileSource,
  type PartySecrets,
  type PartyTls,
} from './federation/key-file.js';
export { createAgency, type Agency, type AgencyMaterial, type AgencyOptions } from './agency/agency.js';
export { agencyMaterialFrom, type AgencyMaterialSource } from './agency/material.js';
export {
  loadAgencyMaterial,
  startAgencyNode,
  type AgencyNode,
  type AgencyNodeOptions,
  type DatasetSource,
} from './agency/node.js';
export {
  AGENCY_SERVER_OPTIONS,
  agencyCredentials,
  mountAgency,
  serveAgency,
  type AgencyServeOptions,
  type ServeAgencyOptions,
} from './agency/serve.js';
export type { RunningServer } from './transport/listen.js';
export { openDuckDbStore } from './store/duckdb-store.js';
export { openPostgresStore, type PostgresDataset, type PostgresStoreOptions } from './store/postgres-store.js';
export { routeStores } from './store/routed-store.js';
export type { InvalidRowCensus, InvalidRowsReport, OnInvalidRows } from './store/invalid-rows.js';
export type { LinkInputs, LinkSideSpec } from './store/link-inputs.js';
export type {
  AgencyStore,
  DuckDbAgencyStore,
  InvalidRow,
  LoadOptions,
  LoadReport,
  LocalAggregate,
  ParquetOptions,
} from './store/store.js';
export { BudgetLedger, type BudgetLedgerOptions, type Charge } from './dp/budget-ledger.js';
export type { Rho } from './dp/rho.js';
export type { AgencyDescription, BudgetStatus } from './protocol/links.js';
export { LogWitness } from './transparency/log-witness.js';
export { JsonlAuditSink, type AuditEvent, type AuditSink } from './transparency/events.js';
export type { Batch, Evaluation, LocalUpdateOptions, LocalUpdateResult, Trainer } from './learn/fl/trainer.js';
export type { TrainerFactory, TrainerRegistry, TrainerShape } from './learn/fl/trainer-registry.js';
export { mlpTrainer, type MlpOptions, type MlpShape } from './learn/fl/mlp.js';
