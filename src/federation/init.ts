/**
 * Creating a federation: from a schema and the list of agencies, write the public federation
 * file, the BFV public key and the federation CA certificate beside it, one 0600 secret key file
 * per party under `keys/` (with the party's mTLS certificate and key), and the CA private key in
 * `keys/ca.key` (0600). The CA key is needed only to issue certificates: keep it offline, not on
 * any machine that runs a party.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FedstatError } from '../errors.js';
import { sha256, toBase64, toHex } from '../crypto/digest.js';
import { HeParams } from '../he/he-params.js';
import { generateHeKeys } from '../he/keys.js';
import { presetByName } from '../he/presets.js';
import { createCertificateAuthority, issuePartyCertificate } from '../tls/certificate.js';
import { isDnsLabel } from '../tls/names.js';
import { configError, parseSchema, type Schema } from './schema.js';
import { FEDERATION_FORMAT, PARTY_ID, loadFederation, parseEndpoint, type Federation, type FederationDocument, type Policy } from './federation.js';
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
  /** Lifetime of the federation CA certificate; default DEFAULT_CA_VALID_DAYS. */
  readonly caValidDays?: number;
  /** Lifetime of each party's TLS certificate (never past the CA's); default DEFAULT_CERTIFICATE_VALID_DAYS. */
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

export const DEFAULT_POLICY: Policy = Object.freeze({ minAgencies: 2, minGroupSize: 10, exactRelease: false, transparencyLog: true });
export const DEFAULT_CA_VALID_DAYS = 3650;
export const DEFAULT_CERTIFICATE_VALID_DAYS = 825;
/** Names under which a party's certificate is also valid: the loopback interface, for local runs. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;
/** Ids that would clash with a federation role or with keys/ca.key. */
const RESERVED_AGENCY_IDS = new Set(['coordinator', 'key-authority', 'ca']);

/** Parses `ID=HOST:PORT` as given on the command line. */
export function parseAgencySpec(text: string): AgencySpec {
  const m = /^([^=]+)=(.+)$/.exec(text);
  const id = m?.[1] ?? '';
  const endpoint = m?.[2] ?? '';
  if (!PARTY_ID.test(id) || parseEndpoint(endpoint) === null) {
    throw new FedstatError('CONFIG_INVALID', `--agency ${text}: expected ID=HOST:PORT with a lowercase id, e.g. cd-psb=127.0.0.1:7301`);
  }
  return { id, endpoint };
}

export function readSchemaFile(file: string): Schema {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FedstatError('IO', `cannot read schema file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}; check --schema`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw configError({ file, path: '' }, `not valid JSON (${(e as Error).message})`, 'fix the JSON syntax');
  }
  return parseSchema(raw, file);
}

