export { createAuditSubgraph, typeDefs } from './schema.ts';
