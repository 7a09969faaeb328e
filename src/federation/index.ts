/** fedstat/federation: schemas, the federation file, party key files, creating a federation. */
export * from './schema.js';
export * from './federation.js';
export { loadKeyFile, writeKeyFile, generatePartySecrets, type PartySecrets } from './key-file.js';
export { initFederation, parseAgencySpec, readSchemaFile, DEFAULT_POLICY, type AgencySpec, type InitOptions, type InitResult } from './init.js';
