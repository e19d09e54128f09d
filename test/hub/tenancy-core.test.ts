import { sql } from 'drizzle-orm';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { isHubError, type SystemDirectory } from '@hub/runtime';
import {
  ApiByIdDocument,
  ApiMetricsDocument,
  ApisDocument,
  ApplyRateLimitDocument,
  CheckHealthDocument,
  ConfigureRateLimitDocument,
  ConnectDocument,
  CreateIntegrationDocument,
  CreateMappingDocument,
  DeleteMappingDocument,
  DisconnectDocument,
  IntegrationDocument,
  IntegrationsDocument,
  MappingsDocument,
  MappingWithVersionsDocument,
  RegisterApiDocument,
  RegisterSystemDocument,
  RouteRequestDocument,
  SetApiStatusDocument,
  SetScheduleDocument,
  SyncDataDocument,
  SyncRunDocument,
  SystemDocument,
  SystemsDocument,
  TransformDataDocument,
  UpdateMappingDocument,
  type CreateMappingInput,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type GraphQLResult, type TestClient, type TestHub } from '../support/hub.ts';

/**
 * Systems, integrations, mappings and registered APIs belong to one organisation. Organisation B sees none of A's,
 * gets NOT_FOUND for every one of A's ids (reads and every mutation that takes one, over GraphQL and REST), and
 * nothing of A's changes; the same names are allowed in both.
 */
const A = testClient('core-a', 'org-a');
const B = testClient('core-b', 'org-b');
const KEY = 'tenancy-core-key';
const SAME = 'Residents platform';

let hub: TestHub;
let sim: GenericRestSimulator;
const a = { system: '', integration: '', run: '', mapping: '', api: '' };
const b = { system: '', mapping: '', api: '' };

const as = <T, V>(c: TestClient, doc: TypedDocumentNode<T, V>, variables?: V): Promise<GraphQLResult<T>> => hub.gqlAs(c, doc, variables);
async function ok<T, V>(c: TestClient, doc: TypedDocumentNode<T, V>, variables?: V): Promise<T> {
  const r = await as(c, doc, variables);
  if (r.errors?.length) throw new Error(`${c.client}: ${JSON.stringify(r.errors)}`);
  return r.data!;
}
const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;

