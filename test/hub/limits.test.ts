import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, SUBGRAPH_NAMES } from '@hub/runtime';
import { SystemsDocument } from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, TEST_INTERNAL_KEYS, type GraphQLResult, type TestHub } from '../support/hub.ts';

/** Limits before execution, trusted documents, introspection, batching and the time budget (docs/security.md). */

const reader = testClient('care-reader', 'default', 'read');
const writer = testClient('care-writer', 'default', 'read+write');
const reporting = testClient('reporting', 'default', 'read');

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(reader, writer, reporting),
    GRAPHQL_LIMITS_BY_CLIENT: JSON.stringify({ reporting: { maxCost: 5_000_000, maxAliases: 100 } }),
    GRAPHQL_INTROSPECTION: 'false',
    GRAPHQL_BATCH_LIMIT: '3',
  });
});
afterAll(async () => {
  await hub?.close();
});

async function post(body: unknown, headers: Record<string, string> = reader.headers) {
  const res = await hub.raw(typeof body === 'string' ? body : JSON.stringify(body), { accept: 'application/graphql-response+json', ...headers });
  return { status: res.status, body: (await res.json()) as GraphQLResult<any> & Array<GraphQLResult<any>> };
}

/** The issue's alias bomb: 3,000 aliased eventHistory(first: 1000) { events { payload } }, about 167 KB. */
const aliasBomb = `{ ${Array.from({ length: 3000 }, (_, i) => `a${i}: eventHistory(first: 1000) { events { payload } }`).join(' ')} }`;
const aliased = (n: number, field = 'externalSystems { id }') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

