/** fedstat/transport: gRPC servers and clients for the Agency and KeyAuthority services, with mTLS credentials. */
export { serveAgency, addAgencyService, agencyServiceImplementation, type RunningServer } from './agency-server.js';
export { GrpcAgencyLink } from './agency-client.js';
export { agencyServiceDefinition } from './proto.js';
export { MAX_MESSAGE_BYTES, CHANNEL_OPTIONS, SERVER_OPTIONS } from './limits.js';
export { serverCredentials, channelCredentials, channelOptionsFor, peerPartyId, tlsMaterial, type TlsMaterial } from './credentials.js';
export { bindServer, type AllowedCallers, type ServeOptions } from './agency-server.js';
export { serveKeyAuthority, addKeyAuthorityService, keyAuthorityServiceImplementation } from './key-authority-server.js';
export { GrpcKeyAuthority } from './key-authority-client.js';
export { keyAuthorityServiceDefinition } from './proto.js';
export { keyAuthorityLimits, keyAuthorityServerOptions, keyAuthorityChannelOptions } from './key-authority-limits.js';