/** A REST call as a client app (its API key). */
async function rest(c: TestClient | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.url}${path}`, {
    method,
    headers: { ...(c?.headers ?? {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

const mapping = (over: Partial<CreateMappingInput> = {}): CreateMappingInput => ({
  name: 'Resident names',
  sourceFormat: 'JSON',
  targetFormat: 'JSON',
  rules: { fields: { fullName: { path: 'name' } } },
  ...over,
});

const finished = (c: TestClient, runId: string) =>
  eventually(async () => {
    const { syncRun } = await ok(c, SyncRunDocument, { id: runId });
    return syncRun && (syncRun.status === 'SUCCEEDED' || syncRun.status === 'FAILED') ? syncRun : undefined;
  });

/** Everything of A's these four areas keep, read back as A: the same before and after all B tries. */
async function snapshotOfA() {
  const system = (await ok(A, SystemDocument, { id: a.system })).externalSystem!;
  const integration = (await ok(A, IntegrationDocument, { id: a.integration, first: 50 })).integration!;
  const m = (await ok(A, MappingWithVersionsDocument, { id: a.mapping })).mapping!;
  const api = (await ok(A, ApiByIdDocument, { id: a.api })).api!;
  const metrics = (await ok(A, ApiMetricsDocument, { apiId: a.api })).apiMetrics;
  return {
    system: { name: system.name, status: system.status, hasCredentials: system.authentication.hasCredentials, checks: system.healthHistory.length, updatedAt: system.updatedAt },
    integration: {
      name: integration.name,
      schedule: integration.syncSchedule,
      runs: integration.syncRuns.map((r) => r.id),
      successCount: integration.successCount,
      lastSync: integration.lastSync,
    },
    mapping: { name: m.name, version: m.version, versions: m.versions.length },
    api: { name: api.name, status: api.status, rateLimit: api.rateLimit, updatedAt: api.updatedAt },
    metrics: { requests: metrics.requests, rateLimited: metrics.rateLimited },
  };
}
let before: Awaited<ReturnType<typeof snapshotOfA>>;

beforeAll(async () => {
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(A, B) });
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: KEY } });

  const input = { name: SAME, type: 'CARE_PLATFORM' as const, endpoint: sim.url, authentication: { kind: 'API_KEY' as const } };
  a.system = (await ok(A, RegisterSystemDocument, { input })).registerExternalSystem.id;
  expect((await ok(A, ConnectDocument, { id: a.system, credentials: { apiKey: KEY } })).connectToSystem.connected).toBe(true);
  a.integration = (await ok(A, CreateIntegrationDocument, { input: { externalSystemId: a.system, name: 'Nightly residents', resource: { path: '/residents', pageSize: 50 } } })).createIntegration.id;
  a.run = (await ok(A, SyncDataDocument, { id: a.integration })).syncData.id;
  expect((await finished(A, a.run)).status).toBe('SUCCEEDED');
  a.mapping = (await ok(A, CreateMappingDocument, { input: mapping() })).createMapping.id;
  a.api = (await ok(A, RegisterApiDocument, { input: { name: 'care-plans', version: 'v1', basePath: '/care-plans/v1', upstreamUrl: sim.url, rateLimit: { requests: 5, perSeconds: 600 } } })).registerAPI.id;
  await ok(A, RouteRequestDocument, { apiId: a.api, request: { method: 'GET', path: '/residents', headers: { 'X-API-Key': KEY } } });

  // B uses the very same names, base path included: uniqueness is per organisation.
  b.system = (await ok(B, RegisterSystemDocument, { input })).registerExternalSystem.id;
  b.mapping = (await ok(B, CreateMappingDocument, { input: mapping() })).createMapping.id;
  b.api = (await ok(B, RegisterApiDocument, { input: { name: 'care-plans', version: 'v1', basePath: '/care-plans/v1', upstreamUrl: sim.url, rateLimit: { requests: 100, perSeconds: 600 } } })).registerAPI.id;

  before = await snapshotOfA();
}, 60_000);
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

describe('organisations own their systems, integrations, mappings and APIs', () => {
  it('allows the same names in both organisations, each still unique within its own', async () => {
    expect(b.system).not.toBe(a.system);
    expect(b.mapping).not.toBe(a.mapping);
    expect(b.api).not.toBe(a.api);
    const again = await as(B, RegisterSystemDocument, { input: { name: SAME, type: 'CARE_PLATFORM', endpoint: sim.url, authentication: { kind: 'NONE' } } });
    expect(code(again)).toBe('CONFLICT');
    expect(code(await as(B, CreateMappingDocument, { input: mapping() }))).toBe('CONFLICT');
    const path = await as(B, RegisterApiDocument, { input: { name: 'other', version: 'v1', basePath: '/care-plans/v1', upstreamUrl: sim.url } });
    expect(code(path)).toBe('CONFLICT');
  });

  it('lists only the caller\'s own records', async () => {
    const systemsOfB = (await ok(B, SystemsDocument, {})).externalSystems.map((s) => s.id);
    expect(systemsOfB).toEqual([b.system]);
    expect((await ok(B, SystemsDocument, { filter: { nameContains: 'Residents' } })).externalSystems.map((s) => s.id)).toEqual([b.system]);
    expect((await ok(A, SystemsDocument, {})).externalSystems.map((s) => s.id)).toEqual([a.system]);
    expect((await ok(B, IntegrationsDocument, {})).integrations).toEqual([]);
    expect((await ok(B, IntegrationsDocument, { filter: { externalSystemId: a.system } })).integrations).toEqual([]);
    expect((await ok(A, IntegrationsDocument, {})).integrations.map((i) => i.id)).toEqual([a.integration]);
    expect((await ok(B, MappingsDocument)).mappings.map((m) => m.id)).toEqual([b.mapping]);
    expect((await ok(B, ApisDocument)).apis.map((x) => x.id)).toEqual([b.api]);
    expect((await ok(A, ApisDocument)).apis.map((x) => x.id)).toEqual([a.api]);
  });

  it('reads of another organisation\'s ids find nothing', async () => {
    expect((await ok(B, SystemDocument, { id: a.system })).externalSystem).toBeNull();
    expect((await ok(B, IntegrationDocument, { id: a.integration })).integration).toBeNull();
    expect((await ok(B, SyncRunDocument, { id: a.run })).syncRun).toBeNull();
    expect((await ok(B, MappingWithVersionsDocument, { id: a.mapping })).mapping).toBeNull();
    expect((await ok(B, ApiByIdDocument, { id: a.api })).api).toBeNull();
    expect(code(await as(B, ApiMetricsDocument, { apiId: a.api }))).toBe('NOT_FOUND');
    // A's own system lists none of B's integrations, and B's system none of A's.
    expect((await ok(B, SystemDocument, { id: b.system })).externalSystem!.integrations).toEqual([]);
  });

  it('every mutation that takes one of A\'s ids answers NOT_FOUND to B, exactly as for an id that does not exist', async () => {
    const missing = 'c0ffee00-0000-4000-8000-000000000000';
    const attempts: Array<[string, (id: string) => Promise<GraphQLResult<unknown>>, string]> = [
      ['connectToSystem', (id) => as(B, ConnectDocument, { id, credentials: { apiKey: KEY } }), a.system],
      ['disconnectFromSystem', (id) => as(B, DisconnectDocument, { id }), a.system],
      ['checkSystemHealth', (id) => as(B, CheckHealthDocument, { id }), a.system],
      ['createIntegration', (id) => as(B, CreateIntegrationDocument, { input: { externalSystemId: id, name: 'Nightly residents', resource: { path: '/residents' } } }), a.system],
      ['syncData', (id) => as(B, SyncDataDocument, { id }), a.integration],
      ['setSyncSchedule', (id) => as(B, SetScheduleDocument, { id, schedule: { cron: '0 3 * * *', timezone: 'Europe/London' } }), a.integration],
      ['updateMapping', (id) => as(B, UpdateMappingDocument, { id, expectedVersion: 1, input: { description: 'changed by B' } }), a.mapping],
      ['deleteMapping', (id) => as(B, DeleteMappingDocument, { id }), a.mapping],
      ['transformData', (id) => as(B, TransformDataDocument, { data: { name: 'Ada' }, mappingId: id }), a.mapping],
      ['transformData (pinned version)', (id) => as(B, TransformDataDocument, { data: { name: 'Ada' }, mappingId: id, version: 1 }), a.mapping],
      ['routeRequest', (id) => as(B, RouteRequestDocument, { apiId: id, request: { method: 'GET', path: '/residents', headers: { 'X-API-Key': KEY } } }), a.api],
      ['configureRateLimit', (id) => as(B, ConfigureRateLimitDocument, { apiId: id, limit: { requests: 1, perSeconds: 1 } }), a.api],
      ['setApiStatus', (id) => as(B, SetApiStatusDocument, { apiId: id, status: 'RETIRED' }), a.api],
      ['apiMetrics', (id) => as(B, ApiMetricsDocument, { apiId: id }), a.api],
      ['applyRateLimit', (id) => as(B, ApplyRateLimitDocument, { clientId: A.client, endpoint: id }), a.api],
    ];
    for (const [name, attempt, id] of attempts) {
      const theirs = await attempt(id);
      const nobody = await attempt(missing);
      expect(code(theirs), `${name}: ${JSON.stringify(theirs)}`).toBe('NOT_FOUND');
      expect(code(nobody), name).toBe('NOT_FOUND');
      // Existence does not leak: the answer for A's id reads like the one for an id nobody has.
      expect(theirs.errors![0]!.message.replace(id, '<id>'), name).toBe(nobody.errors![0]!.message.replace(missing, '<id>'));
      expect(theirs.data ?? null, name).toBeNull();
    }
  });

  it('applyRateLimit reaches only the caller\'s own organisation\'s clients and APIs', async () => {
    const first = (await ok(A, ApplyRateLimitDocument, { clientId: A.client, endpoint: a.api })).applyRateLimit;
    expect(first).toMatchObject({ apiId: a.api, clientId: A.client, allowed: true, limit: 5 });
    // B spends "core-a" at the same path: that is B's own API there, and B's own client of that name.
    for (let i = 0; i < 6; i++) {
      const r = (await ok(B, ApplyRateLimitDocument, { clientId: A.client, endpoint: '/care-plans/v1/plans' })).applyRateLimit;
      expect(r).toMatchObject({ apiId: b.api, allowed: true, limit: 100 });
    }
    const next = (await ok(A, ApplyRateLimitDocument, { clientId: A.client, endpoint: '/care-plans/v1/plans' })).applyRateLimit;
    expect(next).toMatchObject({ apiId: a.api, allowed: true, remaining: first.remaining! - 1 });
    expect(code(await as(B, ApplyRateLimitDocument, { clientId: 'x', endpoint: 'plans' }))).toBe('BAD_USER_INPUT');
  });

  it('the ports the other subgraphs use reach only the named organisation\'s records', async () => {
    const systems = hub.hub.subgraphs.find((s) => s.name === 'systems')!;
    const integrations = hub.hub.subgraphs.find((s) => s.name === 'integrations')!;
    const directory = systems.provides!.systemDirectory as SystemDirectory;
    expect(await directory.exists('org-a', a.system)).toBe(true);
    expect(await directory.exists('org-b', a.system)).toBe(false);
    expect(await directory.exists('org-b', 'not-a-uuid')).toBe(false);
    expect((await directory.openSession('org-a', a.system)).headers).toBeTruthy();
    const refused = await directory.openSession('org-b', a.system).catch((e: unknown) => e);
    expect(isHubError(refused) && refused.code).toBe('NOT_FOUND');

    // An event rule of B cannot sync A's integration.
    const trigger = integrations.provides!.syncTrigger!;
    const other = await trigger('org-b', a.integration, 'c0ffee00-0000-4000-8000-000000000001', 'rule-b:event-1').catch((e: unknown) => e);
    expect(isHubError(other) && other.code).toBe('NOT_FOUND');
  });

  it('the events announcing A\'s changes are A\'s: every outbox carries the organisation of the row it announces', async () => {
    const db = hub.hub.runtime!.database.db;
    const rowsOf = async (where: ReturnType<typeof sql>) => {
      const r: any = await db.execute(sql`select organisation_id, type from events.events where ${where} order by sequence`);
      return (Array.isArray(r) ? r : r.rows) as Array<{ organisation_id: string; type: string }>;
    };
    const expectA = async (where: ReturnType<typeof sql>, types: string[]) => {
      const rows = await eventually(async () => {
        const got = await rowsOf(where);
        return types.every((t) => got.some((e) => e.type === t)) ? got : undefined;
      });
      expect(new Set(rows.map((e) => e.organisation_id))).toEqual(new Set(['org-a']));
    };
    await expectA(sql`system_id = ${a.system}::uuid`, ['system.registered', 'system.connected']);
    await expectA(sql`integration_id = ${a.integration}::uuid`, ['integration.created', 'sync.started', 'sync.succeeded']);
    await expectA(sql`payload->>'mappingId' = ${a.mapping}`, ['mapping.created']);
    await expectA(sql`payload->>'apiId' = ${a.api}`, ['api.registered']);
    expect(new Set((await rowsOf(sql`system_id = ${b.system}::uuid`)).map((e) => e.organisation_id))).toEqual(new Set(['org-b']));
  });

  it('the REST routes of these areas answer 404 for another organisation\'s ids and list none of its records', async () => {
    const notFound = async (method: string, path: string, body?: unknown) => {
      const r = await rest(B, method, path, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(404);
      expect(r.body.error.code, `${method} ${path}`).toBe('NOT_FOUND');
    };
    await notFound('GET', `/api/integration/systems/${a.system}`);
    await notFound('GET', `/api/integration/systems/${a.system}/status`);
    await notFound('POST', `/api/integration/systems/${a.system}/connect`, { apiKey: KEY });
    await notFound('POST', `/api/integration/systems/${a.system}/disconnect`);
    await notFound('POST', '/api/integration/integrations', { externalSystemId: a.system, name: 'x', resource: { path: '/residents' } });
    await notFound('GET', `/api/integration/integrations/${a.integration}`);
    await notFound('GET', `/api/integration/integrations/${a.integration}/logs`);
    await notFound('POST', `/api/integration/integrations/${a.integration}/sync`);
    await notFound('POST', `/api/integration/apis/${a.api}/route`, { method: 'GET', path: '/residents' });
    await notFound('GET', `/api/integration/apis/${a.api}/metrics`);
    await notFound('POST', `/api/integration/apis/${a.api}/ratelimit`, { requests: 1, perSeconds: 1 });

    expect((await rest(B, 'GET', '/api/integration/systems')).body.map((s: { id: string }) => s.id)).toEqual([b.system]);
    expect((await rest(B, 'GET', '/api/integration/integrations')).body).toEqual([]);
    expect((await rest(B, 'GET', '/api/integration/apis')).body.map((x: { id: string }) => x.id)).toEqual([b.api]);
    // A still reads its own.
    expect((await rest(A, 'GET', `/api/integration/systems/${a.system}`)).status).toBe(200);
    expect((await rest(A, 'GET', `/api/integration/integrations/${a.integration}/logs`)).body.syncRuns.map((r: { id: string }) => r.id)).toContain(a.run);
    // Without a key nobody is let in at all.
    expect((await rest(undefined, 'GET', '/api/integration/systems')).status).toBe(401);
  });

  it('nothing of A\'s changed, read back as A, and A\'s work still goes on as A', async () => {
    expect(await snapshotOfA()).toEqual(before);
    // The background sync runs with A's organisation: A's system answers and A's records are stored.
    const run = (await ok(A, SyncDataDocument, { id: a.integration })).syncData;
    expect((await finished(A, run.id)).status).toBe('SUCCEEDED');
    const { integration } = await ok(A, IntegrationDocument, { id: a.integration, first: 5 });
    expect(integration!.records.totalCount).toBeGreaterThan(0);
    expect((await ok(A, CheckHealthDocument, { id: a.system })).checkSystemHealth.ok).toBe(true);
    const mine = (await ok(A, TransformDataDocument, { data: { name: 'Ada' }, mappingId: a.mapping })).transformData;
    expect(mine).toMatchObject({ mapping: { id: a.mapping }, mappingVersion: 1, valid: true });
    expect(JSON.stringify(mine.data)).toContain('Ada');
    // B's mapping of the same name is B's to use.
    expect((await ok(B, TransformDataDocument, { data: { name: 'Bo' }, mappingId: b.mapping })).transformData.mapping!.id).toBe(b.mapping);
  });

  it('a scheduled health check acts as the organisation it was queued for: queued for B, A\'s system is not checked', async () => {
    const jobs = hub.hub.runtime!.jobs;
    const scheduled = async () => (await ok(A, SystemDocument, { id: a.system })).externalSystem!.healthHistory.filter((h) => h.trigger === 'SCHEDULE').length;
    expect(await scheduled()).toBe(0);
    await jobs.send('systems.health-check', { organisationId: 'org-b', systemId: a.system }, {});
    // The queue polls every 0.5 s in tests: by now the job has been taken and found no system of B's.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await scheduled()).toBe(0);
    await jobs.send('systems.health-check', { organisationId: 'org-a', systemId: a.system }, {});
    await eventually(async () => (await scheduled()) === 1);
  });
});
