export { createRegulatorySubgraph, typeDefs } from './schema.ts';
export type { RegulatoryService } from './service.ts';
export { CQC_LIVE_BASE_URL } from './cqc-client.ts';
export { DBS_LIVE_BASE_URL } from './service.ts';
