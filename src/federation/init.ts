/**
 * Creating a federation: from a schema and the list of agencies, write the public federation
 * file, the BFV public key beside it, and one 0600 secret key file per party under `keys/`.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FedstatError } from '../errors.js';
import { sha256, toBase64, toHex } from '../crypto/digest.js';
import { HeParams } from '../he/he-params.js';
import { generateHeKeys } from '../he/keys.js';
import { presetByName } from '../he/presets.js';
import { configError, parseSchema, type Schema } from './schema.js';
import { FEDERATION_FORMAT, PARTY_ID, loadFederation, parseEndpoint, type Federation, type FederationDocument, type Policy } from './federation.js';
import { generatePartySecrets, writeKeyFile, type PartySecrets } from './key-file.js';

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
}

export interface InitResult {
  readonly federation: Federation;
  readonly federationFile: string;
  /** Party id → key file path. */
  readonly keyFiles: Readonly<Record<string, string>>;
}

export const DEFAULT_POLICY: Policy = Object.freeze({ minAgencies: 2, minGroupSize: 10 });

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
    if (a.id === 'coordinator' || a.id === 'key-authority') {
      throw new FedstatError('CONFIG_INVALID', `agency id ${a.id} is reserved for a federation role; choose another id`);
    }
    ids.add(a.id);
  }
  if (options.agencies.length === 0) throw new FedstatError('CONFIG_INVALID', 'no agencies given; pass --agency ID=HOST:PORT (repeatable)');
  const policy: Policy = { ...DEFAULT_POLICY, ...options.policy };
  for (const [k, v] of Object.entries(policy)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new FedstatError('CONFIG_INVALID', `${k} must be a positive integer; got ${v}`);
  }
  if (policy.minAgencies > options.agencies.length) {
    throw new FedstatError('CONFIG_INVALID', `minAgencies ${policy.minAgencies} exceeds the ${options.agencies.length} agencies given; lower --min-agencies or add agencies`);
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
  const publicKeyFile = 'he-public.key';
  writeFileSync(join(outDir, publicKeyFile), heKeys.publicKey);

  const doc: FederationDocument = {
    fedstat: FEDERATION_FORMAT,
    name: options.name ?? 'fedstat-federation',
    schema: options.schema,
    policy,
    he: { preset: preset.name, publicKeyFile, publicKeySha256: toHex(sha256(heKeys.publicKey)) },
    parties: secrets.map((s) => {
      const spec = options.agencies.find((a) => a.id === s.party);
      const endpoint = s.role === 'key-authority' ? options.keyAuthorityEndpoint : spec?.endpoint;
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
  const keyFiles: Record<string, string> = {};
  for (const s of secrets) {
    const path = join(keysDir, `${s.party}.key`);
    writeKeyFile(path, s, options.force === true);
    keyFiles[s.party] = path;
  }
  return { federation: loadFederation(federationFile), federationFile, keyFiles };
}
