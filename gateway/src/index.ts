export { startHub, buildSubgraphs, type Hub } from './hub.ts';
export { composeSupergraph, type SubgraphSource } from './supergraph.ts';
export { InProcessDataSource } from './datasource.ts';
