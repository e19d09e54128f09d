export { createBankingSubgraph, typeDefs } from './schema.ts';
