/**
 * The coordinator: parses SQL into a plan, proves the plan cannot wrap the plain modulus, asks the
 * agencies that serve the dataset, verifies every contribution's signature before loading it,
 * adds the ciphertexts, has the key authority decrypt only the total, and releases the rows the
 * policy allows. It never holds the BFV secret key and reaches agencies only through AgencyLinks.
 */
import { FedstatError, describeError, type ErrorCode } from '../errors.js';
import type { AuditSink } from '../audit/events.js';
import { NO_AUDIT } from '../audit/events.js';
import { datasetParties, datasetSchemaOf, type Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import { HeAccumulator } from '../he/accumulator.js';
import { HeParams } from '../he/he-params.js';
import { addSlotsModT, planSlotLayout, proveNoWrap, unpackSlots, type SlotLayout } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import { decodeCells, planCells } from '../protocol/cells.js';
import { bytesToSlots, checkContribution } from '../protocol/contribution.js';
import type { AgencyDescription, AgencyLink } from '../protocol/links.js';
import { newQueryId, queryDigest, signQuery, type AnswerMode, type SignedQuery } from '../protocol/query-envelope.js';
import { formatPlan } from '../query/format-plan.js';
import { parseQuery } from '../query/parse.js';
import type { QueryPlan } from '../query/plan.js';
import { release, type Release } from './release.js';

export interface FailedAgency {
  readonly id: string;
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface QueryTimings {
  readonly planMs: number;
  readonly discoverMs: number;
  /** From sending the query to the last contribution verified and added. */
  readonly gatherMs: number;
  readonly decryptMs: number;
  readonly releaseMs: number;
  readonly totalMs: number;
}

export interface QueryResult extends Release {
  readonly queryId: string;
  readonly sql: string;
  readonly plan: QueryPlan;
  readonly mode: AnswerMode;
  readonly agencies: { readonly answered: readonly string[]; readonly failed: readonly FailedAgency[] };
  readonly ciphertexts: number;
  readonly timings: QueryTimings;
}

/** What a query would do, computed without contacting anyone: the plan and the no-wrap proof. */
export interface QueryExplanation {
  readonly sql: string;
  readonly plan: QueryPlan;
  readonly groups: number;
  readonly measures: readonly string[];
  /** Agencies the federation allows to serve the dataset: the contributions the proof covers. */
  readonly parties: number;
  readonly limbBase: bigint;
  readonly slotsUsed: number;
  readonly ciphertexts: number;
  /** The largest total any slot can reach; always below the plain modulus. */
  readonly worstSlotTotal: bigint;
  readonly plainModulus: bigint;
}

export type QueryProgress =
  | { readonly phase: 'asked'; readonly agencies: readonly string[] }
  | { readonly phase: 'answered' | 'failed'; readonly agency: string; readonly done: number; readonly total: number }
  | { readonly phase: 'decrypting' };

export interface QueryOptions {
  /** `plaintext` is for benchmarks only and needs agencies that opted in. */
  readonly mode?: AnswerMode;
  /** Time allowed for every agency to answer (default 30 s). */
  readonly deadlineMs?: number;
  /** Fail when any agency serving the dataset fails, instead of releasing over those that answered. */
  readonly requireAll?: boolean;
  readonly onProgress?: (event: QueryProgress) => void;
}

export interface CoordinatorOptions {
  readonly federation: Federation;
  readonly secrets: PartySecrets;
  readonly keyAuthority: KeyAuthority;
  /** One link per agency of the federation. */
  readonly links: readonly AgencyLink[];
  readonly audit?: AuditSink;
  readonly clock?: () => number;
  /** How long a query stays valid for agencies (default 5 minutes). */
  readonly queryTtlMs?: number;
  /** Deadline for the Describe round (default 5 s). */
  readonly describeDeadlineMs?: number;
}

const DEFAULT_DEADLINE_MS = 30_000;

export class Coordinator implements AsyncDisposable {
  private constructor(
    private readonly options: CoordinatorOptions,
    private readonly params: HeParams,
  ) {}

  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    if (options.secrets.role !== 'coordinator') {
      throw new FedstatError('KEY_INVALID', `key file of ${options.secrets.party} is not the coordinator's; pass the coordinator key with --key`);
    }
    return new Coordinator(options, await HeParams.create(presetByName(options.federation.he.preset)));
  }

  get federation(): Federation {
    return this.options.federation;
  }

  /** Parses and validates SQL into a plan without contacting anyone. */
  plan(sql: string): QueryPlan {
    return parseQuery(sql, this.federation.schema);
  }

  /** The plan, its slot layout and the proof that no slot total reaches the plain modulus. */
  explain(sql: string): QueryExplanation {
    const plan = this.plan(sql);
    const cells = planCells(plan, datasetSchemaOf(this.federation, plan.dataset));
    const layout = planSlotLayout(cells.cellBounds, datasetParties(this.federation, plan.dataset).length, this.params);
    return {
      sql: formatPlan(plan), plan, groups: cells.groupCount,
      measures: cells.measures.map((m) => (m.kind === 'count' ? 'COUNT(*)' : `SUM(${m.column ?? ''})`)),
      parties: layout.parties, limbBase: layout.limbBase, slotsUsed: layout.slotsUsed, ciphertexts: layout.ciphertextCount,
      worstSlotTotal: proveNoWrap(layout, this.params), plainModulus: this.params.plainModulus,
    };
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
      else if (d.federationId !== this.federation.id) failed.push({ id, code: 'BAD_MESSAGE', reason: 'serves another federation file; give it the same federation.json' });
      else if (d.paramsId !== this.params.paramsId) failed.push({ id, code: 'BAD_MESSAGE', reason: 'uses other HE parameters' });
      else described.push(d);
      return undefined;
    });
    return { described, failed };
  }

  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    const clock = this.options.clock ?? Date.now;
    const t0 = performance.now();
    const plan = this.plan(sql);
    const schema = datasetSchemaOf(this.federation, plan.dataset);
    const cells = planCells(plan, schema);
    const candidates = datasetParties(this.federation, plan.dataset);
    const layout = planSlotLayout(cells.cellBounds, candidates.length, this.params);
    const t1 = performance.now();

    const { described, failed } = await this.discover();
    const serving = described.filter((d) => d.datasets.includes(plan.dataset)).map((d) => d.agencyId)
      .filter((id) => candidates.some((c) => c.id === id)).sort();
    const failedServing = failed.filter((f) => candidates.some((c) => c.id === f.id));
    const t2 = performance.now();
    if (serving.length === 0 && failedServing.length === 0) {
      throw new FedstatError('NOT_FOUND', `no agency serves dataset ${plan.dataset}; start agencies with --dataset ${plan.dataset}=FILE.csv`);
    }

    const mode = options.mode ?? 'encrypted';
    const now = clock();
    const queryId = newQueryId();
    const signed = signQuery({
      v: 1, queryId, federationId: this.federation.id, paramsId: this.params.paramsId, mode, plan,
      agencies: serving, issuedAt: now, expiresAt: now + (this.options.queryTtlMs ?? 300_000),
    }, this.options.secrets.signing.secretKey);
    const audit = this.options.audit ?? NO_AUDIT;
    audit.append({ type: 'query', at: now, queryId, sql: formatPlan(plan), plan, agencies: serving });
    options.onProgress?.({ phase: 'asked', agencies: serving });

    const gathered = await this.gather(signed, queryId, mode, layout, serving, options);
    const allFailed = [...failedServing, ...gathered.failed].sort((a, b) => a.id.localeCompare(b.id));
    const t3 = performance.now();
    try {
      const answered = gathered.answered.sort();
      const policy = this.federation.policy;
      if (answered.length < policy.minAgencies || (options.requireAll === true && allFailed.length > 0)) {
        const why = allFailed.map((f) => `${f.id} (${f.reason})`).join('; ');
        const need = options.requireAll === true ? 'all agencies serving the dataset (--require-all)' : `at least ${policy.minAgencies} (minAgencies)`;
        // With nobody answering, the agencies' own reason (all down, all refusing) is the error's class.
        const codes = new Set(allFailed.map((f) => f.code));
        const code = answered.length === 0 && codes.size === 1 ? [...codes][0] ?? 'UNAVAILABLE' : 'POLICY_REFUSED';
        throw new FedstatError(code,
          `query ${queryId}: ${answered.length} of ${serving.length + failedServing.length} agencies answered, the policy needs ${need}${why === '' ? '' : `; failed: ${why}`}`,
          { details: { queryId, answered, failed: allFailed } });
      }
      options.onProgress?.({ phase: 'decrypting' });
      const slots = mode === 'encrypted'
        ? await this.options.keyAuthority.decrypt({ query: signed, contributors: answered, ciphertexts: gathered.encryptedSum() })
        : gathered.plainSum();
      const t4 = performance.now();
      const released = release(plan, schema, cells, decodeCells(cells, unpackSlots(layout, slots)), policy);
      audit.append({ type: 'release', at: clock(), queryId, contributors: answered, rows: released.rows.length, suppressed: released.suppressed });
      const t5 = performance.now();
      return {
        ...released, queryId, sql, plan, mode,
        agencies: { answered, failed: allFailed },
        ciphertexts: layout.ciphertextCount,
        timings: { planMs: t1 - t0, discoverMs: t2 - t1, gatherMs: t3 - t2, decryptMs: t4 - t3, releaseMs: t5 - t4, totalMs: t5 - t0 },
      };
    } finally {
      gathered.dispose();
    }
  }

  /** Sends the query to every serving agency; verifies and adds each contribution as it arrives. */
  private async gather(
    signed: SignedQuery, queryId: string, mode: AnswerMode, layout: SlotLayout, serving: readonly string[], options: QueryOptions,
  ): Promise<{ answered: string[]; failed: FailedAgency[]; encryptedSum: () => Uint8Array[]; plainSum: () => BigUint64Array[]; dispose: () => void }> {
    const digest = queryDigest(signed.bytes);
    const accumulator = mode === 'encrypted' ? new HeAccumulator(this.params, layout.ciphertextCount, { maxContributions: layout.parties }) : null;
    let plainSum: BigUint64Array[] = Array.from({ length: layout.ciphertextCount }, () => new BigUint64Array(this.params.slotCount));
    const answered: string[] = [];
    const failed: FailedAgency[] = [];
    const deadline = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const links = serving.map((id) => this.options.links.find((l) => l.agencyId === id)).filter((l) => l !== undefined);
    let done = 0;
    await Promise.all(links.map(async (link) => {
      const agency = this.federation.parties.find((p) => p.id === link.agencyId);
      try {
        const c = await link.aggregate(signed, deadline);
        if (agency === undefined) throw new FedstatError('INTERNAL', 'agency vanished from the federation');
        checkContribution(c, {
          federationId: this.federation.id, queryDigest: digest, queryId, agencyId: link.agencyId, mode, payloads: layout.ciphertextCount,
        }, agency.signingKey);
        if (accumulator !== null) accumulator.add(c.payloads);
        else {
          const next = c.payloads.map((p) => bytesToSlots(p, this.params.slotCount, this.params.plainModulus));
          plainSum = plainSum.map((s, i) => addSlotsModT(s, next[i] ?? s, this.params.plainModulus));
        }
        answered.push(link.agencyId);
        options.onProgress?.({ phase: 'answered', agency: link.agencyId, done: ++done, total: links.length });
      } catch (e) {
        failed.push(failure(link.agencyId, e));
        options.onProgress?.({ phase: 'failed', agency: link.agencyId, done: ++done, total: links.length });
      }
    }));
    return {
      answered, failed,
      encryptedSum: () => accumulator?.sum() ?? [],
      plainSum: () => plainSum,
      dispose: () => accumulator?.[Symbol.dispose](),
    };
  }

  async close(): Promise<void> {
    for (const l of this.options.links) l.close();
    await this.options.keyAuthority.close();
    this.params[Symbol.dispose]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function failure(id: string, e: unknown): FailedAgency {
  if (e instanceof FedstatError) return { id, code: e.code, reason: e.message };
  return { id, code: 'INTERNAL', reason: describeError(e) };
}
