import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { ConnectDocument, RegisterSystemDocument } from '../generated/graphql.ts';
import { startTestHub, type GraphQLResult, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;
beforeAll(async () => {
  hub = await startTestHub();
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'limits-key' } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

describe('@rateLimit on subgraph fields (the graphql-rate-limit directive API)', () => {
  it('limits connectToSystem per caller and system: the 21st attempt in a minute is RATE_LIMITED, other systems and callers are not', async () => {
    const register = async (name: string) =>
      (await hub.ok(RegisterSystemDocument, { input: { name, type: 'CARE_PLATFORM', endpoint: sim.url, authentication: { kind: 'API_KEY' } } })).registerExternalSystem.id;
    const a = await register(`limited-${Math.random().toString(36).slice(2)}`);
    const b = await register(`other-${Math.random().toString(36).slice(2)}`);
    const connect = async (id: string, client: string) => {
      const res = await hub.raw(JSON.stringify({ query: print(ConnectDocument), variables: { id, credentials: { apiKey: 'wrong' } } }), { 'x-hub-client': client });
      return (await res.json()) as GraphQLResult<{ connectToSystem: { connected: boolean } }>;
    };
    const before = sim.stats().requests;
    for (let i = 0; i < 20; i++) {
      const r = await connect(a, 'care-app');
      expect(r.errors, `attempt ${i + 1}`).toBeUndefined();
      expect(r.data!.connectToSystem.connected).toBe(false);
    }
    const refused = await connect(a, 'care-app');
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.message).toMatch(/too many connection attempts/);
    expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    // The refused attempt never reached the system.
    expect(sim.stats().requests - before).toBe(20);

    expect((await connect(b, 'care-app')).errors).toBeUndefined();
    expect((await connect(a, 'another-app')).errors).toBeUndefined();
  });
});
