import { nhsFixtureKeys, startNhsSimulator, type NhsSimulator } from '@hub/simulators';

/** A hub's own MESH mailbox and a GP practice's, for tests that send discharge summaries. */
export interface NhsFixtureOptions {
  hubMailbox: string;
  gpMailbox: string;
  syntheticPatients: number;
  rateLimitPerSecond?: number;
}

/**
 * The NHS simulator with the fixture keys and two MESH mailboxes, and the configuration a test hub needs to reach it
 * as a simulated NHS (PDS, SCR, EPS and MESH).
 */
export async function startNhsFixture(o: NhsFixtureOptions): Promise<{ sim: NhsSimulator; env: Record<string, string> }> {
  const sim = await startNhsSimulator({
    apiKey: nhsFixtureKeys.apiKey,
    publicKeys: { [nhsFixtureKeys.kid]: nhsFixtureKeys.publicKeyPem },
    rateLimitPerSecond: o.rateLimitPerSecond ?? 1000,
    syntheticPatients: o.syntheticPatients,
    meshMailboxes: { [o.hubMailbox]: 'hub-password', [o.gpMailbox]: 'gp-password' },
    meshSharedKey: 'test-shared-key',
  });
  const env = {
    NHS_ENVIRONMENT: 'simulated',
    NHS_BASE_URL: sim.url,
    NHS_TOKEN_URL: sim.tokenUrl,
    NHS_API_KEY: nhsFixtureKeys.apiKey,
    NHS_PRIVATE_KEY: nhsFixtureKeys.privateKeyPem,
    NHS_KEY_ID: nhsFixtureKeys.kid,
    NHS_MESH_URL: sim.meshBaseUrl,
    NHS_MESH_MAILBOX: o.hubMailbox,
    NHS_MESH_PASSWORD: 'hub-password',
    NHS_MESH_SHARED_KEY: 'test-shared-key',
    NHS_RATE_LIMIT_PER_SECOND: String(o.rateLimitPerSecond ?? 1000),
  };
  return { sim, env };
}
