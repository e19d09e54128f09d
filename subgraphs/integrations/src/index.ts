export { createIntegrationsSubgraph, typeDefs } from './schema.ts';
export type { IntegrationsService } from './service.ts';
