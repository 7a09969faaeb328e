/**
 * An agency node: answers signed query plans with a signed, encrypted contribution computed from
 * its own store. It holds its data, its keys and its policy; nothing here reads a file or depends
 * on how the node is reached (node.ts serves it from files over gRPC; or mount `answer`/`describe`
 * in your own server). The answer is a sequence of named steps, each in its own file:
 * verify → admit the log proof (admission.ts) → policy → charge (budget-charge.ts) → layout,
 * aggregate, pack + noise, mask, encrypt, sign (contribution-steps.ts).
 */
import type { TrainerRegistry } from '../learn/fl/trainer-registry.js';
import { FedstatError, describeError } from '../errors.js';
import type { AuditSink } from '../transparency/events.js';
import type { BudgetLedger } from '../dp/budget-ledger.js';
import type { RandomSource } from '../dp/random.js';
import type { Contribution } from '../protocol/contribution.js';
import type { AgencyDescription, AgencyLinkage } from '../protocol/links.js';
import { openQuery, queryDigest, type SignedQuery } from '../protocol/query-envelope.js';
import { toHex } from '../crypto/digest.js';
import { HashCache } from '../psi/hash-cache.js';
import type { UnmaskAnswer, UnmaskRequest } from '../protocol/unmask.js';
import type { LogWitness } from '../transparency/log-witness.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import type { AgencyStore } from '../store/store.js';
import { admitLogProof, checkPolicy, servedDatasets } from './admission.js';
import { disposeAgencyContext, openAgencyContext, type AgencyContext, type AgencyMaterial } from './agency-context.js';
import { AnswerTrail } from './answer-trail.js';
import { budgetStatuses, chargeBudget } from './budget-charge.js';
import { unloggedEntries } from './charge-log.js';
import { encryptSlots, localContribution, maskSlots, signAnswer } from './contribution-steps.js';
import { IdleEncryptionPool } from './encryption-pool.js';
import { joinPayloads } from './join-contribution.js';
import { agencyLinkage } from './linkage.js';
import { LinkSessions, type LinkSession } from './link-session.js';
import { answerUnmask } from './unmask.js';

export type { AgencyMaterial } from './agency-context.js';

/** What `createAgency` takes: the agency's material, its store and its policy, all as values. */
export interface AgencyOptions extends AgencyMaterial {
  /** The agency's records, loaded already; the agency closes it when it closes. */
  readonly store: AgencyStore;
  /**
   * Answer `plaintext` and `encrypted-unmasked` queries (benchmarks only: either reveals this
   * agency's aggregate to whoever holds the BFV secret key or reads the wire).
   */
  readonly allowPlaintextMode?: boolean;
  /** Fresh encryptions of zero made while idle; each answer uses one, halving its encryption time. */
  readonly precomputedEncryptions?: number;
  /**
   * The agency's own zCDP budgets, one per dataset (the agency closes the ledger). Every DP query
   * is charged here, durably, before anything is computed; without a ledger, or for a dataset
   * without a budget, DP queries are refused.
   */
  readonly ledger?: BudgetLedger;
  /** Source of the noise's randomness (default: node:crypto). */
  readonly random?: RandomSource;
  /**
   * The last transparency-log head this agency accepted (LogWitness.open with a file keeps it
   * across restarts); default: in memory, from this start on.
   */
  readonly logWitness?: LogWitness;
  /** Told of every contribution, refusal, budget charge and unmask (default: none). */
  readonly audit?: AuditSink;
  /** Current time in milliseconds since the epoch (default `Date.now`); for tests. */
  readonly clock?: () => number;
  /**
   * Trainers of models of the developer's own, by the name a federated-averaging round names them
   * with (`{kind: 'custom', name, config}`); the coordinator registers the same names.
   */
  readonly trainers?: TrainerRegistry;
}

/**
 * A running agency (`createAgency`): answers the coordinator's two rounds. `answer` and `unmask`
 * reject only with FedstatError (INTERNAL for the unexpected), UNAVAILABLE after `close`.
 */
export interface Agency extends AsyncDisposable {
  /** The agency's party id in the federation. */
  readonly id: string;
  /** What the agency serves now: datasets, budgets, the last log head it accepted. */
  describe(): Promise<AgencyDescription>;
  /**
   * Round 1: a signed contribution to one query. `logProof` shows the query in the transparency
   * log, extending the head this agency accepted last; without it the query is refused when the
   * federation requires the log.
   */
  answer(query: SignedQuery, logProof?: QueryLogProof): Promise<Contribution>;
  /** Round 2 of secure aggregation: reveals what removes the survivors' masks, once per query. */
  unmask(request: UnmaskRequest): Promise<UnmaskAnswer>;
  /** Record linkage for join queries: the phases before round 1 (protocol/link-messages.ts). */
  readonly linkage: AgencyLinkage;
  /** Waits for answers in flight, then frees the SEAL objects and closes the ledger and the store; idempotent. */
  close(): Promise<void>;
}

