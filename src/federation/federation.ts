/**
 * The federation file: the public description every party loads — who the parties are, where
 * they listen, their public keys, the schema, the release policy and the HE parameters. It holds
 * nothing secret. Its SHA-256 (over the canonical encoding) is the federation id that every
 * signature binds, so a message from one federation is never valid in another.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FedstatError } from '../errors.js';
import { fromBase64, sha256, toHex } from '../crypto/digest.js';
import { isAcceptablePublicKey } from '../crypto/ed25519.js';
import { canonicalBytes } from '../util/canonical-json.js';
import { isRecord } from '../util/is-record.js';
import {
  configError,
  datasetSchema,
  parseConfigJson,
  parseSchema,
  type DatasetSchema,
  type JsonLocation,
  type Schema,
} from './schema.js';

/** What a party does in the federation: a federation has agencies, one coordinator and one key authority. */
export type PartyRole = 'agency' | 'coordinator' | 'key-authority';

/** A party as the federation file lists it: its id, role, endpoint and public keys. */
export interface Party {
  /** Unique in the federation: lowercase letters, digits and dashes, at most 63 characters (e.g. `cd-psb`). */
  readonly id: string;
  /** What the party does. */
  readonly role: PartyRole;
  /** host:port where the party serves gRPC (agencies; a key authority run as its own service). */
  readonly endpoint: string | null;
  /** Ed25519 public key. */
  readonly signingKey: Uint8Array;
  /** X25519 public key for key agreement (secure aggregation). */
  readonly agreementKey: Uint8Array;
  /** Datasets the agency may serve; null means any dataset of the schema. */
  readonly datasets: readonly string[] | null;
}

/** The federation's release policy: what every query must meet before anything is released. */
export interface Policy {
  /** Fewest agencies whose contributions a release may combine. */
  readonly minAgencies: number;
  /** Groups whose total count is below this are withheld. */
  readonly minGroupSize: number;
  /**
   * Whether a query without privacy parameters may be released exactly (after cell suppression).
   * False (the default) makes every query differentially private: agencies refuse exact ones.
   */
  readonly exactRelease: boolean;
  /**
   * Whether every query must be in the federation's transparency log: agencies and the key
   * authority then refuse a request that does not come with the query's inclusion proof. Written
   * true by `fedstat init`; absent means false (files from before the log existed).
   */
  readonly transparencyLog: boolean;
}

/** The federation's BFV parameters and public key. */
interface HeConfig {
  /** Name of the HE parameter preset (see `HE_PRESETS`). */
  readonly preset: string;
  /** Path of the BFV public key file, resolved against the federation file's folder. */
  readonly publicKeyFile: string;
  /** hex SHA-256 of the public key file's bytes, so a swapped key is detected. */
  readonly publicKeySha256: string;
}

/**
 * The federation's TLS certificate authority: its certificate file (public, beside the federation
 * file) and the SHA-256 of that file, so a swapped CA is detected like a swapped HE key.
 */
interface TlsConfig {
  /** Path of the CA certificate (PEM), resolved against the federation file's folder. */
  readonly caFile: string;
  /** hex SHA-256 of the CA certificate file's bytes. */
  readonly caSha256: string;
}

/** A validated federation file (see `loadFederation`, `parseFederation`); holds nothing secret. */
export interface Federation {
  /** The federation's name, as `fedstat init` wrote it. */
  readonly name: string;
  /** hex SHA-256 of the canonical federation document. */
  readonly id: string;
  /**
   * Path of the federation file (absolute from `loadFederation`); the HE key and CA files are
   * resolved against its folder.
   */
  readonly file: string;
  /** The datasets the federation can query, and their columns. */
  readonly schema: Schema;
  /** The release policy. */
  readonly policy: Policy;
  /** The BFV preset and public key file. */
  readonly he: HeConfig;
  /** null for a federation written before mTLS: it can only run with --insecure on loopback. */
  readonly tls: TlsConfig | null;
  /** Every party, in the file's order: at least one agency, exactly one coordinator and one key authority. */
  readonly parties: readonly Party[];
  /**
   * The Ed25519 key that signs the transparency log's tree heads when the file names a dedicated
   * log operator (`"transparency": {"operatorKey"}`); absent: the coordinator's signing key does.
   */
  readonly logOperatorKey?: Uint8Array;
}

export const FEDERATION_FORMAT = 1;
const PARTY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENDPOINT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** The JSON document as written to disk (keys base64). */
export interface FederationDocument {
  readonly fedstat: number;
  readonly name: string;
  readonly schema: unknown;
  readonly policy: Policy;
  readonly he: HeConfig;
  readonly tls?: TlsConfig;
  readonly transparency?: { readonly operatorKey: string };
  readonly parties: readonly {
    id: string;
    role: PartyRole;
    endpoint?: string;
    signingKey: string;
    agreementKey: string;
    datasets?: string[];
  }[];
}

