import { mustQuery } from './lib/graphql.ts';

export const SEED_SYSTEMS = 20;
export const SEED_INTEGRATIONS_PER_SYSTEM = 2;

const REGISTER = `mutation Register($input: RegisterExternalSystemInput!) {
  registerExternalSystem(input: $input) { id }
}`;

const CREATE_INTEGRATION = `mutation CreateIntegration($input: CreateIntegrationInput!) {
  createIntegration(input: $input) { id }
}`;

export interface SeedResult {
  systems: number;
  integrations: number;
}

/**
 * Seeds through the hub's public GraphQL API rather than SQL, so the rows are exactly what the services write
 * (validation, defaults, ids). The endpoint is a discard port: systems are only registered, never connected.
 */
export async function seed(graphqlEndpoint: string): Promise<SeedResult> {
  let integrations = 0;
  for (let i = 1; i <= SEED_SYSTEMS; i++) {
    const n = String(i).padStart(2, '0');
    const { registerExternalSystem: system } = await mustQuery<{ registerExternalSystem: { id: string } }>(graphqlEndpoint, REGISTER, {
      input: { name: `Bench system ${n}`, type: 'GENERIC_REST', endpoint: 'http://127.0.0.1:9/x', authentication: { kind: 'NONE' } },
    });
    for (let j = 1; j <= SEED_INTEGRATIONS_PER_SYSTEM; j++) {
      await mustQuery(graphqlEndpoint, CREATE_INTEGRATION, {
        input: { externalSystemId: system.id, name: `Bench integration ${n}-${j}`, resource: { path: '/residents' } },
      });
      integrations++;
    }
  }
  return { systems: SEED_SYSTEMS, integrations };
}
