export { createEventsSubgraph, typeDefs } from './schema.ts';
