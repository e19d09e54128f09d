/** The DBS Update Service (Multiple Status Check facility) simulator. */
export { startDbsSimulator, type DbsSimulator, type DbsSimulatorOptions, type DbsSimulatorStats, type DbsStatus, type DbsStatusCall } from './server.ts';
