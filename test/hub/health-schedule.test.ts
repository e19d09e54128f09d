import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { ConnectDocument, DisconnectDocument, RegisterSystemDocument, SystemDocument } from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;

beforeAll(async () => {
  hub = await startTestHub({ HEALTH_CHECK_INTERVAL_SECONDS: '1' });
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'scheduled-key' } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

describe('scheduled health checks', () => {
  it('check connected systems on a schedule, follow an outage and a recovery, and stop on disconnect', async () => {
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'watched', type: 'REGULATOR', endpoint: sim.url, authentication: { kind: 'API_KEY' } },
    });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { apiKey: 'scheduled-key' } });
    const history = async () => (await hub.ok(SystemDocument, { id: sys.id })).externalSystem!;

    await eventually(async () => (await history()).healthHistory.filter((h) => h.trigger === 'SCHEDULE' && h.ok).length >= 2);

    sim.setFaults({ status: 503 });
    const down = await eventually(async () => {
      const s = await history();
      return s.status === 'UNREACHABLE' ? s : undefined;
    });
    expect(down.health).toMatchObject({ status: 'UNREACHABLE', ok: false, httpStatus: 503 });
    expect(down.authentication.hasCredentials).toBe(true);

    sim.setFaults({});
    const up = await eventually(async () => {
      const s = await history();
      return s.status === 'CONNECTED' ? s : undefined;
    });
    expect(up.health).toMatchObject({ ok: true, httpStatus: 200 });

    await hub.ok(DisconnectDocument, { id: sys.id });
    const settled = (await history()).healthHistory.length;
    await new Promise((r) => setTimeout(r, 3500));
    const after = await history();
    // At most one check already under way when it was disconnected may still land.
    expect(after.healthHistory.length - settled).toBeLessThanOrEqual(1);
    expect(after.status).toBe('DISCONNECTED');
  });
});
