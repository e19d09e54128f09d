export { createCareSubgraph, typeDefs } from './schema.ts';
export { DEMO_HOME, newResidentId, type CareService } from './service.ts';
export { remoteCareDirectory, remoteResidentEraser } from './remote.ts';
