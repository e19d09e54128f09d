import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import {
  ApiByIdDocument,
  ApiMetricsDocument,
  ApplyRateLimitDocument,
  ConfigureRateLimitDocument,
  HistoryDocument,
  RegisterApiDocument,
  RouteRequestDocument,
  SetApiStatusDocument,
  type RegisterApiInput,
} from '../generated/graphql.ts';
import { eventually, startTestHub, type GraphQLResult, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;
beforeAll(async () => {
  hub = await startTestHub();
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'care-plans-key' } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;
const tag = () => Math.random().toString(36).slice(2, 8);
const careplans = (over: Partial<RegisterApiInput> = {}): RegisterApiInput => {
  const t = tag();
  return { name: `care-plans-${t}`, version: 'v1', basePath: `/care-plans-${t}/v1`, upstreamUrl: sim.url, ...over };
};

/** A GraphQL call as one client app: the gateway takes who is asking from x-hub-client. */
async function as<T, V>(client: string, doc: TypedDocumentNode<T, V>, variables: V): Promise<GraphQLResult<T>> {
  const res = await hub.raw(JSON.stringify({ query: print(doc), variables }), { 'x-hub-client': client });
  return (await res.json()) as GraphQLResult<T>;
}

describe('the API registry', () => {
  it('registers versions side by side, refuses clashes and unsafe upstreams, and announces each change', async () => {
    const { registerAPI: v1 } = await hub.ok(RegisterApiDocument, { input: careplans({ description: 'Care plans', rateLimit: { requests: 10, perSeconds: 60 } }) });
    expect(v1).toMatchObject({ version: 'v1', status: 'ACTIVE', timeoutMs: 10_000, rateLimit: { requests: 10, perSeconds: 60 }, upstreamUrl: sim.url });
    const v2 = await hub.ok(RegisterApiDocument, { input: { name: v1.name, version: 'v2', basePath: v1.basePath.replace(/v1$/, 'v2'), upstreamUrl: `${sim.url}/` } });
    expect(v2.registerAPI.upstreamUrl).toBe(sim.url);

    const again = await hub.gql(RegisterApiDocument, { input: { name: v1.name, version: 'v1', basePath: '/elsewhere', upstreamUrl: sim.url } });
    expect(code(again)).toBe('CONFLICT');
    expect(again.errors![0]!.message).toMatch(/already registered/);
    const samePath = await hub.gql(RegisterApiDocument, { input: careplans({ basePath: v1.basePath }) });
    expect(code(samePath)).toBe('CONFLICT');
    expect(samePath.errors![0]!.message).toMatch(/already served at/);

    expect(code(await hub.gql(RegisterApiDocument, { input: careplans({ upstreamUrl: 'http://10.1.2.3:8080' }) }))).toBe('OUTBOUND_REFUSED');
    for (const bad of [{ upstreamUrl: 'not a url' }, { upstreamUrl: `${sim.url}?key=secret` }, { basePath: 'no-slash' }, { basePath: '/a/../b' }, { version: 'v 1' }, { rateLimit: { requests: 0, perSeconds: 60 } }, { timeoutMs: 5 }]) {
      const r = await hub.gql(RegisterApiDocument, { input: careplans(bad) });
      expect(code(r), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }

    const { setApiStatus } = await hub.ok(SetApiStatusDocument, { apiId: v1.id, status: 'DEPRECATED' });
    expect(setApiStatus.status).toBe('DEPRECATED');
    expect(code(await hub.gql(SetApiStatusDocument, { apiId: v1.id, status: 'GONE' }))).toBe('BAD_USER_INPUT');
    expect(code(await hub.gql(SetApiStatusDocument, { apiId: 'c0ffee00-0000-4000-8000-000000000000', status: 'ACTIVE' }))).toBe('NOT_FOUND');
    expect(code(await hub.gql(ApiByIdDocument, { id: 'nope' }))).toBe('BAD_USER_INPUT');
    expect((await hub.ok(ApiByIdDocument, { id: 'c0ffee00-0000-4000-8000-000000000000' })).api).toBeNull();

    const events = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['api.*'] }, first: 100 });
      const mine = eventHistory.events.filter((e) => (e.payload as { apiId: string }).apiId === v1.id);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(events.map((e) => e.type)).toEqual(['api.registered', 'api.deprecated']);
  });
});

