/** fedstat/transport: gRPC server and client for the Agency service. */
export { serveAgency, addAgencyService, agencyServiceImplementation, type RunningServer } from './agency-server.js';
export { GrpcAgencyLink } from './agency-client.js';
export { agencyServiceDefinition } from './proto.js';
export { MAX_MESSAGE_BYTES, CHANNEL_OPTIONS, SERVER_OPTIONS } from './limits.js';
export { serverCredentials, channelCredentials, channelOptionsFor, peerPartyId, tlsMaterial, type TlsMaterial } from './credentials.js';
export { bindServer, type AllowedCallers, type ServeOptions } from './agency-server.js';
