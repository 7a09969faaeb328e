/**
 * The coordinator's gRPC link to a key authority run as its own service. Every call has a
 * deadline; every answer is checked before it is returned: one slot vector per ciphertext, every
 * slot below the plain modulus, and the key authority's signature (from the federation file) over
 * exactly this query, survivor set and these slots.
 */
import {
  makeGenericClientConstructor,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';
import { partyOfRole, type Federation } from '../federation/federation.js';
import { HeParams } from '../he/he-params.js';
import { presetByName } from '../he/presets.js';
import type { KeyAuthority } from '../key-authority/key-authority.js';
import { bytesToSlots } from '../protocol/contribution.js';
import { checkDecryptionAnswer, type DecryptionAnswer, type DecryptionRequest } from '../protocol/decryption.js';
import { KEY_AUTHORITY_DEADLINE_MS, keyAuthorityChannelOptions, keyAuthorityLimits } from './key-authority-limits.js';
import {
  keyAuthorityServiceDefinition,
  type DecryptRequestMessage,
  type DecryptResponseMessage,
  type DescribeKeyAuthorityResponseMessage,
} from './proto.js';
import { fromServiceError } from './status.js';
import { logHeadFromWire, logProofToWire } from './log-proof-messages.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';

/** Default deadline of a Describe call: it does no work, so a peer that takes longer is hung. */
const DESCRIBE_DEADLINE_MS = 5_000;

/** The key authority logs one decryption entry per answer; a little room, no more. */
const MAX_ANSWER_LOG_ENTRIES = 4;

type Unary = (req: object, options: { deadline: Date }, cb: (err: ServiceError | null, res?: unknown) => void) => void;

export interface GrpcKeyAuthorityOptions {
  /** Deadline of every Decrypt call in ms; default KEY_AUTHORITY_DEADLINE_MS (60 s). */
  readonly deadlineMs?: number;
  /** Deadline of every Describe call in ms; default the smaller of `deadlineMs` and 5 s. */
  readonly describeDeadlineMs?: number;
  /**
   * The federation's HE parameters if the caller holds them already (they stay the caller's:
   * close() does not dispose them); otherwise built from the federation's preset on first use.
   */
  readonly params?: HeParams;
}

/** What a remote key authority says about itself (checked against the federation). */
export interface RemoteKeyAuthorityDescription {
  readonly partyId: string;
  readonly federationId: string;
  readonly paramsId: string;
  readonly version: string;
  /** The last transparency-log head it accepted (null: none yet). */
  readonly logHead: SignedTreeHead | null;
}

interface Connected {
  readonly client: Client;
  readonly params: HeParams;
}

export class GrpcKeyAuthority implements KeyAuthority {
  readonly #federation: Federation;
  readonly #endpoint: string;
  readonly #partyId: string;
  readonly #signingKey: Uint8Array;
  readonly #deadlineMs: number;
  readonly #describeDeadlineMs: number;
  readonly #ownsParams: boolean;
  readonly #connected: Promise<Connected>;
  #closed = false;

  /**
   * `channelOptions` are merged over the key authority defaults (keyAuthorityChannelOptions), e.g.
   * the TLS target name for this peer. No connection is made before the first call.
   */
  constructor(
    federation: Federation,
    endpoint: string,
    credentials: ChannelCredentials,
    channelOptions: ChannelOptions = {},
    options: GrpcKeyAuthorityOptions = {},
  ) {
    const deadlineMs = options.deadlineMs ?? KEY_AUTHORITY_DEADLINE_MS;
    if (!Number.isSafeInteger(deadlineMs) || deadlineMs < 1)
      throw new RangeError('GrpcKeyAuthority: deadlineMs must be a positive integer');
    const describeDeadlineMs = options.describeDeadlineMs ?? Math.min(deadlineMs, DESCRIBE_DEADLINE_MS);
    if (!Number.isSafeInteger(describeDeadlineMs) || describeDeadlineMs < 1)
      throw new RangeError('GrpcKeyAuthority: describeDeadlineMs must be a positive integer');
    const ka = partyOfRole(federation, 'key-authority');
    this.#federation = federation;
    this.#endpoint = endpoint;
    this.#partyId = ka.id;
    this.#signingKey = ka.signingKey;
    this.#deadlineMs = deadlineMs;
    this.#describeDeadlineMs = describeDeadlineMs;
    this.#ownsParams = options.params === undefined;
    const given = options.params;
    this.#connected = (async () => {
      const params = given ?? (await HeParams.create(presetByName(federation.he.preset)));
      const Ctor = makeGenericClientConstructor(keyAuthorityServiceDefinition(), 'KeyAuthority');
      const client = new Ctor(endpoint, credentials, {
        ...keyAuthorityChannelOptions(keyAuthorityLimits(params)),
        ...channelOptions,
      });
      return { client, params };
    })();
    this.#connected.catch(() => undefined); // surfaced by the first call
  }

  /** One call with its deadline; when the deadline passes grpc-js cancels the call (RST_STREAM). */
  async #call(method: 'Describe' | 'Decrypt', req: object): Promise<{ res: unknown; params: HeParams }> {
    const deadline = Date.now() + (method === 'Describe' ? this.#describeDeadlineMs : this.#deadlineMs);
    if (this.#closed) throw new FedstatError('UNAVAILABLE', `the link to key authority ${this.#partyId} is closed`);
    const { client, params } = await this.#connected;
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (fn === undefined) throw new FedstatError('INTERNAL', `no method ${method}`);
    const res = await new Promise<unknown>((resolve, reject) => {
      fn.call(client, req, { deadline: new Date(deadline) }, (err, r) => {
        if (err !== null) reject(fromServiceError(err, `key authority ${this.#partyId}`, this.#endpoint));
        else resolve(r);
      });
    });
    return { res, params };
  }

  /**
   * Asks the key authority who it is; CONFIG_INVALID unless it is this federation's key authority
   * (party id, federation id) with this federation's HE parameters.
   */
  async describe(): Promise<RemoteKeyAuthorityDescription> {
    const { res, params } = await this.#call('Describe', {});
    const r = res as DescribeKeyAuthorityResponseMessage;
    const at = `the key authority at ${this.#endpoint}`;
    if (r.partyId !== this.#partyId) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `${at} is ${JSON.stringify(r.partyId)}, the federation file names ${this.#partyId}; check its endpoint`,
      );
    }
    if (r.federationId !== this.#federation.id) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `${at} loaded another federation file (federation ids differ); start it with ${this.#federation.file}`,
      );
    }
    if (r.paramsId !== params.paramsId) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `${at} uses other HE parameters than this federation; start it with ${this.#federation.file}`,
      );
    }
    const logHead = logHeadFromWire(r.logHead, `key authority ${this.#partyId}`);
    return Object.freeze({
      partyId: r.partyId,
      federationId: r.federationId,
      paramsId: r.paramsId,
      version: r.version,
      logHead,
    });
  }

  /**
   * Sends the request and returns the answer only after checking its shape, every slot's range
   * and the key authority's signature (BAD_MESSAGE otherwise).
   */
  async decrypt(request: DecryptionRequest): Promise<DecryptionAnswer> {
    const message: DecryptRequestMessage = {
      query: request.query.bytes,
      querySignature: request.query.signature,
      survivors: request.survivors.bytes,
      survivorsSignature: request.survivors.signature,
      ciphertexts: [...request.ciphertexts],
      signature: request.signature,
      ...(request.logProof === undefined ? {} : { logProof: logProofToWire(request.logProof) }),
    };
    const { res, params } = await this.#call('Decrypt', message);
    const r = res as Partial<DecryptResponseMessage>;
    const from = `key authority ${this.#partyId}`;
    if (
      !Array.isArray(r.slots) ||
      !r.slots.every((s) => s instanceof Uint8Array) ||
      !(r.signature instanceof Uint8Array)
    ) {
      throw new FedstatError('BAD_MESSAGE', `${from} sent a malformed answer`);
    }
    if (r.slots.length !== request.ciphertexts.length) {
      throw new FedstatError(
        'BAD_MESSAGE',
        `${from} returned ${r.slots.length} slot vectors for ${request.ciphertexts.length} ciphertexts`,
      );
    }
    let slots: BigUint64Array[];
    try {
      slots = r.slots.map((b) => bytesToSlots(b, params.slotCount, params.plainModulus));
    } catch (e) {
      throw new FedstatError(
        'BAD_MESSAGE',
        `${from} sent slots that are not ${params.slotCount} values below the plain modulus`,
        { cause: e },
      );
    }
    const entries: unknown = r.logEntries ?? [];
    if (
      !Array.isArray(entries) ||
      entries.length > MAX_ANSWER_LOG_ENTRIES ||
      !entries.every((b) => b instanceof Uint8Array)
    ) {
      throw new FedstatError('BAD_MESSAGE', `${from} sent malformed log entries`);
    }
    const answer: DecryptionAnswer = {
      slots,
      signature: new Uint8Array(r.signature),
      logEntries: entries.map((b: Uint8Array) => Uint8Array.from(b)),
    };
    checkDecryptionAnswer(answer, request, this.#federation.id, this.#signingKey);
    return answer;
  }

  /** Closes the channel (and the parameters it built). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let connected: Connected;
    try {
      connected = await this.#connected;
    } catch {
      return;
    }
    connected.client.close();
    if (this.#ownsParams) connected.params[Symbol.dispose]();
  }
}