export async function initFederation(options: InitOptions): Promise<InitResult> {
  const outDir = resolve(options.outDir);
  const ids = new Set<string>();
  for (const a of options.agencies) {
    if (ids.has(a.id)) throw new FedstatError('CONFIG_INVALID', `agency ${a.id} is listed twice; give every agency its own id`);
    if (RESERVED_AGENCY_IDS.has(a.id)) {
      throw new FedstatError('CONFIG_INVALID', `agency id ${a.id} is reserved for a federation role or file; choose another id`);
    }
    if (!isDnsLabel(a.id)) {
      throw new FedstatError('CONFIG_INVALID', `agency id ${JSON.stringify(a.id)} must be a DNS label (lowercase letters, digits, inner dashes) as it names the agency's TLS certificate; choose another id`);
    }
    ids.add(a.id);
  }
  if (options.agencies.length === 0) throw new FedstatError('CONFIG_INVALID', 'no agencies given; pass --agency ID=HOST:PORT (repeatable)');
  const policy: Policy = { ...DEFAULT_POLICY, ...options.policy };
  for (const k of ['minAgencies', 'minGroupSize'] as const) {
    const v = policy[k];
    if (!Number.isSafeInteger(v) || v < 1) throw new FedstatError('CONFIG_INVALID', `${k} must be a positive integer; got ${v}`);
  }
  if (typeof policy.exactRelease !== 'boolean') throw new FedstatError('CONFIG_INVALID', 'exactRelease must be true or false');
  if (typeof policy.transparencyLog !== 'boolean') throw new FedstatError('CONFIG_INVALID', 'transparencyLog must be true or false');
  if (policy.minAgencies > options.agencies.length) {
    throw new FedstatError('CONFIG_INVALID', `minAgencies ${policy.minAgencies} exceeds the ${options.agencies.length} agencies given; lower --min-agencies or add agencies`);
  }
  const endpointOf = (party: string): string | undefined => (party === 'key-authority'
    ? options.keyAuthorityEndpoint
    : options.agencies.find((a) => a.id === party)?.endpoint);
  const partyIds = ['coordinator', 'key-authority', ...ids];
  for (const party of partyIds) {
    const host = endpointHost(endpointOf(party));
    // a certificate valid for another party's name would let this party pose as that one
    if (host !== null && host !== party && partyIds.includes(host)) {
      throw new FedstatError('CONFIG_INVALID', `the endpoint host of ${party} is the id of party ${host}; use a host name that is not another party's id`);
    }
  }
  const keysDir = join(outDir, 'keys');
  const federationFile = join(outDir, 'federation.json');
  if (!options.force && existsSync(federationFile)) {
    throw new FedstatError('IO', `${federationFile} already exists; choose another --out or pass --force to replace the federation and all its keys`);
  }
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });

  const preset = presetByName(options.preset ?? 'BFV_N8192_T60');
  let heKeys: { publicKey: Uint8Array; secretKey: Uint8Array };
  {
    using params = await HeParams.create(preset);
    heKeys = generateHeKeys(params);
  }
  const secrets: PartySecrets[] = [
    generatePartySecrets('coordinator', 'coordinator'),
    generatePartySecrets('key-authority', 'key-authority', heKeys.secretKey),
    ...options.agencies.map((a) => generatePartySecrets(a.id, 'agency')),
  ];
  // certificates are issued before anything is written, so a host they refuse leaves no files behind
  const name = options.name ?? 'fedstat-federation';
  const ca = createCertificateAuthority({ commonName: `fedstat CA ${name}`.slice(0, 64), validDays: options.caValidDays ?? DEFAULT_CA_VALID_DAYS });
  const withTls = secrets.map((s): PartySecrets => {
    const host = endpointHost(endpointOf(s.party));
    return {
      ...s,
      tls: issuePartyCertificate(ca, {
        partyId: s.party, role: s.role,
        hosts: host === null ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, host],
        validDays: options.certificateValidDays ?? DEFAULT_CERTIFICATE_VALID_DAYS,
      }),
    };
  });
  const publicKeyFile = 'he-public.key';
  writeFileSync(join(outDir, publicKeyFile), heKeys.publicKey);
  const caFile = 'ca.crt';
  const caCertificateFile = join(outDir, caFile);
  writeFileSync(caCertificateFile, ca.certificatePem);

  const doc: FederationDocument = {
    fedstat: FEDERATION_FORMAT,
    name,
    schema: options.schema,
    policy,
    he: { preset: preset.name, publicKeyFile, publicKeySha256: toHex(sha256(heKeys.publicKey)) },
    tls: { caFile, caSha256: toHex(sha256(new TextEncoder().encode(ca.certificatePem))) },
    parties: secrets.map((s) => {
      const spec = options.agencies.find((a) => a.id === s.party);
      const endpoint = endpointOf(s.party);
      return {
        id: s.party,
        role: s.role,
        ...(endpoint === undefined ? {} : { endpoint }),
        signingKey: toBase64(s.signing.publicKey),
        agreementKey: toBase64(s.agreementPublic),
        ...(spec?.datasets === undefined ? {} : { datasets: [...spec.datasets] }),
      };
    }),
  };
  writeFileSync(federationFile, `${JSON.stringify(doc, null, 2)}\n`);
  const caKeyFile = join(keysDir, 'ca.key');
  writeSecretFile(caKeyFile, ca.privateKeyPem, options.force === true);
  const keyFiles: Record<string, string> = {};
  for (const s of withTls) {
    const path = join(keysDir, `${s.party}.key`);
    writeKeyFile(path, s, options.force === true);
    keyFiles[s.party] = path;
  }
  return { federation: loadFederation(federationFile), federationFile, keyFiles, caCertificateFile, caKeyFile };
}

function endpointHost(endpoint: string | undefined): string | null {
  return endpoint === undefined ? null : (parseEndpoint(endpoint)?.host ?? null);
}
