/** fedstat: privacy-preserving federated statistics. Each area also has its own subpath. */
export { FedstatError, ERROR_CODES, isFedstatError, type ErrorCode } from './errors.js';
export { loadFederation, initFederation, loadKeyFile, parseSchema, type Federation, type Schema } from './federation/index.js';
export { createAgency, startAgencyNode, type Agency } from './agency/index.js';
export { Coordinator, connectCoordinator, type QueryResult } from './coordinator/index.js';
export { InProcessKeyAuthority, type KeyAuthority } from './key-authority/index.js';
