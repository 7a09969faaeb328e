/**
 * `fedstat/coordinator`: run encrypted cross-agency queries and train models across agencies.
 * `connectCoordinator` wires one from the federation's files; `Coordinator.create` takes the same
 * parts as values.
 *
 * @packageDocumentation
 */
export { Coordinator, type CoordinatorOptions, type FailedAgency, type QueryProgress } from './coordinator.js';
export type {
  PrivacyOptions,
  QueryExplanation,
  QueryOptions,
  QueryResult,
  QueryTimings,
  SecureAggregationReport,
} from './query-types.js';
export type { JoinExplanation } from './join-explain.js';
export type { LinkageReport, LinkageSide } from './linkage-round.js';
export type { TrainOptions, TrainPrivacy, TrainResult, TrainRound, TrainSpec } from './train-types.js';
export type { SecAggGraphChoice, SparseGraph } from '../secagg/sparse-params.js';
export type {
  NetworkPrivacyOptions,
  NetworkSpec,
  NetworkTrainOptions,
  NetworkTrainResult,
  StrategyName,
} from './fl-train-types.js';
export type { CurvePoint } from '../learn/fl/learning-curve.js';
export type { Batch, Evaluation, LocalUpdateOptions, LocalUpdateResult, Trainer } from '../learn/fl/trainer.js';
export type {
  CustomModelSpec,
  NetworkModelSpec,
  TrainerFactory,
  TrainerRegistry,
  TrainerShape,
} from '../learn/fl/trainer-registry.js';
export type { FlModelSpec } from '../learn/fl/fl-model.js';
export { mlpTrainer, type MlpOptions, type MlpShape } from '../learn/fl/mlp.js';
export type { NetworkDocument, NetworkPrivacy } from '../learn/fl/network-file.js';
export type { ModelDocument, ModelPrivacy, ModelRound } from '../learn/model-file.js';
export type { FamilyName, LinkName } from '../learn/family.js';
export type { CoefficientRow, GlmTable } from '../learn/inference.js';
export { connectCoordinator, type ConnectOptions } from './connect.js';
export type {
  CellValue,
  MeasureNoiseReport,
  PrivacyReport,
  Release,
  ResultColumn,
  ResultRow,
  RowUncertainty,
  SuppressionReport,
  Uncertainty,
} from './release.js';
export { parseQuery } from '../query/parse.js';
export { formatPlan } from '../query/format-plan.js';
export type { Predicate, QueryPlan, SelectItem, Totals } from '../query/plan.js';
export type { AgencyLink, AgencyDescription, BudgetStatus } from '../protocol/links.js';
export type { DryRunPrediction } from './dry-run.js';
export type { AnswerMode } from '../protocol/query-envelope.js';
