export { createPayrollSubgraph, typeDefs } from './schema.ts';
export { TRANSACTION_ENGINE } from './service.ts';