describe('limits on GraphQL, before anything executes', () => {
  it('refuses the alias bomb from a read-only client with QUERY_TOO_COMPLEX and 400, and the hub answers on', async () => {
    expect(aliasBomb.length).toBeGreaterThan(160_000);
    const r = await post({ query: aliasBomb });
    expect(r.status).toBe(400);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxTokens', max: 3000 });
    expect(r.body.errors?.[0]?.extensions?.http).toBeUndefined();
    // 400 whatever the client accepts (yoga would answer a parse failure 200 to `Accept: application/json`).
    for (const accept of ['application/json', '*/*']) expect((await hub.raw(JSON.stringify({ query: aliasBomb }), { ...reader.headers, accept })).status).toBe(400);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await hub.gqlAs(reader, SystemsDocument, {})).errors).toBeUndefined();
  });

  it('names each limit it enforces: aliases, depth, directives, tokens', async () => {
    const aliases = await post({ query: aliased(31) });
    expect(aliases.status).toBe(400);
    expect(aliases.body.errors?.[0]).toMatchObject({ message: 'Aliases limit of 30 exceeded, found 31.', extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'maxAliases', max: 30 } });
    expect((await post({ query: aliased(30) })).body.errors).toBeUndefined();

    // ExternalSystem.integrations -> Integration.externalSystem -> ... deeper than 15.
    let deep = 'id';
    for (let i = 0; i < 8; i++) deep = `integrations { externalSystem { ${deep} } }`;
    const depth = await post({ query: `{ externalSystems { ${deep} } }` });
    expect(depth.status).toBe(400);
    expect(depth.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', max: 15 });

    const directives = await post({ query: `{ externalSystems { id ${Array.from({ length: 51 }, () => '@include(if: true)').join(' ')} } }` });
    expect(directives.status).toBe(400);
    expect(directives.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDirectives', max: 50 });

    const tokens = await post({ query: `{ externalSystems { ${'id '.repeat(3000)} } }` });
    expect(tokens.status).toBe(400);
    expect(tokens.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxTokens' });
  });

  it('costs list fields by their first argument, from variables too, and upstream calls on top', async () => {
    const query = 'query($n: Int) { eventHistory(first: $n) { events { id payload } } }';
    const small = await post({ query, variables: { n: 10 } });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
    const big = await post({ query, variables: { n: 100_000 } });
    expect(big.status).toBe(400);
    expect(big.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost', max: 50_000 });
    expect(big.body.errors?.[0]?.extensions?.found).toBeGreaterThan(50_000);
    // Lists without a size argument count GRAPHQL_COST_LIST_SIZE items each: nested lists multiply.
    const nested = await post({ query: '{ externalSystems { integrations { logs(first: 1000) { message } syncRuns(first: 1000) { id } } } }' });
    expect(nested.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost' });
  });

  it('refuses before executing: an over-limit mutation changes nothing', async () => {
    const name = `never-${Math.random().toString(36).slice(2)}`;
    const input = `{ name: "${name}", type: GENERIC_REST, endpoint: "http://127.0.0.1:9", authentication: { kind: NONE } }`;
    const r = await post({ query: `mutation ${aliased(31, `registerExternalSystem(input: ${input}) { id }`)}` }, writer.headers);
    expect(r.body.errors?.[0]?.extensions?.limit).toBe('maxAliases');
    const after = await hub.gqlAs(reader, SystemsDocument, {});
    expect(after.data?.externalSystems.map((s) => s.name)).not.toContain(name);
  });

  it('lets a client with its own limits (GRAPHQL_LIMITS_BY_CLIENT) do more, and only that client', async () => {
    // 25 pages of 1,000 events: over the default cost, within the reporting client's.
    const pages = aliased(25, 'eventHistory(first: 1000) { events { id payload } }');
    expect((await post({ query: pages }, reader.headers)).body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost' });
    expect((await post({ query: pages }, reporting.headers)).body.errors).toBeUndefined();
    expect((await post({ query: aliased(60) }, reporting.headers)).body.errors).toBeUndefined();
    expect((await post({ query: aliased(60) }, reader.headers)).body.errors?.[0]?.extensions?.limit).toBe('maxAliases');
    // Its other limits stay the defaults.
    expect((await post({ query: aliased(101) }, reporting.headers)).body.errors?.[0]?.extensions).toMatchObject({ limit: 'maxAliases', max: 100 });
  });

  it('refuses the same limits over graphql-ws', async () => {
    const client = createClient({ url: `${hub.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${reader.key}` } });
    const errors = await new Promise<unknown[]>((resolve) => {
      client.subscribe({ query: aliased(31) }, { next: () => {}, error: (e) => resolve(e as unknown[]), complete: () => resolve([]) });
    });
    expect((errors as Array<{ extensions?: { code?: string; limit?: string } }>)[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxAliases' });
    await client.dispose();
  });

  it('keeps introspection and field suggestions off when configured (the production default)', async () => {
    const intro = await post({ query: '{ __schema { types { name } } }' });
    expect(intro.status).toBe(400);
    expect(JSON.stringify(intro.body.errors)).toMatch(/introspection/i);
    const typo = await post({ query: '{ externalSystem { id } }' });
    expect(typo.body.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(typo.body.errors)).not.toMatch(/Did you mean/);
    // __typename is not introspection.
    expect((await post({ query: '{ __typename }' })).body.errors).toBeUndefined();

    const prod = { NODE_ENV: 'production', NHS_ENVIRONMENT: 'simulated', HMRC_ENVIRONMENT: 'simulated', AUTH_REQUIRED: 'false', CONNECTORS_DISABLED: 'payroll,cqc,dbs' } as NodeJS.ProcessEnv;
    expect(loadConfig({ ...prod, ROLE: 'gateway', INTERNAL_SIGNING_KEYS: TEST_INTERNAL_KEYS }).graphql.introspection).toBe(false);
    expect(loadConfig({ ...prod, ROLE: 'gateway', INTERNAL_SIGNING_KEYS: TEST_INTERNAL_KEYS, GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
    expect(loadConfig({} as NodeJS.ProcessEnv).graphql.introspection).toBe(true);
  });

  it('bounds batched requests (GRAPHQL_BATCH_LIMIT)', async () => {
    const three = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }, { query: '{ externalSystems { id } }' }]);
    expect(three.status).toBe(200);
    expect(three.body).toHaveLength(3);
    const four = await post(Array.from({ length: 4 }, () => ({ query: '{ __typename }' })));
    expect(four.status).toBeGreaterThanOrEqual(400);
    expect(four.status).toBeLessThan(500);
    expect(JSON.stringify(four.body)).toMatch(/Batching is limited to 3 operations/);
  });

  it('names what is wrong in the limits configuration', () => {
    expect(() => loadConfig({ GRAPHQL_LIMITS_BY_CLIENT: '{nope' } as NodeJS.ProcessEnv)).toThrow(/GRAPHQL_LIMITS_BY_CLIENT: not JSON/);
    expect(() => loadConfig({ GRAPHQL_LIMITS_BY_CLIENT: '{"a":{"maxDeep":3}}' } as NodeJS.ProcessEnv)).toThrow(/GRAPHQL_LIMITS_BY_CLIENT: .*maxDeep|Unrecognized key/);
    expect(() => loadConfig({ GRAPHQL_PERSISTED_ONLY: 'true' } as NodeJS.ProcessEnv)).toThrow(/GRAPHQL_PERSISTED_OPERATIONS_FILE too/);
  });
});

describe('trusted documents (persisted operations)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-trusted-'));
  const file = join(dir, 'operations.json');
  const systems = print(SystemsDocument);
  const id = createHash('sha256').update(systems).digest('hex');
  let trusted: TestHub;
  beforeAll(async () => {
    writeFileSync(file, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id, name: 'Systems', type: 'query', body: systems }] }));
    trusted = await startTestHub({ GRAPHQL_PERSISTED_OPERATIONS_FILE: file, GRAPHQL_PERSISTED_ONLY: 'true' });
  });
  afterAll(async () => {
    await trusted?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs only the documents in the file when they are required; the REST facade still works', async () => {
    const arbitrary = await trusted.raw(JSON.stringify({ query: '{ externalSystems { id } }' }));
    expect(arbitrary.status).toBe(400);
    expect(((await arbitrary.json()) as GraphQLResult<unknown>).errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_REQUIRED');

    const byId = await trusted.raw(JSON.stringify({ documentId: id, variables: {} }));
    expect(byId.status).toBe(200);
    expect(((await byId.json()) as GraphQLResult<{ externalSystems: unknown[] }>).data?.externalSystems).toBeInstanceOf(Array);
    const apq = await trusted.raw(JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } } }));
    expect(((await apq.json()) as GraphQLResult<{ externalSystems: unknown[] }>).data?.externalSystems).toBeInstanceOf(Array);

    const unknown = await trusted.raw(JSON.stringify({ documentId: 'f'.repeat(64) }));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as GraphQLResult<unknown>).errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    // The REST facade's operations are the hub's own, and run.
    const rest = await trusted.rest('GET', '/api/integration/systems');
    expect(rest.status).toBe(200);
    // A caller cannot claim to be the hub's own.
    const claimed = await trusted.raw(JSON.stringify({ query: '{ externalSystems { id } }' }), { 'x-hub-trusted-document': 'guess' });
    expect(claimed.status).toBe(400);
  });

  it('over graphql-ws too', async () => {
    const client = createClient({ url: `${trusted.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const run = (payload: Record<string, unknown>) =>
      new Promise<{ data?: unknown; errors?: Array<{ extensions?: { code?: string } }> }>((resolve) => {
        let result: { data?: unknown } = {};
        client.subscribe(payload as never, { next: (r) => (result = r as never), error: (e) => resolve({ errors: e as never }), complete: () => resolve(result) });
      });
    expect((await run({ query: '{ externalSystems { id } }' })).errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_REQUIRED');
    expect((await run({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: id } } })).data).toHaveProperty('externalSystems');
    await client.dispose();
  });
});

describe('a time budget per request (REQUEST_TIMEOUT_MS)', () => {
  // A gateway process whose subgraphs are elsewhere: each answers its SDL, and then never answers a query.
  const aborted: string[] = [];
  let subgraphs: Server;
  let gateway: TestHub;
  beforeAll(async () => {
    subgraphs = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const name = (req.url ?? '').split('/')[1]!;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string };
        if (body.query.includes('_service')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: { _service: { sdl: readFileSync(new URL(`../../schema/${name}.graphql`, import.meta.url), 'utf8') } } }));
          return;
        }
        // Hangs; the gateway's abort closes the connection.
        res.on('close', () => {
          if (!res.writableEnded) aborted.push(name);
        });
      });
    });
    await new Promise<void>((r) => subgraphs.listen(0, '127.0.0.1', () => r()));
    const port = (subgraphs.address() as AddressInfo).port;
    gateway = await startTestHub({
      ROLE: 'gateway',
      REQUEST_TIMEOUT_MS: '400',
      ...Object.fromEntries(SUBGRAPH_NAMES.map((n) => [`SUBGRAPH_${n.toUpperCase()}_URL`, `http://127.0.0.1:${port}/${n}/graphql`])),
    });
  });
  afterAll(async () => {
    await gateway?.close();
    subgraphs?.closeAllConnections();
    await new Promise((r) => subgraphs?.close(r));
  });

  it('answers TIMEOUT (504) once the budget is spent, and aborts the subgraph fetch it was waiting for', async () => {
    const res = await gateway.raw(JSON.stringify({ query: '{ externalSystems { id } }' }), { accept: 'application/graphql-response+json' });
    expect(res.status).toBe(504);
    const body = (await res.json()) as GraphQLResult<unknown>;
    expect(body.errors?.[0]).toMatchObject({ message: 'the request took longer than its 400 ms budget', extensions: { code: 'TIMEOUT', budgetMs: 400 } });
    await eventually(async () => aborted.includes('systems'), 5_000, 50);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it('answers the REST facade with the same error', async () => {
    const r = await gateway.rest('GET', '/api/integration/systems');
    expect(r.status).toBe(504);
    expect(r.body.error?.code ?? r.body.errors?.[0]?.extensions?.code).toBe('TIMEOUT');
  });
});
