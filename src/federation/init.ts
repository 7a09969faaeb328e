/**
 * Creating a federation: from a schema and the list of agencies, write the public federation
 * file, the BFV public key and the federation CA certificate beside it, one 0600 secret key file
 * per party under `keys/` (with the party's mTLS certificate and key), and the CA private key in
 * `keys/ca.key` (0600). The CA key is needed only to issue certificates: keep it offline, not on
 * any machine that runs a party.
 *
 * Everything is checked before anything is written: agency ids (DNS labels of 1 to 63 characters,
 * not a role's name), endpoints (well-formed, and no two parties on the same socket under any
 * spelling: see endpoint.ts), the output folder (a folder, without keys of an earlier init unless
 * `force`). The federation file is written last, so one on disk means init completed.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { FedstatError } from '../errors.js';
import { sha256, toBase64, toHex } from '../crypto/digest.js';
import { HeParams } from '../he/he-params.js';
import { generateHeKeys } from '../he/keys.js';
import { presetByName, type HePreset } from '../he/presets.js';
import { createCertificateAuthority, issuePartyCertificate, type CertificateAndKey } from '../tls/certificate.js';
import { dnsLabelProblem, MAX_LABEL_LENGTH } from '../tls/names.js';
import { checkEndpoint, ENDPOINT_EXAMPLE, type CheckedEndpoint } from './endpoint.js';
import { parseSchemaText, type Schema } from './schema.js';
import {
  FEDERATION_FORMAT,
  loadFederation,
  type Federation,
  type FederationDocument,
  type Policy,
} from './federation.js';
import { generatePartySecrets, writeKeyFile, writeSecretFile, type PartySecrets } from './key-file.js';

export interface AgencySpec {
  readonly id: string;
  readonly endpoint: string;
  /** Datasets this agency may serve; omit for any dataset of the schema. */
  readonly datasets?: readonly string[];
}

export interface InitOptions {
  readonly outDir: string;
  readonly schema: Schema;
  readonly agencies: readonly AgencySpec[];
  readonly name?: string;
  readonly policy?: Partial<Policy>;
  readonly preset?: string;
  /** host:port of a key authority run as its own service; omit to run it inside the coordinator. */
  readonly keyAuthorityEndpoint?: string;
  /** Replace existing key files (all of them: keys of one federation belong together). */
  readonly force?: boolean;
  /** Lifetime of the federation CA certificate, in days; default 3650. */
  readonly caValidDays?: number;
  /** Lifetime of each party's TLS certificate in days (never past the CA's); default 825. */
  readonly certificateValidDays?: number;
}

export interface InitResult {
  readonly federation: Federation;
  readonly federationFile: string;
  /** Party id → key file path. */
  readonly keyFiles: Readonly<Record<string, string>>;
  /** The federation CA certificate (public, beside the federation file). */
  readonly caCertificateFile: string;
  /** The CA private key (0600): keep it offline; it is needed only to issue certificates. */
  readonly caKeyFile: string;
}

const DEFAULT_POLICY: Policy = Object.freeze({
  minAgencies: 2,
  minGroupSize: 10,
  exactRelease: false,
  transparencyLog: true,
});
const DEFAULT_CA_VALID_DAYS = 3650;
const DEFAULT_CERTIFICATE_VALID_DAYS = 825;
/** Names under which a party's certificate is also valid: the loopback interface, for local runs. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;
/** Ids that would clash with a federation role or with keys/ca.key. */
const RESERVED_AGENCY_IDS = new Set(['coordinator', 'key-authority', 'ca']);

/** The rule for agency ids, for messages. */
const ID_RULE = `an agency id must be a DNS label, 1 to ${MAX_LABEL_LENGTH} lowercase letters, digits and inner dashes, as it names the agency's TLS certificate (e.g. cd-psb)`;

/** Why `id` cannot be an agency id, as a phrase that completes "agency id … ", or null. */
function agencyIdProblem(id: string): string | null {
  const problem = dnsLabelProblem(id);
  if (problem !== null) return `${problem}; ${ID_RULE}`;
  if (RESERVED_AGENCY_IDS.has(id))
    return `is reserved for a federation role or file (${[...RESERVED_AGENCY_IDS].join(', ')}); choose another id`;
  return null;
}

/** An id or endpoint as given: quoted if it holds spaces or unusual characters, shortened if it would drown the message. */
function shown(text: string): string {
  const short = text.length > 80 ? `${text.slice(0, 40)}…${text.slice(-12)}` : text;
  return /^[\x21-\x7e]+$/.test(text) ? short : JSON.stringify(short);
}

