/** fedstat/protocol: the signed messages agencies and coordinators exchange, independent of transport. */
export * from './query-envelope.js';
export * from './contribution.js';
export * from './cells.js';
export type { AgencyLink, AgencyDescription } from './links.js';
