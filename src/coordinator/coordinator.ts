/**
 * The coordinator: parses SQL into a plan, proves the plan cannot wrap the plain modulus, asks the
 * agencies that serve the dataset (round 1: masked, encrypted, signed contributions), fixes and
 * signs the survivor set, collects what removes the masks from the survivors (round 2), has the
 * key authority decrypt only the unmasked total, and releases the rows the policy allows. It
 * never holds the BFV secret key and reaches agencies only through AgencyLinks.
 */
import { FedstatError } from '../errors.js';
import { allSinks, NO_AUDIT } from '../transparency/events.js';
import { toHex } from '../crypto/digest.js';
import { datasetParties, datasetSchemaOf, partyOfRole, type Federation } from '../federation/federation.js';
import type { HeParams } from '../he/he-params.js';
import { planSlotLayout, proveNoWrap, unpackSlots, type SlotLayout } from '../he/packing.js';
import { planCells, type PlanCells } from '../protocol/cells.js';
import { flRoundLogView, isFlRoundPlan } from '../protocol/fl-round.js';
import { isGlmRoundPlan } from '../protocol/glm-round.js';
import { isJoinRoundPlan } from '../protocol/join-round.js';
import { privacyTerms, queryRho, queryRhoText, type PrivacyTerms } from '../protocol/privacy-terms.js';
import { predictQuery, type DryRunPrediction } from './dry-run.js';
import { signDecryptionRequest } from '../protocol/decryption.js';
import type { AgencyDescription } from '../protocol/links.js';
import { MAX_QUERY_BYTES, newQueryId, queryDigest, signQuery, type QueryEnvelope } from '../protocol/query-envelope.js';
import { signSurvivorSet, type SignedSurvivorSet, type SurvivorSet } from '../protocol/survivor-set.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import { formatPlan } from '../query/format-plan.js';
import { parseQuery } from '../query/parse.js';
import { isJoinQuery } from '../query/parse-join.js';
import { joinContributors, planJoinQuery } from './join-query.js';
import { explainJoin, predictJoin } from './join-explain.js';
import type { QueryPlan } from '../query/plan.js';
import { checkQuorum, queryThreshold, releaseRho } from './query-policy.js';
import { preflight } from './preflight.js';
import { UnloggedDelivery, type LoggedEntry } from './unlogged-delivery.js';
import { defaultThreshold } from '../secagg/participant.js';
import { graphForQuery } from '../secagg/sparse-params.js';
import { EncryptedSums, type EncryptedSum } from './encrypted-sum.js';
import { coordinatorParams, requireCoordinatorKey, type CoordinatorOptions } from './coordinator-options.js';
import { failure, roundOne, type FailedAgency, type RoundOne } from './gather.js';
import type {
  DiscoveredAgencies,
  LogProofSource,
  PlannedQuery,
  QueryContext,
  RoundFinish,
  RoundOptions,
  RoundRun,
  SentQuery,
  SizedPlan,
} from './query-context.js';
import { QueryLog } from './query-log.js';
import { DEFAULT_DISPLAY_DELTA, type QueryExplanation, type QueryOptions, type QueryResult } from './query-types.js';
import { keyAuthorityProof, loggedDecryption } from './logged-decryption.js';
import { release, type Release } from './release.js';
import { unmaskSum } from './unmask-round.js';
import { trainNetwork } from './fedavg.js';
import type { NetworkSpec, NetworkTrainOptions, NetworkTrainResult } from './fl-train-types.js';
import { trainModel, type TrainContext } from './train.js';
import type { TrainOptions, TrainResult, TrainSpec } from './train-types.js';

export type { CoordinatorOptions } from './coordinator-options.js';
export type { FailedAgency, QueryProgress } from './query-context.js';
export type { QueryExplanation, QueryOptions, QueryResult } from './query-types.js';

