import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { ConnectDocument, CreateIntegrationDocument, DisconnectDocument, EventsWithSystemDocument, HistoryDocument, RegisterSystemDocument, SyncDataDocument, SyncRunDocument } from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';
import { collect, wsClient } from '../support/ws.ts';

let hub: TestHub;
let ws: Client;
let sim: GenericRestSimulator;
beforeAll(async () => {
  hub = await startTestHub();
  ws = wsClient(hub.url);
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'outbox-key' } });
});
afterAll(async () => {
  await sim?.close();
  await ws?.dispose();
  await hub?.close();
});

describe('state changes announce themselves through the event log', () => {
  it('systems and integrations publish each change once, joined to their system, and live', async () => {
    const live = collect(ws, EventsWithSystemDocument, { filter: { types: ['system.*', 'integration.*', 'sync.*'] } });
    await new Promise((r) => setTimeout(r, 300));

    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'announced', type: 'CARE_PLATFORM', endpoint: sim.url, authentication: { kind: 'API_KEY' } },
    });
    // A change that fails announces nothing.
    const dup = await hub.gql(RegisterSystemDocument, { input: { name: 'announced', type: 'BANK', endpoint: sim.url, authentication: { kind: 'NONE' } } });
    expect(dup.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { apiKey: 'wrong' } });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { apiKey: 'outbox-key' } });
    const { createIntegration: i } = await hub.ok(CreateIntegrationDocument, { input: { externalSystemId: sys.id, name: 'announced residents', resource: { path: '/residents', pageSize: 200 } } });
    const { syncData: run } = await hub.ok(SyncDataDocument, { id: i.id });
    await eventually(async () => (await hub.ok(SyncRunDocument, { id: run.id })).syncRun?.status === 'SUCCEEDED');
    await hub.ok(DisconnectDocument, { id: sys.id });

    const expected = ['system.registered', 'system.connection_failed', 'system.connected', 'integration.created', 'sync.started', 'sync.succeeded', 'system.disconnected'];
    const history = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['system.*', 'integration.*', 'sync.*'] }, first: 100 });
      const mine = eventHistory.events.filter((e) => (e.payload as { systemId?: string; integrationId?: string }).systemId === sys.id || (e.payload as { integrationId?: string }).integrationId === i.id);
      return mine.length >= expected.length ? mine : undefined;
    });
    expect(history.map((e) => e.type).sort()).toEqual([...expected].sort());
    const byType = Object.fromEntries(history.map((e) => [e.type, e]));
    expect(byType['system.connected']!.payload).toMatchObject({ systemId: sys.id, status: 'CONNECTED', httpStatus: 200 });
    expect(byType['system.connection_failed']!.payload).toMatchObject({ status: 'AUTH_FAILED' });
    expect(byType['sync.succeeded']).toMatchObject({ correlationId: run.id, payload: { runId: run.id, recordsStored: 237, status: 'SUCCEEDED' } });
    // Order within one subgraph follows the order of its changes.
    const seq = (t: string) => Number(byType[t]!.sequence);
    expect(seq('system.registered')).toBeLessThan(seq('system.connected'));
    expect(seq('sync.started')).toBeLessThan(seq('sync.succeeded'));

    const got = await live.waitFor(expected.length);
    live.stop();
    expect(got.map((g) => g.events.type).sort()).toEqual([...expected].sort());
    expect(got.every((g) => g.events.system?.id === sys.id && g.events.system.name === 'announced')).toBe(true);
  });
});