/**
 * Parses `ID=HOST:PORT` as given on the command line; CONFIG_INVALID naming what is wrong: the
 * shape, the id (see ID_RULE) or the endpoint (its host, or a port outside 1–65535).
 */
export function parseAgencySpec(text: string): AgencySpec {
  const eq = text.indexOf('=');
  const at = `--agency ${shown(text)}`;
  if (eq <= 0 || eq === text.length - 1) {
    throw new FedstatError('CONFIG_INVALID', `${at}: expected ID=HOST:PORT, e.g. cd-psb=${ENDPOINT_EXAMPLE}`);
  }
  const id = text.slice(0, eq);
  const endpoint = text.slice(eq + 1);
  const idProblem = agencyIdProblem(id);
  if (idProblem !== null) throw new FedstatError('CONFIG_INVALID', `${at}: the agency id ${idProblem}`);
  const checked = checkEndpoint(endpoint);
  if ('problem' in checked) throw new FedstatError('CONFIG_INVALID', `${at}: ${checked.problem}`);
  return { id, endpoint };
}

/** Parses the `HOST:PORT` of an option such as --key-authority; CONFIG_INVALID saying what is wrong. */
export function parseEndpointOption(option: string): (text: string) => string {
  return (text) => {
    const checked = checkEndpoint(text);
    if ('problem' in checked) throw new FedstatError('CONFIG_INVALID', `${option} ${shown(text)}: ${checked.problem}`);
    return text;
  };
}

