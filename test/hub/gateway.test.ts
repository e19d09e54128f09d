import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@hub/runtime';
import { composeSupergraph, startHub, type Hub } from '@hub/gateway';
import { typeDefs as systemsTypeDefs } from '@hub/subgraph-systems';
import { RegisterSystemDocument, SystemsDocument, MappingsDocument, ApisDocument, EventHistoryDocument } from '../generated/graphql.ts';
import { backend, startTestHub, type TestHub, TEST_INTERNAL_KEYS } from '../support/hub.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ MAX_BODY_BYTES: '4096' });
});
afterAll(async () => {
  await hub?.close();
});

describe('the gateway', () => {
  it('is alive and ready, and says what it checked', async () => {
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${hub.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: Array<{ name: string; ok: boolean }> };
    expect(body.checks.map((c) => c.name)).toEqual([
      backend === 'services' ? 'database (postgres)' : 'database (pglite)',
      backend === 'services' ? 'redis (redis)' : 'redis (memory)',
      'subgraphs',
    ]);
    expect(body.checks.every((c) => c.ok)).toBe(true);
  });

  it('serves GraphiQL to a browser', async () => {
    const res = await fetch(`${hub.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/graphiql/i);
  });

  it('serves Prometheus metrics', async () => {
    await hub.gql(SystemsDocument, {});
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    expect(text).toMatch(/hub_http_request_duration_seconds_count\{route="graphql",method="POST",status="200"\} \d+/);
  });

  it('answers the read fields of the other three subgraphs', async () => {
    expect((await hub.ok(MappingsDocument, {})).mappings).toEqual([]);
    expect((await hub.ok(ApisDocument, {})).apis).toEqual([]);
    // A fresh hub's only events are the demo home's: its creation and the simulator's residents admitted to it.
    const history = (await hub.ok(EventHistoryDocument, { first: 100 })).eventHistory;
    expect(history.endCursor).toBeNull();
    expect(history.events.length).toBeGreaterThan(0);
    expect([...new Set(history.events.map((e) => e.type))].sort()).toEqual(['care.home.created', 'care.resident.admitted']);
    const bad = await hub.gql(EventHistoryDocument, { first: 10, after: 'abc' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('rejects malformed requests with clear errors', async () => {
    const malformed = await hub.raw('{"query": ');
    expect(malformed.status).toBe(400);
    const syntax = await hub.raw(JSON.stringify({ query: '{ externalSystems { ' }));
    expect(((await syntax.json()) as any).errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const unknownField = await hub.raw(JSON.stringify({ query: '{ nope }' }));
    const u = (await unknownField.json()) as any;
    expect(u.errors[0].message).toMatch(/nope/);
    expect(u.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses an oversized body, declared or chunked, and stores nothing', async () => {
    const big = JSON.stringify({ query: RegisterSystemDocument.loc?.source.body ?? '', variables: { input: { name: 'big', type: 'BANK', endpoint: 'https://example.org', authentication: { kind: 'NONE' }, configuration: { blob: 'x'.repeat(10_000) } } } });
    const declared = await hub.raw(big);
    expect(declared.status).toBe(413);
    const chunked = await fetch(`${hub.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await hub.ok(SystemsDocument, { filter: { nameContains: 'big' } })).externalSystems).toEqual([]);
  });
});

describe('other shapes of deployment', () => {
  const dirs: string[] = [];
  const hubs: Hub[] = [];
  afterAll(async () => {
    for (const h of hubs.reverse()) await h.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const env = (extra: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-shape-'));
    dirs.push(dir);
    return loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: dir, VAULT_KEYS: `k:${randomBytes(32).toString('base64')}`, JOB_POLL_SECONDS: '0.5', INTERNAL_SIGNING_KEYS: TEST_INTERNAL_KEYS, ...extra } as NodeJS.ProcessEnv);
  };

  it('a gateway started from SUPERGRAPH_FILE serves the subgraphs it names, and a subgraph runs as its own process role', async () => {
    const systems = await startHub(env({ ROLE: 'systems' }), createLogger('silent'));
    hubs.push(systems);
    const file = join(dirs[0]!, 'supergraph.graphql');
    writeFileSync(file, composeSupergraph([{ name: 'systems', url: `${systems.url}/graphql`, typeDefs: systemsTypeDefs }]));
    const gateway = await startHub(env({ ROLE: 'gateway', SUPERGRAPH_FILE: file }), createLogger('silent'));
    hubs.push(gateway);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    const post = (query: string, variables?: unknown) =>
      fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }).then((r) => r.json() as Promise<any>);
    const created = await post('mutation($i: RegisterExternalSystemInput!) { registerExternalSystem(input: $i) { id name } }', {
      i: { name: 'via supergraph file', type: 'NHS', endpoint: 'https://example.org', authentication: { kind: 'NONE' } },
    });
    expect(created.errors).toBeUndefined();
    const listed = await post('{ externalSystems { id name } }');
    expect(listed.data.externalSystems).toEqual([created.data.registerExternalSystem]);
    // Fields of subgraphs the file does not name are simply not in this graph.
    expect((await post('{ integrations { id } }')).errors[0].message).toMatch(/integrations/);
  });

  it('configuration errors name the variable to fix', async () => {
    await expect(startHub(env({ ROLE: 'gateway' }), createLogger('silent'))).rejects.toThrow(/SUBGRAPH_SYSTEMS_URL/);
    expect(() => env({ ROLE: 'conductor' })).toThrow(/ROLE: unknown role "conductor"/);
  });
});
