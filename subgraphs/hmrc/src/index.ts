export { createHmrcSubgraph, typeDefs } from './schema.ts';
export { HMRC_ENVIRONMENTS } from './environments.ts';
