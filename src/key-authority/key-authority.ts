/**
 * The key authority holds the BFV secret key. It decrypts only a sum that comes with the
 * coordinator-signed query and the coordinator-signed survivor set of that query, with enough
 * survivors, once per query id; it records every release and signs every answer, so the
 * coordinator (and later an auditor) can tell its answers from forgeries. It runs inside the
 * coordinator's process by default, or as its own gRPC service (src/transport/key-authority-*).
 */
import { FedstatError, describeError } from '../errors.js';
import { NO_AUDIT, type AuditEvent, type AuditSink } from '../transparency/events.js';
import { sha256, toHex } from '../crypto/digest.js';
import { partyOfRole, type Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import { HeParams } from '../he/he-params.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import { signDecryptionAnswer, type DecryptionAnswer, type DecryptionRequest } from '../protocol/decryption.js';
import { queryDigest } from '../protocol/query-envelope.js';
import { entryFromEvent } from '../transparency/log-entry.js';
import { LogWitness } from '../transparency/log-witness.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';
import { admitDecryption, refusal, type AdmittedRequest } from './decryption-policy.js';
import { inThreadSlotDecryptor, type SlotDecryptor, type SlotDecryptorFactory } from './slot-decryptor.js';

/** What the coordinator needs of a key authority, in process or over gRPC. */
export interface KeyAuthority {
  /**
   * Decrypts the request's summed ciphertexts if the release policy allows it, and returns the
   * slot vectors with the key authority's signature over them and its signed log entry of the
   * decryption. Rejects with FedstatError BAD_MESSAGE, REPLAY, STALE_HEAD, POLICY_REFUSED,
   * MESSAGE_TOO_LARGE or UNAVAILABLE; a refusal of an authenticated query carries the key
   * authority's signed refusal entry in `details.logEntry`.
   */
  decrypt(request: DecryptionRequest): Promise<DecryptionAnswer>;
  /** The last transparency-log head the key authority accepted (null: none yet). */
  describe(): Promise<{ readonly logHead: SignedTreeHead | null }>;
  /**
   * Waits for decryptions in flight and frees what the key authority holds; later calls to
   * `decrypt` fail with UNAVAILABLE.
   */
  close(): Promise<void>;
}

/** Public facts about a key authority: who it is, and the parameters it decrypts under. */
export interface KeyAuthorityDescription {
  /** The key authority's party id in the federation. */
  readonly partyId: string;
  /** The federation's id. */
  readonly federationId: string;
  /** Id of the HE parameters it decrypts under; queries under other parameters are refused. */
  readonly paramsId: string;
  /** Slots per ciphertext (N). */
  readonly slotCount: number;
  /** Exact byte length of one serialized ciphertext (sizes the service's receive limit). */
  readonly ciphertextBytes: number;
  /** The last transparency-log head it accepted (null: none yet). */
  readonly logHead: SignedTreeHead | null;
}

/** A key authority that can be served: it also describes itself. */
export interface ServableKeyAuthority extends KeyAuthority {
  describe(): Promise<KeyAuthorityDescription>;
}

/** One decryption the key authority performed; hashes and party ids, never values. */
export interface ReleaseRecord {
  /** The query whose sum was decrypted. */
  readonly queryId: string;
  /** Sorted ids of the agencies whose sum was decrypted. */
  readonly survivors: readonly string[];
  /** Sorted ids of the agencies the query named that did not contribute. */
  readonly dropped: readonly string[];
  /** Hex SHA-256 of each decrypted ciphertext, in request order. */
  readonly ciphertextDigests: readonly string[];
  /** Clock time of the release (ms since the epoch). */
  readonly at: number;
}

/** What `InProcessKeyAuthority.create` takes, as values. */
export interface InProcessKeyAuthorityOptions {
  /** The federation whose key authority this is. */
  readonly federation: Federation;
  /** The key authority's key file: its signing key and the BFV secret key. */
  readonly secrets: PartySecrets;
  /** Receives a `decryption` event per release and a `refusal` event per refused authenticated query. */
  readonly audit?: AuditSink;
  /**
   * The last transparency-log head this key authority accepted (LogWitness.open with a file keeps
   * it across restarts); default: in memory. Every decryption needs the query's inclusion proof
   * against a head that extends it when the federation requires the log.
   */
  readonly logWitness?: LogWitness;
  /** Current time in milliseconds since the epoch (default `Date.now`); for tests. */
  readonly clock?: () => number;
  /** Also decrypt `encrypted-unmasked` queries. Benchmarks only: those reveal each agency's aggregate. */
  readonly allowBenchmarkModes?: boolean;
  /** Where decryption runs; default HeDecryptor in this thread. */
  readonly decryptor?: SlotDecryptorFactory;
  /**
   * HE parameters to use instead of building the federation's preset; they must be of the preset
   * the federation names. The caller keeps ownership (they are not disposed by close()).
   */
  readonly params?: HeParams;
}

/**
 * The key authority in the caller's process (`InProcessKeyAuthority.create`): serve it with
 * `startKeyAuthorityNode`, or hand it to a coordinator in the same process.
 */
export class InProcessKeyAuthority implements ServableKeyAuthority {
  readonly #records: ReleaseRecord[] = [];
  readonly #released = new Set<string>();
  /** Query ids being decrypted now: a concurrent second request for one of them is a replay. */
  readonly #pending = new Set<string>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  private constructor(
    private readonly options: InProcessKeyAuthorityOptions,
    private readonly partyId: string,
    private readonly params: HeParams,
    private readonly ownsParams: boolean,
    private readonly decryptor: SlotDecryptor,
    private readonly witness: LogWitness,
  ) {}

  /**
   * KEY_INVALID unless `secrets` is the federation's key authority with a BFV secret key. Reads no
   * file: its key file is read by the wiring (node.ts, coordinator/connect.ts), and the default log
   * witness lives in memory.
   */
  static async create(options: InProcessKeyAuthorityOptions): Promise<InProcessKeyAuthority> {
    const { federation, secrets } = options;
    const me = partyOfRole(federation, 'key-authority');
    if (secrets.role !== 'key-authority' || secrets.party !== me.id || secrets.heSecretKey === null) {
      throw new FedstatError(
        'KEY_INVALID',
        `key file of ${secrets.party} is not the key authority's or holds no HE secret key; use ${me.id}'s key file`,
      );
    }
    if (options.params !== undefined && options.params.preset.name !== federation.he.preset) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `HE parameters ${options.params.preset.name} given, but the federation uses ${federation.he.preset}`,
      );
    }
    const params = options.params ?? (await HeParams.create(presetByName(federation.he.preset)));
    const ownsParams = options.params === undefined;
    try {
      const witness = options.logWitness ?? (await LogWitness.open(federation, `key authority ${me.id}`));
      const decryptor = await (options.decryptor ?? inThreadSlotDecryptor)(params, secrets.heSecretKey);
      return new InProcessKeyAuthority(options, me.id, params, ownsParams, decryptor, witness);
    } catch (e) {
      if (ownsParams) params[Symbol.dispose]();
      throw e;
    }
  }

  /** Who it is, the parameters it decrypts under and the last log head it accepted. */
  describe(): Promise<KeyAuthorityDescription> {
    return Promise.resolve(
      Object.freeze({
        partyId: this.partyId,
        federationId: this.options.federation.id,
        paramsId: this.params.paramsId,
        slotCount: this.params.slotCount,
        ciphertextBytes: this.params.ciphertextBytes,
        logHead: this.witness.head ?? null,
      }),
    );
  }

  /** Every release so far, oldest first (a copy). */
  releases(): readonly ReleaseRecord[] {
    return Object.freeze([...this.#records]);
  }

  /** As `KeyAuthority.decrypt`; each release is kept in `releases()`. UNAVAILABLE after `close`. */
  decrypt(request: DecryptionRequest): Promise<DecryptionAnswer> {
    if (this.#closed) return Promise.reject(new FedstatError('UNAVAILABLE', 'key authority is closed'));
    const run = this.#decrypt(request);
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run)).catch(() => undefined);
    return run;
  }

  async #decrypt(request: DecryptionRequest): Promise<DecryptionAnswer> {
    const { federation } = this.options;
    const now = (this.options.clock ?? Date.now)();
    const audit = this.options.audit ?? NO_AUDIT;
    let admitted: AdmittedRequest;
    try {
      admitted = admitDecryption(request, {
        federation,
        paramsId: this.params.paramsId,
        plainModulus: this.params.plainModulus,
        now,
        allowBenchmarkModes: this.options.allowBenchmarkModes === true,
      });
    } catch (e) {
      throw this.#noteRefusal(e, now);
    }
    const { query, set } = admitted;
    const id = query.queryId;
    try {
      // Only a query the log shows, in a log that extends the one this key authority saw before.
      await this.witness.admit(request.logProof, { queryId: id, queryDigest: queryDigest(request.query.bytes) });
    } catch (e) {
      if (e instanceof FedstatError && e.code === 'STALE_HEAD') throw e;
      throw this.#noteRefusal(refusal(e instanceof FedstatError ? e.code : 'INTERNAL', id, describeError(e), e), now);
    }
    if (this.#released.has(id) || this.#pending.has(id)) {
      throw this.#noteRefusal(refusal('REPLAY', id, 'it was decrypted before; each query is decrypted once'), now);
    }
    const count = request.ciphertexts.length;
    if (count < 1 || count > MAX_CIPHERTEXTS) {
      throw this.#noteRefusal(
        refusal('BAD_MESSAGE', id, `${count} ciphertexts sent, expected 1 to ${MAX_CIPHERTEXTS}`),
        now,
      );
    }
    this.#pending.add(id);
    let slots: BigUint64Array[];
    try {
      slots = await this.decryptor.decrypt(request.ciphertexts);
      this.#checkSlots(slots, count);
    } catch (e) {
      this.#pending.delete(id);
      const code = e instanceof FedstatError ? e.code : 'INTERNAL';
      throw this.#noteRefusal(
        refusal(code, id, `decryption failed: ${e instanceof FedstatError ? e.message : describeError(e)}`, e),
        now,
      );
    }
    const record: ReleaseRecord = Object.freeze({
      queryId: id,
      survivors: set.survivors,
      dropped: set.dropped,
      at: now,
      ciphertextDigests: Object.freeze(request.ciphertexts.map((ct) => toHex(sha256(ct)))),
    });
    this.#pending.delete(id);
    this.#released.add(id);
    this.#records.push(record);
    const event: AuditEvent = {
      type: 'decryption',
      at: now,
      queryId: id,
      contributors: record.survivors,
      dropped: record.dropped,
      ciphertextDigests: record.ciphertextDigests,
    };
    audit.append(event);
    const key = this.options.secrets.signing.secretKey;
    return {
      ...signDecryptionAnswer(federation.id, request, slots, key),
      logEntries: [entryFromEvent(event, this.partyId, key)],
    };
  }

  /** A decryptor is trusted code, but a worker's answer still crosses a boundary: check its shape. */
  #checkSlots(slots: readonly BigUint64Array[], count: number): void {
    const t = this.params.plainModulus;
    const ok =
      slots.length === count &&
      slots.every((s) => s instanceof BigUint64Array && s.length === this.params.slotCount && s.every((v) => v < t));
    if (!ok)
      throw new FedstatError('INTERNAL', 'the decryptor returned slot vectors of the wrong count, length or range');
  }

  /**
   * Appends a refusal event for refusals of an authenticated query (those carry its id) and
   * attaches the key authority's signed refusal entry (`details.logEntry`) for the log operator.
   */
  #noteRefusal(e: unknown, now: number): Error {
    if (!(e instanceof Error)) return new FedstatError('INTERNAL', `key authority failed: ${describeError(e)}`);
    if (!(e instanceof FedstatError)) return e;
    const { queryId, reason } = e.details;
    if (typeof queryId !== 'string' || typeof reason !== 'string') return e;
    const event: AuditEvent = { type: 'refusal', at: now, queryId, agencyId: this.partyId, reason };
    (this.options.audit ?? NO_AUDIT).append(event);
    const logEntry = entryFromEvent(event, this.partyId, this.options.secrets.signing.secretKey);
    return new FedstatError(e.code, e.message, { cause: e.cause ?? e, details: { ...e.details, logEntry } });
  }

  /** Waits for decryptions in flight, then frees the decryptor and (if owned) the parameters. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.decryptor.close();
    if (this.ownsParams) this.params[Symbol.dispose]();
  }
}
