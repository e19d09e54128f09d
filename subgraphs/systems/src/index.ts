export { createSystemsSubgraph, typeDefs } from './schema.ts';
export type { SystemsService } from './service.ts';