function rec(v: unknown): Record<string, unknown> | null {
  return isRecord(v) ? v : null;
}

function at(file: string, path: string): JsonLocation {
  return { file, path };
}

export function parseEndpoint(endpoint: string): { host: string; port: number } | null {
  const m = ENDPOINT.exec(endpoint);
  if (m === null) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
}

function parseKey(raw: unknown, loc: JsonLocation, what: 'signing' | 'agreement'): Uint8Array {
  const bytes = typeof raw === 'string' ? fromBase64(raw) : null;
  if (bytes === null || bytes.length !== 32) {
    throw configError(
      loc,
      `the ${what} key must be 32 bytes in base64`,
      "copy the key from the party's key file or re-run fedstat init",
    );
  }
  if (what === 'signing' && !isAcceptablePublicKey(bytes)) {
    throw configError(
      loc,
      'the signing key is not a valid Ed25519 public key of large order',
      're-run fedstat init to create fresh keys',
    );
  }
  return bytes;
}

function parsePolicy(raw: unknown, file: string): Policy {
  const p = rec(raw);
  if (p === null)
    throw configError(at(file, 'policy'), 'missing "policy" object', 'add {"minAgencies": 2, "minGroupSize": 10}');
  const out: Record<string, number> = {};
  for (const key of ['minAgencies', 'minGroupSize'] as const) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw configError(at(file, `policy.${key}`), `"${key}" must be a positive integer`, 'set it to 1 or more');
    }
    out[key] = v;
  }
  const exact = p['exactRelease'] ?? false;
  if (typeof exact !== 'boolean')
    throw configError(
      at(file, 'policy.exactRelease'),
      '"exactRelease" must be true or false',
      'write false to require differential privacy for every query',
    );
  const logged = p['transparencyLog'] ?? false;
  if (typeof logged !== 'boolean')
    throw configError(
      at(file, 'policy.transparencyLog'),
      '"transparencyLog" must be true or false',
      'write true to require every query to be in the transparency log',
    );
  return Object.freeze({
    minAgencies: out['minAgencies'] ?? 1,
    minGroupSize: out['minGroupSize'] ?? 1,
    exactRelease: exact,
    transparencyLog: logged,
  });
}

function parseHe(raw: unknown, file: string): HeConfig {
  const h = rec(raw);
  const ok =
    h !== null &&
    typeof h['preset'] === 'string' &&
    typeof h['publicKeyFile'] === 'string' &&
    typeof h['publicKeySha256'] === 'string' &&
    /^[0-9a-f]{64}$/.test(h['publicKeySha256']);
  if (!ok) {
    throw configError(
      at(file, 'he'),
      '"he" needs "preset", "publicKeyFile" and a hex "publicKeySha256"',
      're-run fedstat init',
    );
  }
  return Object.freeze({
    preset: h['preset'] as string,
    publicKeyFile: h['publicKeyFile'] as string,
    publicKeySha256: h['publicKeySha256'] as string,
  });
}

function parseTls(raw: unknown, file: string): TlsConfig | null {
  if (raw === undefined) return null;
  const t = rec(raw);
  const ok =
    t !== null &&
    typeof t['caFile'] === 'string' &&
    t['caFile'].length > 0 &&
    typeof t['caSha256'] === 'string' &&
    /^[0-9a-f]{64}$/.test(t['caSha256']);
  if (!ok) throw configError(at(file, 'tls'), '"tls" needs "caFile" and a hex "caSha256"', 're-run fedstat init');
  return Object.freeze({ caFile: t['caFile'] as string, caSha256: t['caSha256'] as string });
}

/** transparency.operatorKey: null without a "transparency" section; CONFIG_INVALID unless a valid key. */
function parseOperatorKey(raw: unknown, file: string): Uint8Array | null {
  if (raw === undefined) return null;
  const text = rec(raw)?.['operatorKey'];
  const key = typeof text === 'string' ? fromBase64(text) : null;
  if (key === null || !isAcceptablePublicKey(key)) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `${file}: transparency.operatorKey must be a base64 Ed25519 public key of 32 bytes; fix it or remove the section to use the coordinator's key`,
    );
  }
  return key;
}

