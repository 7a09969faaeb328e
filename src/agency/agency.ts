/**
 * An agency node: answers signed query plans with a signed, encrypted contribution computed from
 * its own store. It holds its data, its keys and its policy; nothing here depends on how the node
 * is reached (see src/transport for gRPC, or mount `answer`/`describe` in your own server).
 */
import { FedstatError, describeError, type ErrorCode } from '../errors.js';
import { sha256, toHex } from '../crypto/digest.js';
import type { AuditEvent, AuditSink } from '../audit/events.js';
import { NO_AUDIT } from '../audit/events.js';
import { datasetParties, datasetSchemaOf, mayServe, party, readHePublicKey, type Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import type { BudgetLedger, Charge, ChargeState } from '../dp/budget-ledger.js';
import { rhoToString } from '../dp/budget-rho.js';
import type { RandomSource } from '../dp/random.js';
import { HeEncryptor } from '../he/encryptor.js';
import { HeParams } from '../he/he-params.js';
import { addNoise, packSlots, planSlotLayout } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import { encodeCells, planCells, type PlanCells } from '../protocol/cells.js';
import { drawCellNoiseYielding, openQueryRho, privacyTerms, type PrivacyTerms } from '../protocol/privacy-terms.js';
import { signContribution, slotsToBytes, type Contribution, type MaskingMaterial } from '../protocol/contribution.js';
import { MAX_UNLOGGED_ENTRIES, type AgencyDescription, type BudgetStatus } from '../protocol/links.js';
import { openQuery, queryDigest, type QueryEnvelope, type SignedQuery } from '../protocol/query-envelope.js';
import { openSurvivorSet } from '../protocol/survivor-set.js';
import { signUnmaskAnswer, type UnmaskAnswer, type UnmaskRequest } from '../protocol/unmask.js';
import { SecAggParticipant } from '../secagg/participant.js';
import { entryFromEvent } from '../transparency/log-entry.js';
import { LogWitness } from '../transparency/log-witness.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';
import { addFlatInto } from '../protocol/flat-slots.js';
import type { AgencyStore } from '../store/store.js';
import { budgetEntrySigner, budgetEvent, recordReceipts, signUnsignedCharges, unloggedEntries } from './charge-log.js';
import { ReplayGuard } from './replay-guard.js';

/** Idle time after an answer before the agency refills its pool of encryptions of zero. */
const REFILL_IDLE_MS = 250;

export interface AgencyOptions {
  readonly federation: Federation;
  readonly secrets: PartySecrets;
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
  readonly audit?: AuditSink;
  readonly clock?: () => number;
}

export interface Agency extends AsyncDisposable {
  readonly id: string;
  describe(): Promise<AgencyDescription>;
  /**
   * Round 1: a signed contribution to one query. `logProof` shows the query in the transparency
   * log, extending the head this agency accepted last; without it the query is refused when the
   * federation requires the log.
   */
  answer(query: SignedQuery, logProof?: QueryLogProof): Promise<Contribution>;
  /** Round 2 of secure aggregation: reveals what removes the survivors' masks, once per query. */
  unmask(request: UnmaskRequest): Promise<UnmaskAnswer>;
  close(): Promise<void>;
}

/** Creates an agency node from its federation, its own key file and its store. */
export async function createAgency(options: AgencyOptions): Promise<Agency> {
  const { federation, secrets, store } = options;
  const me = party(federation, secrets.party);
  if (me.role !== 'agency') throw new FedstatError('KEY_INVALID', `party ${me.id} is a ${me.role}, not an agency; use an agency's key file`);
  const publicKey = readHePublicKey(federation);
  const params = await HeParams.create(presetByName(federation.he.preset));
  let encryptor: HeEncryptor;
  try {
    encryptor = new HeEncryptor(params, publicKey);
  } catch (e) {
    params[Symbol.dispose]();
    throw e;
  }
  const clock = options.clock ?? Date.now;
  const audit = options.audit ?? NO_AUDIT;
  // With a transparency log, every charge is recorded with its signed entry until the log holds it.
  const logged = federation.policy.transparencyLog;
  const signBudget = budgetEntrySigner(me.id, secrets.signing.secretKey);
  let witness: LogWitness;
  try {
    witness = options.logWitness ?? await LogWitness.open(federation, `agency ${me.id}`);
    if (logged && options.ledger !== undefined) await signUnsignedCharges(options.ledger, signBudget);
  } catch (e) {
    encryptor[Symbol.dispose]();
    params[Symbol.dispose]();
    throw e;
  }
  const replay = new ReplayGuard();
  // The replay guard lives in memory. A query issued before this agency started may have been
  // answered before a restart; answering it again would reuse its pairwise masks (they are bound
  // to the query), so such a query is refused and the coordinator issues a fresh one.
  const startedAt = clock();
  const participant = new SecAggParticipant({
    federationId: federation.id, self: me.id, agreementSecret: secrets.agreementSecret,
    peerKeys: new Map(federation.parties.filter((p) => p.role === 'agency').map((p) => [p.id, p.agreementKey])),
  });
  const poolTarget = options.precomputedEncryptions ?? 2;
  let closed = false;
  let inFlight = 0;
  // Encryptions of zero are made while the agency is idle, one per timer tick, so that refilling
  // never competes with answering a query (or, on a shared machine, with the coordinator).
  let refill: NodeJS.Timeout | undefined;
  const refillPool = (delayMs: number): void => {
    if (refill !== undefined || closed) return;
    refill = setTimeout(() => {
      refill = undefined;
      if (closed || encryptor.pooled >= poolTarget) return;
      if (inFlight === 0) encryptor.precompute(1);
      refillPool(inFlight === 0 ? 0 : REFILL_IDLE_MS);
    }, delayMs);
    refill.unref();
  };
  refillPool(0);

  const served = async (): Promise<string[]> =>
    (await store.datasets()).filter((d) => Object.hasOwn(federation.schema.datasets, d) && mayServe(me, d)).sort();

  async function answer(query: SignedQuery, logProof?: QueryLogProof): Promise<Contribution> {
    if (closed) throw new FedstatError('UNAVAILABLE', `agency ${me.id} is shutting down`);
    const now = clock();
    const env = openQuery(query, federation, params.paramsId, now);
    // A refusal is this agency's signed log entry too; it travels with the error to the log operator.
    const refuse = (code: ErrorCode, reason: string): never => {
      const event: AuditEvent = { type: 'refusal', at: now, queryId: env.queryId, agencyId: me.id, reason };
      audit.append(event);
      throw new FedstatError(code, `agency ${me.id} refuses: ${reason}`, { details: { logEntry: entryFromEvent(event, me.id, secrets.signing.secretKey) } });
    };
    // Nothing is looked at before the query is known to be in the log everybody else sees.
    try {
      await witness.admit(logProof, { queryId: env.queryId, queryDigest: queryDigest(query.bytes) });
      if (options.ledger !== undefined) await recordReceipts(options.ledger, witness, logProof);
    } catch (e) {
      // A stale proof is a race between two queries, not a refusal: the coordinator resends.
      if (!(e instanceof FedstatError) || e.code === 'STALE_HEAD') throw e;
      refuse(e.code, e.message);
    }
    if (!env.agencies.includes(me.id)) refuse('POLICY_REFUSED', 'it is not among the agencies the query names');
    if (env.mode !== 'encrypted' && options.allowPlaintextMode !== true) {
      refuse('POLICY_REFUSED', `${env.mode} answers are disabled here (they are for benchmarks only)`);
    }
    if (!(await served()).includes(env.plan.dataset)) refuse('NOT_FOUND', `dataset ${env.plan.dataset} is not served here`);
    if (env.issuedAt < startedAt) {
      throw new FedstatError('REPLAY', `agency ${me.id} refuses query ${env.queryId}: it was issued before the agency (re)started and may have been answered already; run the query again`);
    }
    const schema = datasetSchemaOf(federation, env.plan.dataset);
    const cells = planCells(env.plan, schema);
    let terms: PrivacyTerms | null = null;
    if (env.privacy === undefined) {
      if (!federation.policy.exactRelease) refuse('POLICY_REFUSED', 'the federation policy requires differential privacy for every query; run it with --rho');
    } else {
      try {
        terms = privacyTerms(cells, schema, openQueryRho(env.privacy.rho), env.threshold);
      } catch (e) {
        if (e instanceof FedstatError && e.code === 'PLAN_UNSAFE') refuse('POLICY_REFUSED', e.message);
        throw e;
      }
    }
    replay.admit(env.queryId, env.expiresAt, now);
    // This answer's events, each also signed as this agency's transparency-log entry and sent
    // with the contribution for the log operator to append.
    const logEntries: Uint8Array[] = [];
    const record = (event: AuditEvent, entry?: Uint8Array): void => {
      audit.append(event);
      logEntries.push(entry ?? entryFromEvent(event, me.id, secrets.signing.secretKey));
    };
    inFlight++;
    try {
      if (terms !== null) await charge(env, terms, now, refuse, record);
      return { ...(await contribute(query, env, now, cells, terms, record)), logEntries };
    } finally {
      inFlight--;
      refillPool(REFILL_IDLE_MS);
    }
  }

  /** Spends the query's ρ from this agency's own budget, durably, before anything is computed. */
  async function charge(
    env: QueryEnvelope, terms: PrivacyTerms, now: number, refuse: (code: ErrorCode, reason: string) => never,
    record: (e: AuditEvent, entry?: Uint8Array) => void,
  ): Promise<void> {
    const dataset = env.plan.dataset;
    const ledger = options.ledger;
    if (ledger === undefined || !ledger.datasets().includes(dataset)) {
      refuse('POLICY_REFUSED', `it has no privacy budget for dataset ${dataset}; start it with --budget ${dataset}=RHO --ledger FILE`);
    }
    const unlogged = logged ? ledger.unlogged().length : 0;
    if (unlogged >= MAX_UNLOGGED_ENTRIES) {
      refuse('POLICY_REFUSED', `${unlogged} of its budget charges are not yet in the transparency log; it charges again once a coordinator with the log has appended them (any query does)`);
    }
    let charged;
    // The state the ledger decided the charge in (not re-read afterwards: another charge may follow at once).
    let state: ChargeState | undefined;
    const sign = (c: Charge, s: ChargeState): Uint8Array => {
      state = s;
      return signBudget(c, s);
    };
    try {
      charged = await ledger.charge({ dataset, queryId: env.queryId, rho: terms.rho, at: new Date(now), ...(logged ? { logEntry: sign } : {}) });
    } catch (e) {
      // Said in the log and on the agency's console: a ledger that cannot charge is an operator's problem.
      if (e instanceof FedstatError && (e.code === 'POLICY_REFUSED' || e.code === 'IO')) refuse(e.code, e.message);
      throw e;
    }
    const event = budgetEvent(me.id, charged, state ?? { spent: ledger.spent(dataset), budget: ledger.budget(dataset) });
    record(event, ledger.logEntryOf(charged));
  }

  async function contribute(
    query: SignedQuery, env: QueryEnvelope, now: number, cells: PlanCells, terms: PrivacyTerms | null, record: (e: AuditEvent) => void,
  ): Promise<Contribution> {
    const schema = datasetSchemaOf(federation, env.plan.dataset);
    const parties = datasetParties(federation, env.plan.dataset).length;
    const layout = planSlotLayout(cells.cellBounds, parties, params, terms?.agencyNoiseBound ?? 0n);
    const local = await store.aggregate(env.plan, schema);
    const slots = packSlots(layout, encodeCells(cells, local));
    // Noise before masking and encryption: nobody, not even the key authority, sees a total without it.
    if (terms !== null) addNoise(layout, slots, await drawCellNoiseYielding(terms, cells.groupCount, options.random));
    let masking: MaskingMaterial | null = null;
    if (env.mode === 'encrypted') {
      const round1 = participant.round1({
        queryId: env.queryId, participants: env.agencies, threshold: env.threshold,
        length: layout.slotsUsed, modulus: params.plainModulus, expiresAt: env.expiresAt,
      }, now);
      addFlatInto(slots, round1.mask, params.plainModulus);
      masking = { shares: round1.shares, commitment: round1.commitment, pairwiseCommitments: round1.pairwiseCommitments };
    }
    const payloads = env.mode === 'plaintext' ? slots.map(slotsToBytes) : slots.map((s) => encryptor.encrypt(s));
    const contribution = signContribution(
      federation.id, queryDigest(query.bytes), me.id, env.queryId, env.mode, payloads, masking, secrets.signing.secretKey,
    );
    record({ type: 'contribution', at: now, queryId: env.queryId, agencyId: me.id, digest: toHex(sha256(contribution.signature)) });
    return contribution;
  }

  function unmask(request: UnmaskRequest): UnmaskAnswer {
    if (closed) throw new FedstatError('UNAVAILABLE', `agency ${me.id} is shutting down`);
    const now = clock();
    // The query was admitted in round 1; here it only has to be genuine and unexpired.
    const env = openQuery(request.query, federation, params.paramsId, now);
    const set = openSurvivorSet(request.survivors, federation, { queryId: env.queryId, queryDigest: queryDigest(request.query.bytes), agencies: env.agencies });
    if (set.threshold !== env.threshold) {
      throw new FedstatError('POLICY_REFUSED', `agency ${me.id} refuses: the survivor set's threshold differs from the query's`);
    }
    let revealed;
    try {
      revealed = participant.round2({ queryId: env.queryId, survivors: set.survivors, dropped: set.dropped }, request.shares, now);
    } catch (e) {
      if (e instanceof FedstatError) audit.append({ type: 'refusal', at: now, queryId: env.queryId, agencyId: me.id, reason: e.message });
      throw e;
    }
    audit.append({ type: 'unmask', at: now, queryId: env.queryId, agencyId: me.id, survivors: set.survivors, dropped: set.dropped });
    return signUnmaskAnswer(federation.id, request, {
      agencyId: me.id, queryId: env.queryId, selfMaskShares: revealed.selfMaskShares, pairwiseSeeds: revealed.pairwiseSeeds,
    }, secrets.signing.secretKey);
  }

  function budgets(): BudgetStatus[] {
    const ledger = options.ledger;
    if (ledger === undefined) return [];
    return ledger.datasets().map((dataset) => ({
      dataset, budget: rhoToString(ledger.budget(dataset)), spent: rhoToString(ledger.spent(dataset)),
      remaining: rhoToString(ledger.remaining(dataset)), charges: ledger.charges(dataset),
    }));
  }

  // Answers still running when the agency closes use SEAL objects, the ledger and the store:
  // close waits for them (a server that stops cancels the call, not the work behind it).
  const running = new Set<Promise<unknown>>();
  const tracked = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    work.then(() => running.delete(work), () => running.delete(work));
    return work;
  };

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    if (refill !== undefined) clearTimeout(refill);
    await Promise.allSettled([...running]);
    encryptor[Symbol.dispose]();
    params[Symbol.dispose]();
    await options.ledger?.close();
    await store.close();
  }

  return {
    id: me.id,
    describe: async () => ({
      agencyId: me.id, federationId: federation.id, paramsId: params.paramsId, datasets: await served(), budgets: budgets(), logHead: witness.head ?? null,
      unloggedEntries: options.ledger === undefined || !logged ? [] : unloggedEntries(options.ledger), ledgerFault: await options.ledger?.check() ?? null,
    }),
    answer: (q, p) => tracked(typed(() => answer(q, p))),
    unmask: (r) => typed(() => Promise.resolve(unmask(r))),
    close,
    [Symbol.asyncDispose]: close,
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