const DEFAULT_DEADLINE_MS = 30_000;
/** How long a signed query stays valid by default: a query, and a join (linkage included). */
const QUERY_TTL_MS = 300_000;
const JOIN_TTL_MS = 3_600_000;
const OTHER_FEDERATION_FILE =
  'its federation file differs from this one (the federation ids differ): a copy was edited or replaced; ' +
  'give every party the same federation.json';
const OTHER_HE_PARAMETERS =
  'uses other HE parameters than this federation file; give every party the same federation.json';

/**
 * Runs a federation's queries over its agencies, key authority and transparency log. Make one with
 * `Coordinator.create` (or `connectCoordinator`), and close it when done: it owns what it was given.
 */
export class Coordinator implements AsyncDisposable {
  private readonly sums: EncryptedSums;
  private delivery: UnloggedDelivery | null = null;

  private constructor(
    private readonly options: CoordinatorOptions,
    private readonly params: HeParams,
  ) {
    this.sums = new EncryptedSums(params, options.federation.he.preset, options.isolation ?? 'worker');
  }

  /**
   * A coordinator over `options`, contacting no one yet. KEY_INVALID when `options.secrets` is not
   * the coordinator's key file; CONFIG_INVALID when `options.params` are not the federation's.
   */
  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    requireCoordinatorKey(options.secrets);
    return new Coordinator(options, await coordinatorParams(options));
  }

  /** The federation this coordinator queries. */
  get federation(): Federation {
    return this.options.federation;
  }

  /** Parses and validates SQL into a plan without contacting anyone. */
  plan(sql: string): QueryPlan {
    return parseQuery(sql, this.federation.schema);
  }

  /**
   * The plan, its slot layout and the proof that no slot total reaches the plain modulus (with
   * room for the noise when `privacy` is given), without contacting anyone.
   */
  explain(sql: string, options: Pick<QueryOptions, 'privacy' | 'threshold' | 'maxRowsPerId'> = {}): QueryExplanation {
    if (isJoinQuery(sql)) return explainJoin(this.federation, this.params, sql, options);
    const plan = this.plan(sql);
    const schema = datasetSchemaOf(this.federation, plan.dataset);
    const cells = planCells(plan, schema);
    const parties = datasetParties(this.federation, plan.dataset).length;
    const given = options.privacy?.rho;
    // Without discovering who serves the dataset: the threshold of all the parties allowed to.
    const threshold = options.threshold ?? defaultThreshold(parties);
    const terms = given === undefined ? null : privacyTerms(cells, schema, queryRho(given), threshold);
    return this.explanation(plan, cells, parties, terms);
  }

  private explanation(
    plan: QueryPlan,
    cells: PlanCells,
    parties: number,
    terms: PrivacyTerms | null,
  ): QueryExplanation {
    const layout = this.layoutFor(cells, parties, terms);
    return {
      sql: formatPlan(plan),
      plan,
      groups: cells.groupCount,
      measures: cells.measures.map((m) => (m.kind === 'count' ? 'COUNT(*)' : `SUM(${m.column ?? ''})`)),
      parties: layout.parties,
      limbBase: layout.limbBase,
      slotsUsed: layout.slotsUsed,
      ciphertexts: layout.ciphertextCount,
      worstSlotTotal: proveNoWrap(layout, this.params),
      noiseBound: layout.noiseBound,
      plainModulus: this.params.plainModulus,
    };
  }

  /**
   * What `query` would do and cost, asking the agencies only to Describe themselves (no query is
   * sent, nothing is spent): the plan and its no-wrap proof, the privacy terms, and which agencies
   * would refuse (dataset not served, no or too little budget, exact release not allowed).
   */
  async dryRun(
    sql: string,
    options: Pick<QueryOptions, 'privacy' | 'threshold' | 'maxRowsPerId'> = {},
  ): Promise<QueryExplanation & { readonly prediction: DryRunPrediction }> {
    if (isJoinQuery(sql)) return predictJoin(this.federation, this.params, sql, options, () => this.discover());
    const plan = this.plan(sql);
    const schema = datasetSchemaOf(this.federation, plan.dataset);
    const cells = planCells(plan, schema);
    const candidates = datasetParties(this.federation, plan.dataset)
      .map((p) => p.id)
      .sort();
    const given = options.privacy?.rho;
    const rho = given === undefined ? null : queryRho(given);
    const { described, failed } = await this.discover();
    const serving = described.filter(
      (d) => d.datasets.includes(plan.dataset) && candidates.includes(d.agencyId),
    ).length;
    // With one agency or none the query cannot run anyway (prediction.enough says so); its terms still show.
    const threshold = serving <= 1 ? 1 : queryThreshold(serving, options.threshold);
    const terms = rho === null ? null : privacyTerms(cells, schema, rho, threshold);
    const prediction = predictQuery({
      dataset: plan.dataset,
      candidates,
      described,
      failed,
      policy: this.federation.policy,
      threshold,
      terms,
      delta: options.privacy?.delta ?? DEFAULT_DISPLAY_DELTA,
    });
    return { ...this.explanation(plan, cells, candidates.length, terms), prediction };
  }

  /** Which agencies serve which datasets now; unreachable agencies are reported as failed. */
  async discover(): Promise<{ described: AgencyDescription[]; failed: FailedAgency[] }> {
    const deadline = this.options.describeDeadlineMs ?? 5_000;
    const results = await Promise.allSettled(this.options.links.map((l) => l.describe(deadline)));
    const described: AgencyDescription[] = [];
    const failed: FailedAgency[] = [];
    results.forEach((r, i) => {
      const id = this.options.links[i]?.agencyId ?? '?';
      if (r.status === 'rejected') return failed.push(failure(id, r.reason));
      const d = r.value;
      if (d.agencyId !== id) failed.push({ id, code: 'BAD_MESSAGE', reason: `answers as ${d.agencyId}` });
      // Both sides loaded a federation file, and not the same one: configuration, not the network.
      else if (d.federationId !== this.federation.id)
        failed.push({ id, code: 'CONFIG_INVALID', reason: OTHER_FEDERATION_FILE });
      else if (d.paramsId !== this.params.paramsId)
        failed.push({ id, code: 'CONFIG_INVALID', reason: OTHER_HE_PARAMETERS });
      else described.push(d);
      return undefined;
    });
    return { described, failed };
  }

  /**
   * Runs a query: plan → discover → log → round 1 → round 2 → decrypt → release. Nothing is sent
   * before the query is durably in the transparency log, when there is one; nothing is returned
   * before everything logged about it is durable; a failed query's entries are published too.
   */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    if (isJoinQuery(sql)) return this.queryJoin(sql, options);
    const t0 = performance.now();
    const { planned, plan, cells } = this.planQuery(sql, options);
    const t1 = performance.now();
    const run = await this.runRound(planned, options, (q, sent, r1, slots) =>
      this.releaseRows(q, plan, cells, sent, r1, slots, options.privacy?.delta),
    );
    return this.queryResult(run, sql, plan, t0, t1);
  }

  /**
   * A query over linked records: planned with both sides' agencies, logged, linked (private set
   * intersection and the encrypted components, linkage-round.ts), then round 1 at the multiplying
   * side and everything after it as for any query, released over the join's virtual cells.
   */
  private async queryJoin(sql: string, options: QueryOptions): Promise<QueryResult> {
    const t0 = performance.now();
    const { planned, state } = planJoinQuery(this.federation, this.params, sql, {
      ...(options.privacy?.rho === undefined ? {} : { rho: options.privacy.rho }),
      ...(options.maxRowsPerId === undefined ? {} : { maxRowsPerId: options.maxRowsPerId }),
    });
    this.requireLog();
    const t1 = performance.now();
    const run = await this.runRound(planned, options, (q, sent, r1, slots) => {
      const cells = state.cells;
      if (cells === null) throw new FedstatError('INTERNAL', 'a join was released before it was sized');
      const contributors = joinContributors(state, r1.answered);
      const delta = options.privacy?.delta;
      return this.releaseRows(
        { ...q, schema: cells.schema },
        cells.plan,
        cells.cells,
        sent,
        r1,
        slots,
        delta,
        contributors,
      );
    });
    const plan = state.cells?.plan;
    if (plan === undefined) throw new FedstatError('INTERNAL', 'a join ran without its cells');
    return {
      ...this.queryResult(run, sql, plan, t0, t1),
      ...(state.linkage === null ? {} : { linkage: state.linkage }),
    };
  }

  private queryResult(run: RoundRun<Release>, sql: string, plan: QueryPlan, t0: number, t1: number): QueryResult {
    const { q, r1, survivors, unmasked, marks } = run;
    const t6 = performance.now();
    return {
      ...run.result,
      queryId: q.queryId,
      sql,
      plan,
      mode: q.mode,
      agencies: { answered: r1.answered, failed: r1.failed },
      secureAggregation:
        r1.secagg === null
          ? null
          : { threshold: q.threshold, survivors: r1.answered, dropped: survivors.dropped, ...unmasked },
      ciphertexts: q.layout.ciphertextCount,
      timings: {
        planMs: t1 - t0,
        discoverMs: marks.discovered - t1,
        gatherMs: marks.gathered - marks.discovered,
        unmaskMs: marks.unmasked - marks.gathered,
        decryptMs: marks.decrypted - marks.unmasked,
        releaseMs: t6 - marks.decrypted,
        totalMs: t6 - t0,
      },
    };
  }

  /** discover → admit → log → round 1 → survivors → round 2 → decrypt, then `finish`; a failed round's entries are published. */
  private async runRound<T>(
    planned: PlannedQuery,
    options: RoundOptions,
    finish: RoundFinish<T>,
  ): Promise<RoundRun<T>> {
    const found = await this.discoverServing(planned);
    const discovered = performance.now();
    const q = await this.admit(planned, found, options);
    // The running sum opens in the SEAL worker while the query is made durable in the log.
    const opening = q.mode === 'plaintext' ? null : this.sums.open(q.layout);
    opening?.catch(() => undefined); // its failure is reported where it is awaited
    let sent: SentQuery;
    try {
      sent = await this.logQuery(q);
    } catch (e) {
      void opening?.then(
        (s) => s.dispose(),
        () => undefined,
      );
      throw e;
    }
    options.onProgress?.({ phase: 'asked', agencies: q.serving });
    let finished = false;
    let sum: EncryptedSum | null = null;
    try {
      const lost = planned.link === undefined ? [] : await planned.link(q, sent);
      sum = await opening;
      const r1 = await roundOne(q, sent, sum, options, lost);
      const gathered = performance.now();
      const survivors = this.fixSurvivors(q, sent, r1);
      // Round 2 appends nothing to the log: the key authority's proof is built while it runs.
      const proof = sum === null ? undefined : this.keyAuthorityProof(sent);
      const unmasked = await unmaskSum(q, sent, r1, survivors.signed, sum, options);
      const unmaskedAt = performance.now();
      options.onProgress?.({ phase: 'decrypting' });
      const slots = await this.decrypt(sent, survivors.signed, r1, sum, proof);
      const decrypted = performance.now();
      const result = await finish(q, sent, r1, slots);
      finished = true;
      return {
        q,
        sent,
        r1,
        survivors: survivors.set,
        unmasked,
        result,
        marks: { discovered, gathered, unmasked: unmaskedAt, decrypted },
      };
    } finally {
      if (sum !== null) sum.dispose();
      else
        void opening?.then(
          (s) => s.dispose(),
          () => undefined,
        );
      // A failed round's refusals and survivor set are in the log too (best effort: the failure is what the caller sees).
      if (!finished) await sent.queryLog?.publish().catch(() => undefined);
    }
  }

  /**
   * Fits a generalized linear model across the agencies serving `spec.dataset`: one query per
   * Newton round (train.ts), each signed, logged, masked, encrypted and decrypted as a total, so the
   * coefficients equal the pooled-data fit (exact) or carry distributed noise (`options.privacy`).
   * Returns MODEL.json's document with every round and its log entry.
   */
  train(spec: TrainSpec, options: TrainOptions = {}): Promise<TrainResult> {
    return trainModel(this.trainContext(), spec, options);
  }

  /**
   * Trains a neural network (or a GLM-shaped model) across the agencies serving `spec.dataset` by
   * federated averaging (fedavg.ts): one query per round, each signed, logged, masked, encrypted and
   * decrypted as the sum of the agencies' updates, with record-level distributed DP when
   * `options.privacy` is given. Returns the network MODEL.json and the learning curve.
   */
  trainNetwork(spec: NetworkSpec, options: NetworkTrainOptions = {}): Promise<NetworkTrainResult> {
    const network = { trainers: this.options.trainers ?? {}, discover: () => this.discover() };
    return trainNetwork({ ...this.trainContext(), ...network }, spec, options);
  }

  /** What a training run needs of the coordinator: its federation, HE parameters and round steps. */
  private trainContext(): TrainContext {
    return {
      federation: this.federation,
      params: this.params,
      runRound: (planned, roundOptions, finish) => this.runRound(planned, roundOptions, finish),
      requireLog: () => this.requireLog(),
      now: () => this.now(),
    };
  }

  /** Plan: the SQL parsed, its cells and how it may be released; what cannot run is refused before anyone is contacted. */
  private planQuery(sql: string, options: QueryOptions): { planned: PlannedQuery; plan: QueryPlan; cells: PlanCells } {
    const plan = this.plan(sql);
    const schema = datasetSchemaOf(this.federation, plan.dataset);
    const cells = planCells(plan, schema);
    const candidates = datasetParties(this.federation, plan.dataset).map((p) => p.id);
    const rho = releaseRho(plan, cells, this.federation.policy, options.privacy?.rho);
    this.requireLog();
    this.layoutFor(cells, candidates.length, null); // too many ciphertexts: refused before anyone is contacted
    const size = (threshold: number): SizedPlan => {
      // The noise depends on the threshold: still before any query is sent or any budget spent.
      const terms = rho === null ? null : privacyTerms(cells, schema, rho, threshold);
      return { plan, terms, layout: this.layoutFor(cells, candidates.length, terms) };
    };
    return { planned: { sql, dataset: plan.dataset, schema, candidates, rho, size }, plan, cells };
  }

  /** CONFIG_INVALID when the federation requires its transparency log and this coordinator has none. */
  private requireLog(): void {
    if (this.federation.policy.transparencyLog && this.options.transparencyLog === undefined) {
      throw new FedstatError(
        'CONFIG_INVALID',
        'the federation requires every query to be in its transparency log; give the coordinator one (--transparency-log FILE)',
      );
    }
  }

  /** Discover: which agencies allowed to serve the dataset serve it now, and which of them are unreachable. */
  private async discoverServing(planned: PlannedQuery): Promise<DiscoveredAgencies> {
    const { dataset, candidates } = planned;
    const { described, failed } = await this.discover();
    const serving = described
      .filter((d) => d.datasets.includes(dataset))
      .map((d) => d.agencyId)
      .filter((id) => candidates.includes(id))
      .sort();
    const failedServing = failed.filter((f) => candidates.includes(f.id));
    if (serving.length === 0 && failedServing.length === 0) {
      throw new FedstatError(
        'NOT_FOUND',
        `no agency serves dataset ${dataset}; start agencies with --dataset ${dataset}=FILE.csv`,
      );
    }
    return { described, serving, failedServing };
  }

  /**
   * Discover, continued: the query's id, threshold, privacy terms and layout for the agencies
   * found; the unlogged charges they reported go into the log; and the preflight refuses a query
   * bound to fail before it is logged, sent or paid for.
   */
  private async admit(planned: PlannedQuery, found: DiscoveredAgencies, options: RoundOptions): Promise<QueryContext> {
    const { described, serving, failedServing } = found;
    const mode = options.mode ?? 'encrypted';
    const queryId = planned.queryId ?? newQueryId();
    const requireAll = options.requireAll === true;
    const reason = options.requireAllReason === undefined ? {} : { requireAllReason: options.requireAllReason };
    // Nobody reachable: say who failed and why, before any threshold arithmetic over zero agencies.
    if (serving.length === 0) {
      const asked = failedServing.length;
      checkQuorum(this.federation.policy, {
        queryId,
        answered: [],
        failed: failedServing,
        asked,
        threshold: 1,
        mode,
        requireAll,
        ...reason,
      });
    }
    const threshold = queryThreshold(serving.length, options.threshold);
    const sized = planned.size(threshold, found);
    // Charges whose entries never reached the log (an earlier query failed, or its coordinator died) go in first.
    const delivered = await this.deliverUnlogged(described);
    // A query bound to fail is not sent: no agency spends budget on it.
    await preflight({
      policy: this.federation.policy,
      keyAuthority: this.options.keyAuthority,
      describeDeadlineMs: this.options.describeDeadlineMs ?? 5_000,
      delta: DEFAULT_DISPLAY_DELTA,
      queryId,
      dataset: planned.dataset,
      described,
      serving,
      failedServing,
      threshold,
      terms: sized.terms,
      mode,
      requireAll,
      ...reason,
    });
    return {
      ...planned,
      ...found,
      ...sized,
      federation: this.federation,
      links: this.options.links,
      queryId,
      mode,
      requireAll,
      ...reason,
      threshold,
      deadlineMs: options.deadlineMs ?? DEFAULT_DEADLINE_MS,
      delivered,
    };
  }

  /**
   * Log: the envelope signed and the query in the audit trail; with a transparency log, durably in
   * it before anyone is asked (agencies refuse a query they cannot see there).
   */
  private async logQuery(q: QueryContext): Promise<SentQuery> {
    const now = this.now();
    // Masks only exist in `encrypted` mode; the graph is signed with the query, fixed before anyone answers.
    const secaggGraph = q.mode === 'encrypted' ? graphForQuery(q.serving.length, this.options.secureAggregation) : null;
    const envelope: QueryEnvelope = {
      v: 1,
      queryId: q.queryId,
      federationId: this.federation.id,
      paramsId: this.params.paramsId,
      mode: q.mode,
      plan: q.plan,
      agencies: q.serving,
      threshold: q.threshold,
      issuedAt: now,
      // A join links every id of both datasets before round 1: minutes per million ids.
      expiresAt: now + (this.options.queryTtlMs ?? (isJoinRoundPlan(q.plan) ? JOIN_TTL_MS : QUERY_TTL_MS)),
      ...(q.terms === null ? {} : { privacy: { rho: queryRhoText(q.terms.rho) } }),
      ...(secaggGraph === null ? {} : { secaggGraph }),
    };
    const signed = signQuery(envelope, this.options.secrets.signing.secretKey);
    // Every agency would refuse it: refused here, before it is logged or sent.
    if (signed.bytes.length > MAX_QUERY_BYTES)
      throw new FedstatError(
        'MESSAGE_TOO_LARGE',
        `query ${q.queryId} not sent, nothing spent: it takes ${signed.bytes.length} bytes and an agency accepts ${MAX_QUERY_BYTES}; use a smaller model (fewer parameters) or a shorter query`,
      );
    const log = this.options.transparencyLog;
    const audit = log === undefined ? (this.options.audit ?? NO_AUDIT) : allSinks(this.options.audit ?? NO_AUDIT, log);
    const round = isGlmRoundPlan(q.plan) || isFlRoundPlan(q.plan) || isJoinRoundPlan(q.plan);
    const sql = round ? q.sql : formatPlan(q.plan);
    // The log keeps a round's parameters as their digest; the envelope's digest binds the parameters themselves.
    const plan = isFlRoundPlan(q.plan) ? flRoundLogView(q.plan) : q.plan;
    // A join asks both datasets' agencies (the encrypting side contributes too, outside round 1).
    const agencies = isJoinRoundPlan(q.plan) ? [...q.plan.sides.left, ...q.plan.sides.right].sort() : q.serving;
    const asked = { at: now, queryId: q.queryId, sql, plan, agencies };
    (this.options.audit ?? NO_AUDIT).append({ type: 'query', ...asked, digest: toHex(queryDigest(signed.bytes)) });
    const queryLog = log === undefined ? null : await QueryLog.begin(log, this.federation, signed, asked);
    return { envelope, signed, queryLog, audit, logProof: queryLog === null ? undefined : this.logProofs(q, queryLog) };
  }

  /** Each agency's proof that the query is in the log: from the head it reported in Describe, or (`stale`) the one it reports now. */
  private logProofs(q: QueryContext, queryLog: QueryLog): LogProofSource {
    const heads = new Map(q.described.map((d) => [d.agencyId, d.logHead?.size ?? 0]));
    const describeDeadline = this.options.describeDeadlineMs ?? 5_000;
    return async (link, stale) => {
      const from = stale
        ? ((await link.describe(describeDeadline)).logHead?.size ?? 0)
        : (heads.get(link.agencyId) ?? 0);
      return queryLog.proofFor(from, `agency ${link.agencyId}`, q.delivered.get(link.agencyId));
    };
  }

  /**
   * After round 1: what every agency signed (refusals, budget charges, contributions) is logged
   * whether or not the query goes on, and before the survivor set that counts the contributions;
   * then the quorum check, and the survivor set, fixed once and signed.
   */
  private fixSurvivors(
    q: QueryContext,
    sent: SentQuery,
    r1: RoundOne,
  ): { set: SurvivorSet; signed: SignedSurvivorSet } {
    for (const [id, entry] of r1.gathered.refusals) sent.queryLog?.appendRefusal(id, entry);
    for (const entries of r1.gathered.logEntries.values()) sent.queryLog?.appendChecked(entries);
    checkQuorum(this.federation.policy, {
      queryId: q.queryId,
      answered: r1.answered,
      failed: r1.failed,
      asked: q.serving.length + q.failedServing.length,
      threshold: q.threshold,
      mode: q.mode,
      requireAll: q.requireAll,
      ...(q.requireAllReason === undefined ? {} : { requireAllReason: q.requireAllReason }),
    });
    // Fixed once: from here on a late contribution counts as dropped, never as a survivor.
    const fixed = r1.secagg?.fixSurvivors() ?? {
      survivors: r1.answered,
      dropped: q.serving.filter((a) => !r1.answered.includes(a)),
    };
    const set: SurvivorSet = {
      v: 1,
      round: 2,
      queryId: q.queryId,
      federationId: this.federation.id,
      queryDigest: toHex(queryDigest(sent.signed.bytes)),
      survivors: fixed.survivors,
      dropped: fixed.dropped,
      threshold: q.threshold,
    };
    const signed = signSurvivorSet(set, this.options.secrets.signing.secretKey);
    sent.audit.append({
      type: 'survivors',
      at: this.now(),
      queryId: q.queryId,
      survivors: set.survivors,
      dropped: set.dropped,
    });
    return { set, signed };
  }

  /**
   * Decrypt: the key authority decrypts the unmasked sum, bound to the query and the survivor set,
   * and its signed entry is logged; in the plaintext benchmark mode the sum is already in the clear.
   */
  private async decrypt(
    sent: SentQuery,
    survivors: SignedSurvivorSet,
    r1: RoundOne,
    sum: EncryptedSum | null,
    proof: Promise<QueryLogProof> | undefined,
  ): Promise<readonly BigUint64Array[]> {
    if (sum === null) return r1.gathered.plainSum;
    const signingKey = this.options.secrets.signing.secretKey;
    const request = signDecryptionRequest(this.federation.id, sent.signed, survivors, await sum.sum(), signingKey);
    const keyAuthorityId = partyOfRole(this.federation, 'key-authority').id;
    const { keyAuthority } = this.options;
    return (await loggedDecryption(keyAuthority, keyAuthorityId, request, sent.queryLog, proof)).slots;
  }

  /**
   * With a transparency log: the key authority's proof that the query is in it, started now (the
   * log made durable and its head published, then the proof from the head the key authority
   * reports). Its failure is the decryption's, reported when that awaits it.
   */
  private keyAuthorityProof(sent: SentQuery): Promise<QueryLogProof> | undefined {
    if (sent.queryLog === null) return undefined;
    const kaId = partyOfRole(this.federation, 'key-authority').id;
    const proof = keyAuthorityProof(this.options.keyAuthority, kaId, sent.queryLog);
    proof.catch(() => undefined); // awaited by the decryption; a query failed before it never awaits it
    return proof;
  }

  /**
   * Release: the totals recombined under the policy (suppression, or the noise's intervals) and
   * recorded; nothing is released before it is durably in the log, and the head is published beside it.
   */
  private async releaseRows(
    q: QueryContext,
    plan: QueryPlan,
    cells: PlanCells,
    sent: SentQuery,
    r1: RoundOne,
    slots: readonly BigUint64Array[],
    delta: number | undefined,
    contributors: readonly string[] = r1.answered,
  ): Promise<Release> {
    const table = release({
      plan,
      schema: q.schema,
      cells,
      // A decrypted ciphertext has N slots; a layout may use fewer per ciphertext (a join: one cell in
      // coefficient 0, the others masked cross terms), and only those are cells.
      totals: unpackSlots(
        q.layout,
        slots.map((s) => s.subarray(0, q.layout.slotCount)),
      ),
      policy: this.federation.policy,
      ...(q.terms === null
        ? {}
        : { noise: { terms: q.terms, survivors: r1.answered.length, delta: delta ?? DEFAULT_DISPLAY_DELTA } }),
    });
    sent.audit.append({
      type: 'release',
      at: this.now(),
      queryId: q.queryId,
      contributors,
      rows: table.rows.length,
      suppressed: table.suppressed,
      rho: q.terms === null ? null : queryRhoText(q.terms.rho),
    });
    await sent.queryLog?.publish();
    return table;
  }

  /** The coordinator's clock (milliseconds since the epoch). */
  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** Appends the unlogged budget entries the agencies reported (see UnloggedDelivery); what each agency gets receipts for. */
  private async deliverUnlogged(
    described: readonly AgencyDescription[],
  ): Promise<ReadonlyMap<string, readonly LoggedEntry[]>> {
    const log = this.options.transparencyLog;
    if (log === undefined) return new Map();
    this.delivery ??= new UnloggedDelivery(log, this.federation);
    return this.delivery.deliver(described);
  }

  /** The slot layout of a query: room for noise sized by the privacy terms, none for an exact one. */
  private layoutFor(cells: PlanCells, parties: number, terms: PrivacyTerms | null): SlotLayout {
    return planSlotLayout(cells.cellBounds, parties, this.params, terms?.agencyNoiseBound ?? 0n);
  }

  /**
   * Closes the agency links and the key authority, flushes and closes the transparency log, stops
   * the SEAL worker and disposes the HE parameters. Call it once, after the last query.
   */
  async close(): Promise<void> {
    for (const l of this.options.links) l.close();
    await this.options.keyAuthority.close();
    await this.options.transparencyLog?.flush().catch(() => undefined);
    await this.options.transparencyLog?.store.close();
    await this.sums.close();
    this.params[Symbol.dispose]();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
