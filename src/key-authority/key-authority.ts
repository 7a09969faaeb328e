/**
 * The key authority holds the BFV secret key and decrypts only aggregate sums, and only for a
 * query the coordinator signed, combining at least `minAgencies` of the agencies that query
 * named, once per query id. Every decryption is recorded. It runs inside the coordinator's
 * process by default; the interface is what a separate service implements.
 */
import { FedstatError } from '../errors.js';
import type { AuditSink } from '../audit/events.js';
import { NO_AUDIT } from '../audit/events.js';
import type { Federation } from '../federation/federation.js';
import type { PartySecrets } from '../federation/key-file.js';
import { HeDecryptor } from '../he/decryptor.js';
import { HeParams } from '../he/he-params.js';
import { presetByName } from '../he/presets.js';
import { openQuery, type SignedQuery } from '../protocol/query-envelope.js';

export interface DecryptionRequest {
  readonly query: SignedQuery;
  /** Agencies whose contributions were summed. */
  readonly contributors: readonly string[];
  /** The summed ciphertexts, one per ciphertext of the plan's layout. */
  readonly ciphertexts: readonly Uint8Array[];
}

export interface KeyAuthority {
  decrypt(request: DecryptionRequest): Promise<BigUint64Array[]>;
  close(): Promise<void>;
}

export interface InProcessKeyAuthorityOptions {
  readonly federation: Federation;
  readonly secrets: PartySecrets;
  readonly audit?: AuditSink;
  readonly clock?: () => number;
}

export class InProcessKeyAuthority implements KeyAuthority {
  private readonly released = new Set<string>();
  private closed = false;

  private constructor(
    private readonly federation: Federation,
    private readonly params: HeParams,
    private readonly decryptor: HeDecryptor,
    private readonly audit: AuditSink,
    private readonly clock: () => number,
  ) {}

  static async create(options: InProcessKeyAuthorityOptions): Promise<InProcessKeyAuthority> {
    const { federation, secrets } = options;
    if (secrets.role !== 'key-authority' || secrets.heSecretKey === null) {
      throw new FedstatError('KEY_INVALID', `key file of ${secrets.party} holds no HE secret key; use the key authority's key file`);
    }
    const params = await HeParams.create(presetByName(federation.he.preset));
    try {
      const decryptor = new HeDecryptor(params, secrets.heSecretKey);
      return new InProcessKeyAuthority(federation, params, decryptor, options.audit ?? NO_AUDIT, options.clock ?? Date.now);
    } catch (e) {
      params[Symbol.dispose]();
      throw e;
    }
  }

  decrypt(request: DecryptionRequest): Promise<BigUint64Array[]> {
    if (this.closed) return Promise.reject(new FedstatError('UNAVAILABLE', 'key authority is closed'));
    try {
      const now = this.clock();
      const env = openQuery(request.query, this.federation, this.params.paramsId, now);
      const contributors = new Set(request.contributors);
      if (contributors.size !== request.contributors.length) throw new FedstatError('BAD_MESSAGE', 'contributor list has duplicates');
      for (const c of contributors) {
        if (!env.agencies.includes(c)) throw new FedstatError('POLICY_REFUSED', `key authority refuses: ${c} was not asked by query ${env.queryId}`);
      }
      if (contributors.size < this.federation.policy.minAgencies) {
        throw new FedstatError('POLICY_REFUSED', `key authority refuses: ${contributors.size} contributing agencies, the policy needs at least ${this.federation.policy.minAgencies}`);
      }
      if (env.mode !== 'encrypted') throw new FedstatError('POLICY_REFUSED', 'key authority decrypts encrypted queries only');
      if (this.released.has(env.queryId)) {
        throw new FedstatError('REPLAY', `key authority already released query ${env.queryId}; each query is decrypted once`);
      }
      const slots = request.ciphertexts.map((ct) => this.decryptor.decrypt(ct));
      this.released.add(env.queryId);
      this.audit.append({ type: 'decryption', at: now, queryId: env.queryId, contributors: [...contributors].sort() });
      return Promise.resolve(slots);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.decryptor[Symbol.dispose]();
      this.params[Symbol.dispose]();
    }
    return Promise.resolve();
  }
}
