export { createMetricsSubgraph, typeDefs } from './schema.ts';
