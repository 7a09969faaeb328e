/**
 * An agency's key material from values held in memory (a secrets store, a configuration service,
 * environment variables): the same checks as reading the files, with no file read.
 * `loadAgencyMaterial` (node.ts) is the file-reading twin.
 */
import { checkHePublicKey, parseFederation } from '../federation/federation.js';
import { parseKeyFile } from '../federation/key-file.js';
import { parseConfigJson } from '../federation/schema.js';
import type { AgencyMaterial } from './agency-context.js';

/** The contents of the files `fedstat init` wrote for one agency, as text and bytes. */
export interface AgencyMaterialSource {
  /** federation.json: its text, or the document already parsed from JSON. */
  readonly federation: string | object;
  /** The agency's key file (keys/ID.key): its text. */
  readonly keyFile: string;
  /** he-public.key: its bytes, checked against the hash the federation pins. */
  readonly hePublicKey: Uint8Array;
  /** ca.crt (PEM), checked against the federation's pinned hash; needed when the federation has TLS. */
  readonly caCertificate?: string;
  /** Names the source in errors, in place of a file name; default "federation (in memory)". */
  readonly label?: string;
}

/**
 * Parses and checks an agency's material held in memory: the federation document, the key file
 * against the federation's public keys and CA, the HE public key against its pinned hash.
 * CONFIG_INVALID or KEY_INVALID, naming `label`, as the file loaders would.
 */
export function agencyMaterialFrom(source: AgencyMaterialSource): AgencyMaterial {
  const label = source.label ?? 'federation (in memory)';
  const doc = typeof source.federation === 'string' ? parseConfigJson(source.federation, label) : source.federation;
  const federation = parseFederation(doc, label);
  const secrets = parseKeyFile(source.keyFile, federation, {
    source: `${label}: key file`,
    caCertificate: source.caCertificate ?? null,
  });
  return { federation, secrets, hePublicKey: checkHePublicKey(federation, source.hePublicKey) };
}