describe('routing requests to a registered API', () => {
  it('forwards method, path, query, headers and body, and hands back whatever the upstream answered', async () => {
    const { registerAPI: api } = await hub.ok(RegisterApiDocument, { input: careplans() });
    const { routeRequest: ok } = await hub.ok(RouteRequestDocument, {
      apiId: api.id,
      request: { method: 'GET', path: '/residents', query: { limit: 5, offset: 0 }, headers: { 'X-API-Key': 'care-plans-key', Connection: 'close' } },
    });
    expect(ok.status).toBe(200);
    expect(ok.deprecated).toBe(false);
    expect((ok.body as { data: unknown[] }).data).toHaveLength(5);
    expect(JSON.parse(ok.bodyText)).toEqual(ok.body);
    expect((ok.headers as Record<string, string>)['content-type']).toMatch(/json/);
    expect(ok.rateLimit).toMatchObject({ allowed: true, limit: null });

    // The upstream's own refusals are responses, not hub errors.
    const { routeRequest: noKey } = await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/residents' } });
    expect(noKey.status).toBe(401);
    const { routeRequest: missing } = await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/nowhere', headers: { 'X-API-Key': 'care-plans-key' } } });
    expect(missing.status).toBe(404);

    for (const request of [
      { method: 'TRACE', path: '/residents' },
      { method: 'GET', path: 'residents' },
      { method: 'GET', path: '/residents/../admin' },
      { method: 'GET', path: '/residents/%2e%2e/admin' },
      { method: 'GET', path: '//evil.example/x' },
      { method: 'GET', path: '/residents?x=1' },
      { method: 'GET', path: '/residents', headers: { 'X-Bad': 'a\r\nInjected: 1' } },
      { method: 'GET', path: '/residents', query: { nested: { a: 1 } } },
    ]) {
      const r = await hub.gql(RouteRequestDocument, { apiId: api.id, request });
      expect(code(r), JSON.stringify(request)).toBe('BAD_USER_INPUT');
    }
    expect(code(await hub.gql(RouteRequestDocument, { apiId: 'c0ffee00-0000-4000-8000-000000000000', request: { method: 'GET', path: '/x' } }))).toBe('NOT_FOUND');

    await hub.ok(SetApiStatusDocument, { apiId: api.id, status: 'DEPRECATED' });
    const dep = await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/health', headers: { 'X-API-Key': 'care-plans-key' } } });
    expect(dep.routeRequest).toMatchObject({ status: 200, deprecated: true });
    await hub.ok(SetApiStatusDocument, { apiId: api.id, status: 'RETIRED' });
    const retired = await hub.gql(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/health' } });
    expect(code(retired)).toBe('FORBIDDEN');
  });

  it('limits each client separately, and applyRateLimit takes from the same allowance', async () => {
    const { registerAPI: api } = await hub.ok(RegisterApiDocument, { input: careplans({ rateLimit: { requests: 3, perSeconds: 60 } }) });
    const request = { method: 'GET', path: '/health', headers: { 'X-API-Key': 'care-plans-key' } };
    const remaining: Array<number | null | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const r = await as('home-app', RouteRequestDocument, { apiId: api.id, request });
      expect(r.errors).toBeUndefined();
      remaining.push(r.data!.routeRequest.rateLimit.remaining);
      expect(r.data!.routeRequest.rateLimit.clientId).toBe('home-app');
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = await as('home-app', RouteRequestDocument, { apiId: api.id, request });
    expect(code(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.errors![0]!.extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another app has its own allowance.
    expect((await as('finance-app', RouteRequestDocument, { apiId: api.id, request })).data?.routeRequest.status).toBe(200);

    // applyRateLimit: by path under the base path (or by API id), for any client id.
    const first = await hub.ok(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: `${api.basePath}/residents?x=1` });
    expect(first.applyRateLimit).toMatchObject({ apiId: api.id, allowed: true, limit: 3, remaining: 2 });
    await hub.ok(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: api.id });
    await hub.ok(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: api.id });
    const out = await hub.ok(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: api.id });
    expect(out.applyRateLimit).toMatchObject({ allowed: false, remaining: 0 });
    expect(out.applyRateLimit.retryAfterSeconds).toBeGreaterThan(0);
    const payrollRoutes = await as('payroll', RouteRequestDocument, { apiId: api.id, request });
    expect(code(payrollRoutes)).toBe('RATE_LIMITED');
    expect(code(await hub.gql(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: '/no-such-api/x' }))).toBe('NOT_FOUND');
    expect(code(await hub.gql(ApplyRateLimitDocument, { clientId: 'payroll', endpoint: 'care-plans' }))).toBe('BAD_USER_INPUT');

    // Lifting the limit lets the refused client through.
    const { configureRateLimit } = await hub.ok(ConfigureRateLimitDocument, { apiId: api.id, limit: null });
    expect(configureRateLimit.rateLimit).toBeNull();
    expect((await as('home-app', RouteRequestDocument, { apiId: api.id, request })).data?.routeRequest.status).toBe(200);
    expect(code(await hub.gql(ConfigureRateLimitDocument, { apiId: api.id, limit: { requests: 5, perSeconds: 0 } }))).toBe('BAD_USER_INPUT');
  });

  it('counts every call in apiMetrics: outcomes, errors, rate-limited calls and latency', async () => {
    const { registerAPI: api } = await hub.ok(RegisterApiDocument, { input: careplans({ rateLimit: { requests: 8, perSeconds: 60 } }) });
    const headers = { 'X-API-Key': 'care-plans-key' };
    const started = new Date(Date.now() - 1_000);
    for (let i = 0; i < 5; i++) await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/health', headers } });
    await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/nowhere', headers } });
    // A POST is not repeated, so one injected fault is one outcome: a 500, then a dropped connection.
    sim.setFaults({ status: 500, count: 1, paths: ['/residents'] });
    expect((await hub.ok(RouteRequestDocument, { apiId: api.id, request: { method: 'POST', path: '/residents', headers, body: { a: 1 } } })).routeRequest.status).toBe(500);
    sim.setFaults({ drop: true, count: 1, paths: ['/residents'] });
    expect(code(await hub.gql(RouteRequestDocument, { apiId: api.id, request: { method: 'POST', path: '/residents', headers } }))).toBe('UPSTREAM_UNAVAILABLE');
    sim.setFaults({});
    for (let i = 0; i < 2; i++) expect(code(await hub.gql(RouteRequestDocument, { apiId: api.id, request: { method: 'GET', path: '/health', headers } }))).toBe('RATE_LIMITED');

    const { apiMetrics: m } = await hub.ok(ApiMetricsDocument, { apiId: api.id, timeRange: { from: started.toISOString() } });
    expect(m.api.id).toBe(api.id);
    expect(m).toMatchObject({ requests: 10, errors: 2, rateLimited: 2 });
    expect(m.errorRate).toBeCloseTo(2 / 8);
    expect(m.byOutcome).toEqual([
      { outcome: '2xx', count: 5 },
      { outcome: '4xx', count: 1 },
      { outcome: '5xx', count: 1 },
      { outcome: 'ERROR', count: 1 },
      { outcome: 'RATE_LIMITED', count: 2 },
    ]);
    expect(m.p50LatencyMs).toBeGreaterThan(0);
    expect(m.p99LatencyMs!).toBeGreaterThanOrEqual(m.p50LatencyMs!);
    expect(m.maxLatencyMs!).toBeGreaterThanOrEqual(m.averageLatencyMs!);
    expect(m.series.reduce((n, p) => n + p.requests, 0)).toBe(10);

    // A range before the calls holds none of them; a reversed one is refused.
    const { apiMetrics: before } = await hub.ok(ApiMetricsDocument, { apiId: api.id, timeRange: { from: '2020-01-01T00:00:00Z', to: '2020-01-01T01:00:00Z' } });
    expect(before).toMatchObject({ requests: 0, p50LatencyMs: null, series: [] });
    expect(code(await hub.gql(ApiMetricsDocument, { apiId: api.id, timeRange: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } }))).toBe('BAD_USER_INPUT');
    expect(code(await hub.gql(ApiMetricsDocument, { apiId: 'c0ffee00-0000-4000-8000-000000000000' }))).toBe('NOT_FOUND');

    const text = await (await fetch(`${hub.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`hub_api_route_duration_seconds_count\\{api="${api.name}",outcome="2xx"\\} 5`));
  });
});

describe('REST: /api/integration/apis', () => {
  it('registers, lists, routes, limits and reports, with JSON errors for bad requests', async () => {
    const input = careplans();
    const created = await hub.rest('POST', '/api/integration/apis', input);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const list = await hub.rest('GET', '/api/integration/apis');
    expect(list.status).toBe(200);
    expect(list.body.map((a: { id: string }) => a.id)).toContain(id);

    const routed = await hub.rest('POST', `/api/integration/apis/${id}/route`, { method: 'GET', path: '/residents', query: { limit: 2 }, headers: { 'X-API-Key': 'care-plans-key' } });
    expect(routed.status).toBe(200);
    expect(routed.body.status).toBe(200);
    expect(routed.body.body.data).toHaveLength(2);

    const limited = await hub.rest('POST', `/api/integration/apis/${id}/ratelimit`, { requests: 100, perSeconds: 60 });
    expect(limited.status).toBe(200);
    expect(limited.body.rateLimit).toEqual({ requests: 100, perSeconds: 60 });
    const lifted = await hub.rest('POST', `/api/integration/apis/${id}/ratelimit`, { limit: null });
    expect(lifted.body.rateLimit).toBeNull();

    const metrics = await hub.rest('GET', `/api/integration/apis/${id}/metrics?from=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
    expect(metrics.status).toBe(200);
    expect(metrics.body.requests).toBe(1);

    expect((await hub.rest('GET', `/api/integration/apis/c0ffee00-0000-4000-8000-000000000000/metrics`)).status).toBe(404);
    expect((await hub.rest('GET', `/api/integration/apis/${id}/metrics?from=yesterday`)).status).toBe(400);
    const bad = await hub.rest('POST', '/api/integration/apis', { ...careplans(), basePath: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_USER_INPUT');
    expect((await hub.rest('POST', `/api/integration/apis/${id}/route`, { method: 'GET', path: '/../x' })).status).toBe(400);
  });
});
