/**
 * A federation for key authority tests, built in memory with the INSECURE N=4096 test preset:
 * party keys, BFV keys, and helpers that sign queries, survivor sets and decryption requests with
 * the coordinator's key, as the coordinator would.
 */
import { randomBytes } from 'node:crypto';
import { parseFederation, type Federation } from '../../src/federation/federation.js';
import { generatePartySecrets, type PartySecrets } from '../../src/federation/key-file.js';
import { toBase64, toHex } from '../../src/crypto/digest.js';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { InProcessKeyAuthority, type InProcessKeyAuthorityOptions } from '../../src/key-authority/key-authority.js';
import { signDecryptionRequest, type DecryptionRequest } from '../../src/protocol/decryption.js';
import {
  newQueryId,
  queryDigest,
  signQuery,
  type AnswerMode,
  type SignedQuery,
} from '../../src/protocol/query-envelope.js';
import { signSurvivorSet, type SignedSurvivorSet, type SurvivorSet } from '../../src/protocol/survivor-set.js';
import { parseQuery } from '../../src/query/parse.js';
import { parseSchema } from '../../src/federation/schema.js';
import { INSECURE_BFV_N4096_T50 } from '../he/insecure-presets.js';

/** Fixed clock of the tests (ms since the epoch). */
export const NOW = 1_750_000_000_000;

export const SCHEMA = {
  datasets: {
    residents: {
      maxRows: 1000,
      columns: {
        district: { type: 'category', values: ['锦江区', '青羊区'] },
        age: { type: 'integer', min: 0, max: 120 },
      },
    },
  },
};

export interface QueryOptions {
  readonly mode?: AnswerMode;
  readonly threshold?: number;
  readonly expiresAt?: number;
  readonly queryId?: string;
}

/** Signs queries, survivor sets and decryption requests as the coordinator of `federation` would. */
export interface Signers {
  readonly query: (options?: QueryOptions) => SignedQuery;
  /** The coordinator-signed set; `dropped` defaults to the query's other agencies. */
  readonly survivorSet: (
    query: SignedQuery,
    survivors: readonly string[],
    override?: Partial<SurvivorSet>,
  ) => SignedSurvivorSet;
  /** The request signed with `signingSecretKey` (default: the coordinator's). */
  readonly request: (
    query: SignedQuery,
    set: SignedSurvivorSet,
    ciphertexts: readonly Uint8Array[],
    signingSecretKey?: Uint8Array,
  ) => DecryptionRequest;
}

/** Queries are issued at `now` and expire a minute later unless told otherwise. */
export function signers(federation: Federation, paramsId: string, coordinatorKey: Uint8Array, now = NOW): Signers {
  const plan = parseQuery(
    'SELECT district, COUNT(*) AS n FROM residents GROUP BY district',
    parseSchema(SCHEMA, 'schema.json'),
  );
  const agencies = federation.parties
    .filter((p) => p.role === 'agency')
    .map((p) => p.id)
    .sort();
  return {
    query: (q = {}) =>
      signQuery(
        {
          v: 1,
          queryId: q.queryId ?? newQueryId(),
          federationId: federation.id,
          paramsId,
          mode: q.mode ?? 'encrypted',
          plan,
          agencies,
          threshold: q.threshold ?? Math.min(2, agencies.length),
          issuedAt: now - 1000,
          expiresAt: q.expiresAt ?? now + 60_000,
        },
        coordinatorKey,
      ),
    survivorSet: (query, survivors, override = {}) => {
      const env = JSON.parse(new TextDecoder().decode(query.bytes)) as {
        queryId: string;
        threshold: number;
        agencies: string[];
      };
      const sorted = [...survivors].sort();
      return signSurvivorSet(
        {
          v: 1,
          round: 2,
          queryId: env.queryId,
          federationId: federation.id,
          queryDigest: toHex(queryDigest(query.bytes)),
          survivors: sorted,
          dropped: env.agencies.filter((a) => !sorted.includes(a)),
          threshold: env.threshold,
          ...override,
        },
        coordinatorKey,
      );
    },
    request: (query, set, ciphertexts, key = coordinatorKey) =>
      signDecryptionRequest(federation.id, query, set, ciphertexts, key),
  };
}