/**
 * Creates an agency node from values: the federation, its own key file's secrets, the
 * federation's BFV public key and its store (`loadAgencyMaterial` reads the first three from
 * files). KEY_INVALID for another party's key file or a public key the federation does not pin.
 */
export async function createAgency(options: AgencyOptions): Promise<Agency> {
  const ctx = await openAgencyContext(options);
  const { me, ledger } = ctx;
  const pool = new IdleEncryptionPool(ctx.encryptor, options.precomputedEncryptions ?? 2);
  const sessions = new LinkSessions();
  const linkage = agencyLinkage(ctx, sessions, new HashCache());
  let closed = false;

  async function answer(query: SignedQuery, logProof?: QueryLogProof): Promise<Contribution> {
    if (closed) throw new FedstatError('UNAVAILABLE', `agency ${me.id} is shutting down`);
    const now = ctx.clock();
    const env = openQuery(query, ctx.federation, ctx.params, now);
    const trail = new AnswerTrail(ctx, env.queryId, now);
    // Nothing is looked at before the query is known to be in the log everybody else sees.
    await admitLogProof(ctx, query, env, logProof, trail);
    const admitted = await checkPolicy(ctx, env, trail);
    ctx.replay.admit(env.queryId, env.expiresAt, now);
    return pool.during(async () => {
      if (admitted.rho !== null) await chargeBudget(ctx, env, admitted.rho, now, trail);
      const { layout, slots } = await localContribution(ctx, admitted).catch((e: unknown) => {
        // The data refuses (out-of-domain rows of a live source, maxRows): a decision, so signed and logged.
        if (e instanceof FedstatError && e.code === 'DATA_INVALID') trail.refuse(e.code, e.message);
        throw e;
      });
      const masking = env.mode === 'encrypted' ? maskSlots(ctx, env, layout, slots, now) : null;
      const payloads =
        admitted.kind === 'join'
          ? await joinRound(env.queryId, query, (session) => joinPayloads(ctx, session, admitted.join, layout, slots))
          : encryptSlots(ctx, env.mode, slots);
      return signAnswer(ctx, query, env, payloads, masking, now, trail);
    });
  }

  /** Round 1 of a join consumes the query's linkage session, whatever happens. */
  async function joinRound<T>(
    queryId: string,
    query: SignedQuery,
    run: (session: LinkSession) => Promise<T>,
  ): Promise<T> {
    try {
      return await run(sessions.get(queryId, toHex(queryDigest(query.bytes)), ctx.clock()));
    } finally {
      sessions.close(queryId);
    }
  }

  /** A linkage phase, refused once the agency closes and waited for by close. */
  const phase =
    <A, R>(run: (a: A) => Promise<R>) =>
    (a: A): Promise<R> => {
      if (closed) return Promise.reject(new FedstatError('UNAVAILABLE', `agency ${me.id} is shutting down`));
      return tracked(typed(() => run(a)));
    };

  function unmask(request: UnmaskRequest): UnmaskAnswer {
    if (closed) throw new FedstatError('UNAVAILABLE', `agency ${me.id} is shutting down`);
    return answerUnmask(ctx, request, ctx.clock());
  }

  // Answers still running when the agency closes use SEAL objects, the ledger and the store:
  // close waits for them (a server that stops cancels the call, not the work behind it).
  const running = new Set<Promise<unknown>>();
  const tracked = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    work.then(
      () => running.delete(work),
      () => running.delete(work),
    );
    return work;
  };

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    pool.close();
    await Promise.allSettled([...running]);
    sessions.clear();
    disposeAgencyContext(ctx);
    await ledger?.close();
    await ctx.store.close();
  }

  return {
    id: me.id,
    describe: () => describe(ctx),
    answer: (q, p) => tracked(typed(() => answer(q, p))),
    unmask: (r) => typed(() => Promise.resolve(unmask(r))),
    linkage: {
      start: phase((r) => linkage.start(r)),
      blind: phase((r) => linkage.blind(r)),
      reblind: phase((r) => linkage.reblind(r)),
      encrypt: phase((r) => linkage.encrypt(r)),
      load: phase((r) => linkage.load(r)),
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function describe(ctx: AgencyContext): Promise<AgencyDescription> {
  const { me, federation, params, witness, ledger } = ctx;
  return {
    agencyId: me.id,
    federationId: federation.id,
    paramsId: params.paramsId,
    datasets: await servedDatasets(ctx),
    budgets: budgetStatuses(ledger),
    logHead: witness.head ?? null,
    unloggedEntries: ledger === undefined || !ctx.logged ? [] : unloggedEntries(ledger),
    ledgerFault: (await ledger?.check()) ?? null,
  };
}

/** Anything but a FedstatError becomes INTERNAL, so a peer never sees a stack or a raw value. */
async function typed<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw new FedstatError('INTERNAL', `agency failed: ${describeError(e)}`, { cause: e });
  }
}
