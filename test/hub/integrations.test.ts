import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import {
  ConnectDocument,
  CreateIntegrationDocument,
  IntegrationDocument,
  IntegrationsDocument,
  RegisterSystemDocument,
  SetScheduleDocument,
  SyncDataDocument,
  SyncRunDocument,
  SystemDocument,
  type CreateIntegrationInput,
} from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;
let systemId: string;

beforeAll(async () => {
  hub = await startTestHub();
  sim = await startGenericRestSimulator({ auth: { kind: 'OAUTH2_CLIENT_CREDENTIALS', clientId: 'hub', clientSecret: 'sync-secret' } });
  const { registerExternalSystem } = await hub.ok(RegisterSystemDocument, {
    input: { name: 'Residents platform', type: 'CARE_PLATFORM', endpoint: sim.url, authentication: { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: sim.tokenUrl } },
  });
  systemId = registerExternalSystem.id;
  const c = await hub.ok(ConnectDocument, { id: systemId, credentials: { clientId: 'hub', clientSecret: 'sync-secret' } });
  expect(c.connectToSystem.connected).toBe(true);
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

const create = (over: Partial<CreateIntegrationInput> = {}) =>
  hub.ok(CreateIntegrationDocument, { input: { externalSystemId: systemId, name: `residents-${Math.random().toString(36).slice(2, 8)}`, resource: { path: '/residents', pageSize: 50 }, ...over } });

const finished = (runId: string) =>
  eventually(async () => {
    const { syncRun } = await hub.ok(SyncRunDocument, { id: runId });
    return syncRun && (syncRun.status === 'SUCCEEDED' || syncRun.status === 'FAILED') ? syncRun : undefined;
  });

describe('integrations', () => {
  it('creates an integration joined to its system in both directions', async () => {
    const { createIntegration: i } = await create({ name: 'joined', description: 'residents nightly', configuration: { owner: 'ops' } });
    expect(i).toMatchObject({
      name: 'joined',
      description: 'residents nightly',
      kind: 'REST_PULL',
      status: 'ACTIVE',
      lastSync: null,
      successCount: 0,
      errorCount: 0,
      configuration: { owner: 'ops' },
      externalSystem: { id: systemId, name: 'Residents platform', status: 'CONNECTED' },
      resource: { path: '/residents', pagination: 'CURSOR', pageSize: 50, dataField: 'data', idField: 'id' },
      syncSchedule: null,
    });
    const { externalSystem } = await hub.ok(SystemDocument, { id: systemId });
    expect(externalSystem!.integrations.map((x) => x.id)).toContain(i.id);
    const listed = await hub.ok(IntegrationsDocument, { filter: { externalSystemId: systemId } });
    expect(listed.integrations.map((x) => x.id)).toContain(i.id);
  });

  it('rejects bad input and creates nothing', async () => {
    const before = (await hub.ok(IntegrationsDocument, {})).integrations.length;
    const unknown = await hub.gql(CreateIntegrationDocument, {
      input: { externalSystemId: '00000000-0000-4000-8000-000000000000', name: 'x', resource: { path: '/residents' } },
    });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    for (const [over, msg] of [
      [{ resource: { path: 'residents' } }, /resource.path/],
      [{ resource: { path: '/residents', pageSize: 0 } }, /pageSize/],
      [{ syncSchedule: { cron: 'every tuesday' } }, /cron/],
      [{ syncSchedule: { cron: '* * * * *', timezone: 'Mars/Olympus' } }, /timezone|cron/],
      [{ name: '' }, /name/],
    ] as const) {
      const r = await hub.gql(CreateIntegrationDocument, { input: { ...{ externalSystemId: systemId, name: 'bad', resource: { path: '/residents' } }, ...over } as CreateIntegrationInput });
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(over)).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(msg);
    }
    const wrongEnum = await hub.gql(CreateIntegrationDocument, {
      input: { externalSystemId: systemId, name: 'bad', resource: { path: '/residents', pagination: 'SIDEWAYS' as never } },
    });
    expect(wrongEnum.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await hub.ok(IntegrationsDocument, {})).integrations.length).toBe(before);
  });

  it('syncs every record page by page with a cursor, and again without duplicates', async () => {
    const { createIntegration: i } = await create({ resource: { path: '/residents', pageSize: 50, pagination: 'CURSOR' } });
    const { syncData: queued } = await hub.ok(SyncDataDocument, { id: i.id });
    expect(queued).toMatchObject({ status: 'QUEUED', trigger: 'MANUAL' });
    const run = await finished(queued.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', pages: 5, recordsReceived: 237, recordsStored: 237, errorCount: 0, error: null });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(run.integration).toMatchObject({ id: i.id, successCount: 1, errorCount: 0 });

    const second = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
    expect(second.status).toBe('SUCCEEDED');
    const { integration } = await hub.ok(IntegrationDocument, { id: i.id, first: 500 });
    expect(integration!.successCount).toBe(2);
    expect(integration!.lastSync).not.toBeNull();
    expect(integration!.records.totalCount).toBe(237);
    const ids = integration!.records.records.map((r) => r.externalId);
    expect(new Set(ids).size).toBe(237);
    expect(integration!.records.records.every((r) => r.runId === second.id)).toBe(true);
    expect(integration!.logs.some((l) => /page 5: 37 records stored/.test(l.message))).toBe(true);
  });

  it('syncs with offset pagination and pages through the stored records', async () => {
    const { createIntegration: i } = await create({ resource: { path: '/residents', pageSize: 100, pagination: 'OFFSET' } });
    const run = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', pages: 3, recordsStored: 237 });
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof hub.ok<any, any>>> = await hub.ok(IntegrationDocument, { id: i.id, first: 100, after });
      seen.push(...page.integration.records.records.map((r: { externalId: string }) => r.externalId));
      after = page.integration.records.endCursor;
    } while (after);
    expect(seen.length).toBe(237);
    expect(new Set(seen).size).toBe(237);
  });

  it('honours maxPages from the sync configuration', async () => {
    const { createIntegration: i } = await create();
    const run = await finished((await hub.ok(SyncDataDocument, { id: i.id, config: { maxPages: 2 } })).syncData.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', pages: 2, recordsStored: 100 });
    const bad = await hub.gql(SyncDataDocument, { id: i.id, config: { maxPages: 0 } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('records a failing sync with its error and counts it', async () => {
    const { createIntegration: i } = await create();
    sim.setFaults({ status: 500, paths: ['/residents'] });
    try {
      const run = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatch(/500/);
      expect(run.logs.at(-1)).toMatchObject({ level: 'ERROR' });
      const { integration } = await hub.ok(IntegrationDocument, { id: i.id });
      expect(integration).toMatchObject({ status: 'FAILING', errorCount: 1, successCount: 0 });
    } finally {
      sim.setFaults({});
    }
    const recovered = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
    expect(recovered.status).toBe('SUCCEEDED');
    const { integration } = await hub.ok(IntegrationDocument, { id: i.id });
    expect(integration).toMatchObject({ status: 'ACTIVE', errorCount: 1, successCount: 1 });
  });

  it('NOT_FOUND when syncing an unknown integration', async () => {
    const r = await hub.gql(SyncDataDocument, { id: '00000000-0000-4000-8000-000000000000' });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await hub.ok(IntegrationDocument, { id: '00000000-0000-4000-8000-000000000000' })).integration).toBeNull();
  });

  it('a sync schedule really fires through the job queue, and stops when removed', async () => {
    const { createIntegration: i } = await create({ syncSchedule: { cron: '*/2 * * * * *', timezone: 'Europe/London' } });
    expect(i.syncSchedule).toMatchObject({ cron: '*/2 * * * * *', timezone: 'Europe/London', enabled: true });
    expect(new Date(i.syncSchedule!.nextRunAt!).getTime()).toBeGreaterThan(Date.now() - 1000);
    const runs = await eventually(async () => {
      const { integration } = await hub.ok(IntegrationDocument, { id: i.id });
      const scheduled = integration!.syncRuns.filter((r) => r.trigger === 'SCHEDULE' && r.status === 'SUCCEEDED');
      return scheduled.length >= 2 ? scheduled : undefined;
    }, 30_000);
    expect(runs.every((r) => r.recordsStored === 237)).toBe(true);

    const { setSyncSchedule } = await hub.ok(SetScheduleDocument, { id: i.id, schedule: null });
    expect(setSyncSchedule.syncSchedule).toBeNull();
    await new Promise((r) => setTimeout(r, 1500)); // let a run already queued start
    const count = async () => (await hub.ok(IntegrationDocument, { id: i.id })).integration!.syncRuns.length;
    const settled = await count();
    await new Promise((r) => setTimeout(r, 5000));
    expect(await count()).toBe(settled);
  });
});