/** Validates a federation document; every error names the file, the JSON path and the fix. */
export function parseFederation(raw: unknown, file: string): Federation {
  const doc = rec(raw);
  if (doc === null)
    throw configError(at(file, ''), 'a federation file must be a JSON object', 'create one with fedstat init');
  if (doc['fedstat'] !== FEDERATION_FORMAT) {
    throw configError(
      at(file, 'fedstat'),
      `unsupported format ${JSON.stringify(doc['fedstat'])}`,
      `this fedstat reads format ${FEDERATION_FORMAT}; re-run fedstat init`,
    );
  }
  const name = doc['name'];
  if (typeof name !== 'string' || name.length === 0)
    throw configError(at(file, 'name'), 'missing federation "name"', 'give the federation a name');
  const schema = parseSchema(doc['schema'], file, 'schema');
  const policy = parsePolicy(doc['policy'], file);
  const he = parseHe(doc['he'], file);
  const tls = parseTls(doc['tls'], file);
  const operatorKey = parseOperatorKey(doc['transparency'], file);
  const rawParties = doc['parties'];
  if (!Array.isArray(rawParties))
    throw configError(at(file, 'parties'), '"parties" must be an array', 're-run fedstat init');
  const seen = new Set<string>();
  const parties = rawParties.map((rp: unknown, i): Party => {
    const loc = (p: string): JsonLocation => at(file, `parties[${i}]${p}`);
    const p = rec(rp);
    if (p === null) throw configError(loc(''), 'a party must be an object', 're-run fedstat init');
    const id = p['id'];
    if (typeof id !== 'string' || !PARTY_ID.test(id)) {
      throw configError(
        loc('.id'),
        `invalid party id ${JSON.stringify(id)}`,
        'use lowercase letters, digits and dashes (e.g. cd-psb)',
      );
    }
    if (seen.has(id)) throw configError(loc('.id'), `duplicate party id ${id}`, 'give every party its own id');
    seen.add(id);
    const role = p['role'];
    if (role !== 'agency' && role !== 'coordinator' && role !== 'key-authority') {
      throw configError(
        loc('.role'),
        `unknown role ${JSON.stringify(role)}`,
        'use "agency", "coordinator" or "key-authority"',
      );
    }
    let endpoint: string | null = null;
    if (p['endpoint'] !== undefined) {
      if (typeof p['endpoint'] !== 'string' || parseEndpoint(p['endpoint']) === null) {
        throw configError(
          loc('.endpoint'),
          `invalid endpoint ${JSON.stringify(p['endpoint'])}`,
          'write HOST:PORT, e.g. 127.0.0.1:7301',
        );
      }
      endpoint = p['endpoint'];
    } else if (role === 'agency') {
      throw configError(loc('.endpoint'), `agency ${id} has no endpoint`, 'add "endpoint": "HOST:PORT"');
    }
    let datasets: readonly string[] | null = null;
    if (p['datasets'] !== undefined) {
      const ds = p['datasets'];
      if (!Array.isArray(ds) || !ds.every((d) => typeof d === 'string' && Object.hasOwn(schema.datasets, d))) {
        throw configError(
          loc('.datasets'),
          '"datasets" must list datasets of the schema',
          `valid datasets: ${Object.keys(schema.datasets).join(', ')}`,
        );
      }
      datasets = Object.freeze([...(ds as string[])]);
    }
    return Object.freeze({
      id,
      role,
      endpoint,
      datasets,
      signingKey: parseKey(p['signingKey'], loc('.signingKey'), 'signing'),
      agreementKey: parseKey(p['agreementKey'], loc('.agreementKey'), 'agreement'),
    });
  });
  for (const role of ['coordinator', 'key-authority'] as const) {
    const n = parties.filter((p) => p.role === role).length;
    if (n !== 1)
      throw configError(at(file, 'parties'), `expected exactly one ${role}, found ${n}`, 're-run fedstat init');
  }
  if (!parties.some((p) => p.role === 'agency'))
    throw configError(at(file, 'parties'), 'no agency is listed', 'pass --agency ID=HOST:PORT to fedstat init');
  return Object.freeze({
    name,
    schema,
    policy,
    he,
    tls,
    file,
    id: toHex(sha256(canonicalBytes(doc))),
    parties: Object.freeze(parties),
    ...(operatorKey === null ? {} : { logOperatorKey: operatorKey }),
  });
}