export function readSchemaFile(file: string): Schema {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read schema file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; check --schema`,
      { cause: e },
    );
  }
  return parseSchemaText(text, file);
}

export async function initFederation(options: InitOptions): Promise<InitResult> {
  const outDir = resolve(options.outDir);
  const name = options.name ?? 'fedstat-federation';
  if (typeof name !== 'string' || name.trim() === '')
    throw new FedstatError('CONFIG_INVALID', 'the federation name is empty; give it a name (--name)');
  if (options.agencies.length === 0)
    throw new FedstatError('CONFIG_INVALID', 'no agencies given; pass --agency ID=HOST:PORT (repeatable)');
  const endpoints = checkParties(options);
  const policy = checkedPolicy(options);
  const files = federationFiles(outDir);
  const partyIds = ['coordinator', 'key-authority', ...options.agencies.map((a) => a.id)];
  // Everything is checked before anything is written: a refused init leaves no half a federation behind.
  checkOutput(outDir, files.keysDir, files.federationFile, partyIds, options.force === true);
  const preset = presetByName(options.preset ?? 'BFV_N8192_T60');
  const heKeys = await newHeKeys(preset);
  const secrets: PartySecrets[] = [
    generatePartySecrets('coordinator', 'coordinator'),
    generatePartySecrets('key-authority', 'key-authority', heKeys.secretKey),
    ...options.agencies.map((a) => generatePartySecrets(a.id, 'agency')),
  ];
  // Certificates are issued before anything is written, so a host they refuse leaves no files behind.
  const ca = createCertificateAuthority({
    commonName: `fedstat CA ${name}`.slice(0, 64),
    validDays: options.caValidDays ?? DEFAULT_CA_VALID_DAYS,
  });
  const withTls = secrets.map((s) => withCertificate(s, ca, endpoints.get(s.party)?.checked.host ?? null, options));
  const doc: FederationDocument = {
    fedstat: FEDERATION_FORMAT,
    name,
    schema: options.schema,
    policy,
    he: { preset: preset.name, publicKeyFile: HE_PUBLIC_KEY_FILE, publicKeySha256: toHex(sha256(heKeys.publicKey)) },
    tls: { caFile: CA_FILE, caSha256: toHex(sha256(new TextEncoder().encode(ca.certificatePem))) },
    parties: secrets.map((s) => partyEntry(s, options, endpoints.get(s.party)?.text)),
  };
  const keyFiles = writeFederation(
    files,
    { doc, secrets: withTls, ca, hePublicKey: heKeys.publicKey },
    options.force === true,
  );
  return {
    federation: loadFederation(files.federationFile),
    federationFile: files.federationFile,
    keyFiles,
    caCertificateFile: files.caCertificateFile,
    caKeyFile: files.caKeyFile,
  };
}

const HE_PUBLIC_KEY_FILE = 'he-public.key';
const CA_FILE = 'ca.crt';

/** Where init writes: the federation's public files in `outDir`, the secret ones in `outDir/keys`. */
interface FederationFiles {
  readonly outDir: string;
  readonly keysDir: string;
  readonly federationFile: string;
  readonly caCertificateFile: string;
  readonly caKeyFile: string;
}

function federationFiles(outDir: string): FederationFiles {
  const keysDir = join(outDir, 'keys');
  return {
    outDir,
    keysDir,
    federationFile: join(outDir, 'federation.json'),
    caCertificateFile: join(outDir, CA_FILE),
    caKeyFile: join(keysDir, 'ca.key'),
  };
}

/** The policy: the defaults overridden by the options, each value checked. */
function checkedPolicy(options: InitOptions): Policy {
  const policy: Policy = { ...DEFAULT_POLICY, ...options.policy };
  for (const k of ['minAgencies', 'minGroupSize'] as const) {
    const v = policy[k];
    if (!Number.isSafeInteger(v) || v < 1)
      throw new FedstatError('CONFIG_INVALID', `${k} must be a positive integer; got ${v}`);
  }
  if (typeof policy.exactRelease !== 'boolean')
    throw new FedstatError('CONFIG_INVALID', 'exactRelease must be true or false');
  if (typeof policy.transparencyLog !== 'boolean')
    throw new FedstatError('CONFIG_INVALID', 'transparencyLog must be true or false');
  if (policy.minAgencies > options.agencies.length) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `minAgencies ${policy.minAgencies} exceeds the ${options.agencies.length} agencies given; lower --min-agencies or add agencies`,
    );
  }
  return policy;
}

async function newHeKeys(preset: HePreset): Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }> {
  using params = await HeParams.create(preset);
  return generateHeKeys(params);
}

/** The party's secrets with its mTLS certificate, naming its endpoint's host besides loopback. */
function withCertificate(
  s: PartySecrets,
  ca: CertificateAndKey,
  host: string | null,
  options: InitOptions,
): PartySecrets {
  const certificate = issuePartyCertificate(ca, {
    partyId: s.party,
    role: s.role,
    hosts: host === null ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, host],
    validDays: options.certificateValidDays ?? DEFAULT_CERTIFICATE_VALID_DAYS,
  });
  return { ...s, tls: { ...certificate, caPem: ca.certificatePem } };
}

/** The party as the federation file lists it: public keys, endpoint, datasets. */
function partyEntry(
  s: PartySecrets,
  options: InitOptions,
  endpoint: string | undefined,
): FederationDocument['parties'][number] {
  const spec = options.agencies.find((a) => a.id === s.party);
  return {
    id: s.party,
    role: s.role,
    ...(endpoint === undefined ? {} : { endpoint }),
    signingKey: toBase64(s.signing.publicKey),
    agreementKey: toBase64(s.agreementPublic),
    ...(spec?.datasets === undefined ? {} : { datasets: [...spec.datasets] }),
  };
}

/**
 * Writes the secret files first and the federation file last, so that a federation.json on disk
 * means init completed. Returns each party's key file.
 */
function writeFederation(
  files: FederationFiles,
  what: {
    readonly doc: FederationDocument;
    readonly secrets: readonly PartySecrets[];
    readonly ca: CertificateAndKey;
    readonly hePublicKey: Uint8Array;
  },
  force: boolean,
): Record<string, string> {
  try {
    mkdirSync(files.keysDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError(`cannot create the folder ${files.keysDir}`, e, 'check --out and its permissions');
  }
  writeSecretFile(files.caKeyFile, what.ca.privateKeyPem, force);
  const keyFiles: Record<string, string> = {};
  for (const s of what.secrets) {
    const path = join(files.keysDir, `${s.party}.key`);
    writeKeyFile(path, s, force);
    keyFiles[s.party] = path;
  }
  writePublicFile(join(files.outDir, HE_PUBLIC_KEY_FILE), what.hePublicKey);
  writePublicFile(files.caCertificateFile, what.ca.certificatePem);
  writePublicFile(files.federationFile, `${JSON.stringify(what.doc, null, 2)}\n`);
  return keyFiles;
}

interface PartyEndpoint {
  readonly text: string;
  readonly checked: CheckedEndpoint;
}

/**
 * Checks the agencies' ids and datasets and every party's endpoint: each well-formed, no two the
 * same socket (see endpoint.ts), no host that is another party's id. Returns the endpoints by party.
 */
function checkParties(options: InitOptions): Map<string, PartyEndpoint> {
  const ids = new Set<string>();
  for (const a of options.agencies) {
    if (ids.has(a.id))
      throw new FedstatError('CONFIG_INVALID', `agency ${a.id} is listed twice; give every agency its own id`);
    const problem = agencyIdProblem(a.id);
    if (problem !== null) throw new FedstatError('CONFIG_INVALID', `agency id ${shown(a.id)} ${problem}`);
    ids.add(a.id);
  }
  const endpoints = new Map<string, PartyEndpoint>();
  const given: [party: string, label: string, endpoint: string | undefined][] = [
    ...options.agencies.map((a): [string, string, string] => [a.id, `agency ${a.id}`, a.endpoint]),
    ['key-authority', 'the key authority', options.keyAuthorityEndpoint],
  ];
  const bySocket = new Map<string, { label: string; text: string }>();
  for (const [party, label, text] of given) {
    if (text === undefined) continue;
    const checked = typeof text === 'string' ? checkEndpoint(text) : { problem: 'must be a string HOST:PORT' };
    if ('problem' in checked)
      throw new FedstatError('CONFIG_INVALID', `endpoint ${shown(String(text))} of ${label}: ${checked.problem}`);
    const other = bySocket.get(checked.socket);
    if (other !== undefined) {
      const same = other.text === text ? `both at ${text}` : `${other.text} and ${text} are both ${checked.describe}`;
      throw new FedstatError(
        'CONFIG_INVALID',
        `${other.label} and ${label} have the same endpoint (${same}); give every party its own HOST:PORT`,
        { details: { parties: [other.label, label], endpoint: text } },
      );
    }
    bySocket.set(checked.socket, { label, text });
    endpoints.set(party, { text, checked });
  }
  const partyIds = ['coordinator', 'key-authority', ...ids];
  for (const [party, { checked }] of endpoints) {
    const host = checked.host.toLowerCase();
    // a certificate valid for another party's name would let this party pose as that one
    if (host !== party && partyIds.includes(host)) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `the endpoint host of ${party} is the id of party ${host}; use a host name that is not another party's id`,
      );
    }
  }
  const valid = Object.keys(options.schema.datasets);
  for (const a of options.agencies) {
    const unknown = a.datasets?.find((d) => !valid.includes(d));
    if (unknown !== undefined) {
      throw new FedstatError(
        'CONFIG_INVALID',
        `agency ${a.id} lists dataset ${shown(unknown)}, which the schema does not declare; valid datasets: ${valid.join(', ')}`,
      );
    }
  }
  return endpoints;
}

