/**
 * What every step of an agency's answer reads: who the agency is, its keys, its SEAL objects, its
 * log witness, its ledger and its store. Built once from values: no file is read here (the wiring
 * that reads federation.json, he-public.key and the key file is node.ts, or the embedding service).
 */
import type { TrainerRegistry } from '../learn/fl/trainer-registry.js';
import { FedstatError } from '../errors.js';
import { NO_AUDIT, type AuditSink } from '../transparency/events.js';
import { checkHePublicKey, party, type Federation, type Party } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import type { BudgetLedger, Charge, ChargeState } from '../dp/budget-ledger.js';
import type { RandomSource } from '../dp/random.js';
import { HeEncryptor } from '../he/encryptor.js';
import { HeParams } from '../he/he-params.js';
import { presetByName } from '../he/presets.js';
import { SecAggParticipant } from '../secagg/participant.js';
import { LogWitness } from '../transparency/log-witness.js';
import type { AgencyStore } from '../store/store.js';
import { budgetEntrySigner, signUnsignedCharges } from './charge-log.js';
import { ReplayGuard } from './replay-guard.js';

/**
 * What an agency is made of besides its store and policy, as values: the federation, the agency's
 * own key file, and the federation's BFV public key (`readHePublicKey` or `loadAgencyMaterial`
 * read it from disk; a service holding its configuration elsewhere passes the bytes).
 */
export interface AgencyMaterial {
  /** The federation the agency belongs to (`loadFederation` or `parseFederation`). */
  readonly federation: Federation;
  /** The agency's own key file; KEY_INVALID when it is another party's or not an agency's. */
  readonly secrets: PartySecrets;
  /** The BFV public key (he-public.key); checked against the hash the federation pins. */
  readonly hePublicKey: Uint8Array;
}

/** What `openAgencyContext` takes of `AgencyOptions` (see there). */
export interface AgencyContextOptions extends AgencyMaterial {
  readonly store: AgencyStore;
  readonly allowPlaintextMode?: boolean;
  readonly ledger?: BudgetLedger;
  readonly random?: RandomSource;
  readonly logWitness?: LogWitness;
  readonly audit?: AuditSink;
  readonly clock?: () => number;
  readonly trainers?: TrainerRegistry;
}

/** The agency's state every step reads; SEAL objects owned, ledger and store borrowed from the options. */
export interface AgencyContext {
  readonly federation: Federation;
  readonly me: Party;
  readonly secrets: PartySecrets;
  readonly store: AgencyStore;
  readonly params: HeParams;
  readonly encryptor: HeEncryptor;
  /** The federation's BFV public key (serialized): join answers re-randomize their products with it. */
  readonly hePublicKey: Uint8Array;
  readonly participant: SecAggParticipant;
  /** The last log head this agency accepted; every query is admitted through it. */
  readonly witness: LogWitness;
  readonly ledger: BudgetLedger | undefined;
  /** With a transparency log, every charge is recorded with its signed entry until the log holds it. */
  readonly logged: boolean;
  /** Signs a charge's `budget` log entry as this agency. */
  readonly signBudget: (charge: Charge, state: ChargeState) => Uint8Array;
  readonly replay: ReplayGuard;
  readonly audit: AuditSink;
  readonly random: RandomSource | undefined;
  /** Trainers of custom models, by name (AgencyOptions.trainers). */
  readonly trainers: TrainerRegistry;
  readonly allowPlaintextMode: boolean;
  readonly clock: () => number;
  /**
   * When this agency (re)started. The replay guard lives in memory: a query issued before may have
   * been answered before a restart, and answering it again would reuse its pairwise masks (they
   * are bound to the query), so such a query is refused and the coordinator issues a fresh one.
   */
  readonly startedAt: number;
}

/**
 * KEY_INVALID unless `secrets` is an agency's key file of this federation and `hePublicKey` the
 * key the federation pins. Owns the SEAL objects it creates: `disposeAgencyContext` frees them.
 */
export async function openAgencyContext(options: AgencyContextOptions): Promise<AgencyContext> {
  const { federation, secrets } = options;
  const me = party(federation, secrets.party);
  if (me.role !== 'agency')
    throw new FedstatError('KEY_INVALID', `party ${me.id} is a ${me.role}, not an agency; use an agency's key file`);
  const publicKey = checkHePublicKey(federation, options.hePublicKey);
  const params = await HeParams.create(presetByName(federation.he.preset));
  let encryptor: HeEncryptor | undefined;
  try {
    encryptor = new HeEncryptor(params, publicKey);
    const logged = federation.policy.transparencyLog;
    const signBudget = budgetEntrySigner(me.id, secrets.signing.secretKey);
    const witness = options.logWitness ?? (await LogWitness.open(federation, `agency ${me.id}`));
    if (logged && options.ledger !== undefined) await signUnsignedCharges(options.ledger, signBudget);
    const clock = options.clock ?? Date.now;
    return {
      federation,
      me,
      secrets,
      store: options.store,
      params,
      encryptor,
      hePublicKey: publicKey,
      witness,
      logged,
      signBudget,
      clock,
      ledger: options.ledger,
      replay: new ReplayGuard(),
      startedAt: clock(),
      participant: new SecAggParticipant({
        federationId: federation.id,
        self: me.id,
        agreementSecret: secrets.agreementSecret,
        peerKeys: new Map(federation.parties.filter((p) => p.role === 'agency').map((p) => [p.id, p.agreementKey])),
      }),
      audit: options.audit ?? NO_AUDIT,
      random: options.random,
      trainers: options.trainers ?? {},
      allowPlaintextMode: options.allowPlaintextMode === true,
    };
  } catch (e) {
    encryptor?.[Symbol.dispose]();
    params[Symbol.dispose]();
    throw e;
  }
}

/** Frees the SEAL objects of the context (the ledger and the store are closed by the agency). */
export function disposeAgencyContext(ctx: AgencyContext): void {
  ctx.encryptor[Symbol.dispose]();
  ctx.params[Symbol.dispose]();
}
