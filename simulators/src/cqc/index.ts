/** The CQC public API v1 simulator (providers, locations, change feeds, API Management's key check and throttling). */
export { startCqcSimulator, type CqcSimulator, type CqcSimulatorOptions, type CqcSimulatorStats } from './server.ts';
export { DEMO_LOCATION_IDS as CQC_DEMO_LOCATION_IDS, DEMO_PROVIDER_ID as CQC_DEMO_PROVIDER_ID, RATINGS as CQC_RATINGS } from './register.ts';
