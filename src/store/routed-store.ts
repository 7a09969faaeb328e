/**
 * One AgencyStore over several, chosen by dataset: an agency that answers some datasets from live
 * PostgreSQL tables and others from its DuckDB store (CSV or Parquet) hands the agency one store.
 * Each dataset has exactly one store; closing closes them all.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { ModelCoding } from '../learn/design.js';
import type { DataRecord } from '../learn/design-row.js';
import type { GlmSums } from '../learn/sums.js';
import type { Predicate, QueryPlan } from '../query/plan.js';
import type { LinkInputs, LinkSideSpec } from './link-inputs.js';
import type { AgencyStore, LocalAggregate } from './store.js';

class RoutedStore implements AgencyStore {
  readonly engine = 'mixed' as const;

  constructor(
    private readonly routes: ReadonlyMap<string, AgencyStore>,
    private readonly fallback: AgencyStore,
  ) {}

  private of(dataset: string): AgencyStore {
    return this.routes.get(dataset) ?? this.fallback;
  }

  async datasets(): Promise<readonly string[]> {
    const own = await this.fallback.datasets();
    return Object.freeze([...new Set([...own, ...this.routes.keys()])].sort());
  }

  rowCount(dataset: string): Promise<number> {
    return this.of(dataset).rowCount(dataset);
  }

  aggregate(plan: QueryPlan, schema: DatasetSchema): Promise<LocalAggregate> {
    return this.of(plan.dataset).aggregate(plan, schema);
  }

  glmSums(
    coding: ModelCoding,
    schema: DatasetSchema,
    beta: readonly number[],
    where: Predicate | null,
  ): Promise<GlmSums> {
    return this.of(coding.dataset).glmSums(coding, schema, beta, where);
  }

  scanRecords(
    dataset: string,
    schema: DatasetSchema,
    columns: readonly string[],
    where: Predicate | null,
    batchRows: number,
  ): AsyncIterable<readonly DataRecord[]> {
    return this.of(dataset).scanRecords(dataset, schema, columns, where, batchRows);
  }

  linkInputs(spec: LinkSideSpec, schema: DatasetSchema): Promise<LinkInputs> {
    return this.of(spec.dataset).linkInputs(spec, schema);
  }

  async close(): Promise<void> {
    const stores = new Set([this.fallback, ...this.routes.values()]);
    const results = await Promise.allSettled([...stores].map((s) => s.close()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A store that answers each dataset of `routes` from its store and every other dataset from
 * `fallback`. CONFIG_INVALID when a routed store does not serve its dataset.
 */
export async function routeStores(
  routes: ReadonlyMap<string, AgencyStore>,
  fallback: AgencyStore,
): Promise<AgencyStore> {
  for (const [dataset, store] of routes) {
    if (!(await store.datasets()).includes(dataset))
      throw new FedstatError('CONFIG_INVALID', `dataset ${dataset} is routed to a store that does not serve it`);
  }
  return new RoutedStore(routes, fallback);
}
