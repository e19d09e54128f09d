export { createNhsSubgraph, typeDefs } from './schema.ts';
export type { NhsService } from './service.ts';
export { isValidNhsNumber } from './nhs-number.ts';
export { NHS_ENVIRONMENTS } from './environments.ts';
