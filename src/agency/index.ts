/** fedstat/agency: an agency node, embeddable in your own service or run from files. */
export { createAgency, type Agency, type AgencyMaterial, type AgencyOptions } from './agency.js';
export { loadAgencyMaterial, startAgencyNode, type AgencyNode, type AgencyNodeOptions } from './node.js';