/** Reads and validates a federation file. */
export function loadFederation(file: string): Federation {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read federation file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; check the path or create it with fedstat init`,
      { cause: e },
    );
  }
  // Strict: a key defined twice (a pasted-over party or dataset) is refused, not half-read.
  return parseFederation(parseConfigJson(text, file), resolve(file));
}

export function party(federation: Federation, id: string): Party {
  const p = federation.parties.find((x) => x.id === id);
  if (p === undefined) {
    throw new FedstatError(
      'NOT_FOUND',
      `no party ${JSON.stringify(id)} in ${federation.file}; parties: ${federation.parties.map((x) => x.id).join(', ')}`,
    );
  }
  return p;
}

export function partyOfRole(federation: Federation, role: 'coordinator' | 'key-authority'): Party {
  const p = federation.parties.find((x) => x.role === role);
  if (p === undefined) throw new FedstatError('INTERNAL', `federation has no ${role}`);
  return p;
}

export function agencies(federation: Federation): readonly Party[] {
  return federation.parties.filter((p) => p.role === 'agency');
}

/** Whether the federation permits `agency` to serve `dataset` (the agency still decides what it loads). */
export function mayServe(agency: Party, dataset: string): boolean {
  return agency.datasets === null || agency.datasets.includes(dataset);
}

/**
 * The agencies the federation allows to serve `dataset`: the most contributions one query can
 * combine, which every slot layout's no-wrap proof is made against. Agencies and coordinator must
 * agree on it, so both take it from here.
 */
export function datasetParties(federation: Federation, dataset: string): readonly Party[] {
  return agencies(federation).filter((a) => mayServe(a, dataset));
}

/** Absolute path of the BFV public key file. */
export function hePublicKeyPath(federation: Federation): string {
  return resolve(dirname(federation.file), federation.he.publicKeyFile);
}

/** Absolute path of the federation CA certificate; CONFIG_INVALID if the federation has no TLS section. */
export function caCertificatePath(federation: Federation): string {
  if (federation.tls === null) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `${federation.file} has no "tls" section, so it has no certificate authority; re-run fedstat init to create one, or run with --insecure on 127.0.0.1`,
    );
  }
  return resolve(dirname(federation.file), federation.tls.caFile);
}

/**
 * Reads a public file the federation file pins by SHA-256 (the HE public key, the CA
 * certificate): a file swapped on disk is refused rather than trusted.
 */
function readPinnedFile(
  federation: Federation,
  path: string,
  sha256Hex: string | undefined,
  names: { readonly read: string; readonly label: string; readonly copy: string },
): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new FedstatError('KEY_INVALID', `cannot read ${names.read} ${path}; keep it beside the federation file`, {
      cause: e,
    });
  }
  if (toHex(sha256(bytes)) !== sha256Hex) {
    throw new FedstatError(
      'KEY_INVALID',
      `${names.label} ${path} does not match the hash in ${federation.file}; copy ${names.copy} that came with this federation file`,
    );
  }
  return bytes;
}

/**
 * Reads the BFV public key beside the federation file, checked against its pinned hash: the
 * loader of what `createAgency` takes as `hePublicKey`.
 */
export function readHePublicKey(federation: Federation): Uint8Array {
  return readPinnedFile(federation, hePublicKeyPath(federation), federation.he.publicKeySha256, {
    read: 'the HE public key',
    label: 'HE public key',
    copy: 'the key',
  });
}

/**
 * Returns `bytes` if they are the BFV public key the federation pins by hash (however they were
 * obtained: a file, a configuration store, memory); KEY_INVALID otherwise.
 */
export function checkHePublicKey(federation: Federation, bytes: Uint8Array): Uint8Array {
  if (toHex(sha256(bytes)) !== federation.he.publicKeySha256) {
    throw new FedstatError(
      'KEY_INVALID',
      `the HE public key given does not match the hash in ${federation.file}; use the he-public.key that came with this federation file`,
    );
  }
  return bytes;
}

/**
 * Reads the federation CA certificate (PEM) and checks it against the hash in the federation
 * file, as the HE public key is checked: a CA swapped on disk would let anyone in.
 */
export function readCaCertificate(federation: Federation): string {
  const path = caCertificatePath(federation);
  const bytes = readPinnedFile(federation, path, federation.tls?.caSha256, {
    read: 'the federation CA certificate',
    label: 'CA certificate',
    copy: 'the ca.crt',
  });
  return caPemOf(new TextDecoder().decode(bytes), path);
}

/**
 * Returns `pem` if it is the CA certificate the federation pins by hash (however it was obtained);
 * KEY_INVALID otherwise, or CONFIG_INVALID when the federation has no "tls" section.
 */
export function checkCaCertificate(federation: Federation, pem: string): string {
  caCertificatePath(federation); // CONFIG_INVALID without a "tls" section
  if (toHex(sha256(new TextEncoder().encode(pem))) !== federation.tls?.caSha256) {
    throw new FedstatError(
      'KEY_INVALID',
      `the CA certificate given does not match the hash in ${federation.file}; use the ca.crt that came with this federation file`,
    );
  }
  return caPemOf(pem, 'the CA certificate given');
}

function caPemOf(pem: string, where: string): string {
  let isCa = false;
  try {
    isCa = new X509Certificate(pem).ca;
  } catch {
    // reported below
  }
  if (!isCa) throw new FedstatError('KEY_INVALID', `${where} is not a CA certificate; re-run fedstat init`);
  return pem;
}

export function datasetSchemaOf(federation: Federation, dataset: string): DatasetSchema {
  return datasetSchema(federation.schema, dataset);
}
