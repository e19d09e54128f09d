export { createMappingsSubgraph, typeDefs } from './schema.ts';
