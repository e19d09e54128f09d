/**
 * @hub/simulators — local stand-ins for the third-party systems the hub talks to.
 * The generic REST simulator covers the common shapes: six auth styles, two
 * pagination styles, rate limiting and injectable faults.
 */
export type { Faults, GenericRestSimulator, GenericRestSimulatorOptions, SimAuth } from './types.ts';
export { startGenericRestSimulator } from './server.ts';
export { tlsFixtures, tlsFixturePaths } from './tls.ts';
export type { NhsSimulator, NhsSimulatorOptions, NhsSimulatorStats } from './nhs/types.ts';
export { startNhsSimulator } from './nhs/server.ts';
export { syntheticNhsNumbers, isValidNhsNumber } from './nhs/nhs-number.ts';
export { nhsFixtureKeys, nhsFixtureKeyPaths, nhsFixtureMesh, nhsSimulatorDefaults } from './nhs/fixtures.ts';
export { startHmrcSimulator, type HmrcSimulator, type HmrcSimulatorOptions } from './hmrc/index.ts';
export { startOpenBankingSimulator, type OpenBankingSimulator, type OpenBankingSimulatorOptions } from './open-banking/index.ts';
export { startCqcSimulator, CQC_DEMO_LOCATION_IDS, CQC_DEMO_PROVIDER_ID, CQC_RATINGS, type CqcSimulator, type CqcSimulatorOptions, type CqcSimulatorStats } from './cqc/index.ts';
export { startDbsSimulator, type DbsSimulator, type DbsSimulatorOptions, type DbsSimulatorStats, type DbsStatus } from './dbs/index.ts';
export { startHmrcRtiSimulator, simulatorIrmark, type HmrcRtiSimulator, type HmrcRtiSimulatorOptions, type HmrcRtiStats, type HmrcRtiError, type HmrcRtiSubmission } from './hmrc-rti.ts';