/**
 * Refuses, before anything is written, an --out that is not a folder and (without `force`) a
 * federation or key file that is already there.
 */
function checkOutput(
  outDir: string,
  keysDir: string,
  federationFile: string,
  partyIds: readonly string[],
  force: boolean,
): void {
  const out = statOrNull(outDir);
  if (out !== null && !out.isDirectory()) {
    throw new FedstatError(
      'IO',
      `--out ${outDir} is a file, not a folder; give --out a folder to create the federation in (it is created if missing)`,
    );
  }
  const keys = statOrNull(keysDir);
  if (keys !== null && !keys.isDirectory()) {
    throw new FedstatError(
      'IO',
      `${keysDir} is a file, but init writes the key files into a folder of that name; move the file away or choose another --out`,
    );
  }
  if (force) return;
  if (statOrNull(federationFile) !== null) {
    throw new FedstatError(
      'IO',
      `${federationFile} already exists; choose another --out or pass --force to replace the federation and all its keys`,
    );
  }
  for (const file of [join(keysDir, 'ca.key'), ...partyIds.map((p) => join(keysDir, `${p}.key`))]) {
    if (statOrNull(file) !== null) {
      throw new FedstatError(
        'IO',
        `key file ${file} already exists (from an earlier init?); keep it and choose another --out, or pass --force to replace every key of the federation`,
      );
    }
  }
}

/** The file's status, or null when nothing is there; IO for a path that cannot be looked at. */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR')
      throw new FedstatError('IO', `${path}: a folder on its path is a file; choose another --out`, { cause: e });
    throw ioError(`cannot look at ${path}`, e, 'check --out and its permissions');
  }
}

function writePublicFile(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw ioError(`cannot write ${path}`, e, 'check --out and its permissions');
  }
}

function ioError(what: string, e: unknown, fix: string): FedstatError {
  return new FedstatError('IO', `${what}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; ${fix}`, { cause: e });
}