export interface KaFixture extends Disposable {
  readonly federation: Federation;
  readonly params: HeParams;
  readonly heKeys: HeKeyPair;
  readonly encryptor: HeEncryptor;
  /** Agency ids, sorted. */
  readonly agencies: readonly string[];
  readonly secrets: Readonly<Record<string, PartySecrets>>;
  query(options?: QueryOptions): SignedQuery;
  survivorSet: Signers['survivorSet'];
  /** The coordinator-signed request (or signed with party `signer`'s key). */
  request(
    query: SignedQuery,
    set: SignedSurvivorSet,
    ciphertexts: readonly Uint8Array[],
    signer?: string,
  ): DecryptionRequest;
  /** A key authority over these parameters (the caller closes it). */
  keyAuthority(options?: Partial<InProcessKeyAuthorityOptions>): Promise<InProcessKeyAuthority>;
  /** Encrypted sum of `vectors` (one slot vector per agency), as the coordinator would hold it. */
  encryptedSum(vectors: readonly BigUint64Array[]): Uint8Array;
}

/** `n` agencies `a1`…`an`; the federation names the insecure test preset. */
export async function createKaFixture(options: { agencies: number; minAgencies?: number }): Promise<KaFixture> {
  const params = await HeParams.create(INSECURE_BFV_N4096_T50);
  const heKeys = generateHeKeys(params);
  const agencies = Array.from({ length: options.agencies }, (_, i) => `a${i + 1}`).sort();
  const secrets: Record<string, PartySecrets> = {
    coordinator: generatePartySecrets('coordinator', 'coordinator'),
    'key-authority': generatePartySecrets('key-authority', 'key-authority', heKeys.secretKey),
  };
  for (const a of agencies) secrets[a] = generatePartySecrets(a, 'agency');
  const federation = parseFederation(
    {
      fedstat: 1,
      name: 'ka-test',
      schema: SCHEMA,
      policy: { minAgencies: options.minAgencies ?? 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
      he: {
        preset: INSECURE_BFV_N4096_T50.name,
        publicKeyFile: 'he-public.key',
        publicKeySha256: toHex(new Uint8Array(32)),
      },
      parties: Object.values(secrets).map((s) => ({
        id: s.party,
        role: s.role,
        signingKey: toBase64(s.signing.publicKey),
        agreementKey: toBase64(s.agreementPublic),
        ...(s.role === 'agency' ? { endpoint: '127.0.0.1:1' } : {}),
      })),
    },
    '/nonexistent/federation.json',
  );
  const encryptor = new HeEncryptor(params, heKeys.publicKey);
  const sign = signers(federation, params.paramsId, (secrets['coordinator'] as PartySecrets).signing.secretKey);
  return {
    federation,
    params,
    heKeys,
    encryptor,
    agencies,
    secrets,
    query: sign.query,
    survivorSet: sign.survivorSet,
    request: (query, set, ciphertexts, signer = 'coordinator') =>
      sign.request(query, set, ciphertexts, (secrets[signer] as PartySecrets).signing.secretKey),
    keyAuthority: (o = {}) =>
      InProcessKeyAuthority.create({
        federation,
        secrets: secrets['key-authority'] as PartySecrets,
        params,
        clock: () => NOW,
        ...o,
      }),
    encryptedSum(vectors) {
      using acc = new HeAccumulator(params, 1);
      for (const v of vectors) acc.add([encryptor.encrypt(v)]);
      return acc.sum()[0] as Uint8Array;
    },
    [Symbol.dispose]() {
      encryptor[Symbol.dispose]();
      params[Symbol.dispose]();
    },
  };
}

/** A slot vector of small random values (a stand-in for one agency's masked cells). */
export function randomSlots(slotCount: number, max = 1_000_000): BigUint64Array {
  const bytes = randomBytes(slotCount * 4);
  const out = new BigUint64Array(slotCount);
  for (let i = 0; i < slotCount; i++) out[i] = BigInt(bytes.readUInt32LE(i * 4) % max);
  return out;
}

/** Slot-wise sum mod t: the plaintext reference. */
export function plainSum(vectors: readonly BigUint64Array[], slotCount: number, t: bigint): BigUint64Array {
  const out = new BigUint64Array(slotCount);
  for (const v of vectors) for (let i = 0; i < slotCount; i++) out[i] = ((out[i] as bigint) + (v[i] as bigint)) % t;
  return out;
}
