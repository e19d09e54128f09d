import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, SignJWT, type CryptoKey } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, SCOPES } from '@hub/runtime';
import { EventsDocument, PublishEventDocument } from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

/** The gateway's doors (docs/security.md): CORS, CSRF, Host, WebSocket limits, rate limits, anonymous callers, JWTs. */

const CARE_APP = 'https://care.example';
const writer = testClient('door-writer', 'default', 'read+write');
const socketer = testClient('door-sockets', 'default', 'read');
const subscriber = testClient('door-subscriber', 'default', 'read');
const streamer = testClient('door-streamer', 'default', 'read');
const ISSUER = 'https://idp.doors.test';
const AUDIENCE = 'care-home-hub';

let hub: TestHub;
let jwks: Server;
let signing: CryptoKey;
let signingPem: string;
let port: number;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signing = pair.privateKey;
  signingPem = await exportPKCS8(pair.privateKey);
  // Published without `alg`: nothing in the key itself stops a PS256 token; only the hub's pinned list does.
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(writer, socketer, subscriber, streamer),
    AUTH_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    // Callers without credentials come in, and may read (the flag says so explicitly).
    AUTH_REQUIRED: 'false',
    AUTH_ANONYMOUS_SCOPES: 'read',
    CORS_ORIGINS: CARE_APP,
    ALLOWED_HOSTS: 'hub.care.example',
    WS_MAX_CONNECTIONS_PER_CLIENT: '2',
    WS_MAX_SUBSCRIPTIONS_PER_CLIENT: '2',
    SSE_MAX_STREAMS_PER_CLIENT: '1',
    WS_CONNECTION_INIT_TIMEOUT_MS: '500',
  });
  port = Number(new URL(hub.url).port);
});
afterAll(async () => {
  await hub?.close();
  await new Promise((r) => jwks?.close(r));
});

/** node:http, so the Host and Origin headers are exactly what the test says. */
function call(path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
const json = { 'content-type': 'application/json' };
const typename = JSON.stringify({ query: '{ __typename }' });

/** A raw graphql-ws socket: how it ends (close code), or the HTTP status of a refused upgrade. */
function socket(o: { headers?: Record<string, string>; origin?: string } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { headers: o.headers, origin: o.origin });
  const opened = new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const messages: Array<{ type: string; payload?: unknown }> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (m) => {
    messages.push(JSON.parse(m.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  const next = (type: string) =>
    new Promise<{ type: string; payload?: unknown }>((resolve, reject) => {
      const check = () => {
        const found = messages.find((m) => m.type === type);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
      void closed.then((c) => reject(new Error(`closed ${c.code} ${c.reason} before ${type}`)));
    });
  return { ws, opened, closed, next, init: (payload?: Record<string, unknown>) => ws.send(JSON.stringify({ type: 'connection_init', payload })) };
}

describe('CORS: an allow-list, never a reflected origin', () => {
  it('answers a preflight from a listed origin with that origin and no credentials, and refuses any other', async () => {
    const ok = await call('/graphql', { method: 'OPTIONS', headers: { origin: CARE_APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(CARE_APP);
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(ok.headers['access-control-allow-headers'])).toMatch(/authorization/);

    const evil = await call('/graphql', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets a listed origin and the same origin call, and refuses a request a foreign page makes', async () => {
    const listed = await call('/graphql', { method: 'POST', headers: { ...json, origin: CARE_APP }, body: typename });
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe(CARE_APP);
    const same = await call('/graphql', { method: 'POST', headers: { ...json, origin: `http://127.0.0.1:${port}` }, body: typename });
    expect(same.status).toBe(200);
    expect(same.headers['access-control-allow-origin']).toBeUndefined();

    const name = `cors-${Math.random().toString(36).slice(2)}`;
    const foreign = await call('/api/integration/systems', { method: 'POST', headers: { ...json, origin: 'https://evil.example', ...writer.headers }, body: JSON.stringify({ name, type: 'GENERIC_REST', endpoint: 'http://127.0.0.1:9', authentication: { kind: 'NONE' } }) });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('FORBIDDEN');
    const systems = await call('/api/integration/systems');
    expect(JSON.stringify(systems.body)).not.toContain(name);
  });
});

describe('CSRF prevention (yoga plugin)', () => {
  it('refuses a GET or a form/text POST without a non-simple header; JSON, GraphiQL and REST still work', async () => {
    const get = await call(`/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(403);
    expect(get.body.errors[0].extensions.code).toBe('CSRF_PREVENTED');
    expect((await call(`/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'x-graphql-yoga-csrf': '1' } })).status).toBe(200);
    expect((await call(`/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: writer.headers })).status).toBe(200);

    const text = await call('/graphql', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: typename });
    expect(text.status).toBe(403);
    expect(text.body.errors[0].extensions.code).toBe('CSRF_PREVENTED');
    expect((await call('/graphql', { method: 'POST', headers: json, body: typename })).body).toEqual({ data: { __typename: 'Query' } });

    const page = await call('/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(String(page.body)).toMatch(/<html/i);
    expect((await call('/api/integration/systems')).status).toBe(200);
  });
});

describe('the Host allow-list', () => {
  it('answers the configured names and loopback, refuses others; probes are answered by any name', async () => {
    const other = await call('/graphql', { method: 'POST', headers: { ...json, host: 'rebound.evil.example' }, body: typename });
    expect(other.status).toBe(421);
    expect(other.body.error.code).toBe('HOST_NOT_ALLOWED');
    expect((await call('/graphql', { method: 'POST', headers: { ...json, host: 'hub.care.example' }, body: typename })).status).toBe(200);
    expect((await call('/graphql', { method: 'POST', headers: { ...json, host: `localhost:${port}` }, body: typename })).status).toBe(200);
    expect((await call('/healthz', { headers: { host: '10.0.0.7:4000' } })).status).toBe(200);

    expect(await socket({ headers: { host: 'rebound.evil.example' } }).opened).toBe(421);
  });
});

describe('the WebSocket door', () => {
  it('checks the Origin of the upgrade against the same allow-list', async () => {
    expect(await socket({ origin: 'https://evil.example' }).opened).toBe(403);
    const listed = socket({ origin: CARE_APP });
    expect(await listed.opened).toBe(101);
    listed.ws.close();
  });

  it('closes a socket that sends more than 1 MiB, even before connection_init', async () => {
    const s = socket();
    expect(await s.opened).toBe(101);
    s.ws.send('x'.repeat(1024 * 1024 + 1));
    expect((await s.closed).code).toBe(1009);
    const fresh = socket();
    await fresh.opened;
    fresh.init();
    expect((await fresh.next('connection_ack')).type).toBe('connection_ack');
    fresh.ws.close();
  });

  it('closes a socket that never sends connection_init', async () => {
    const s = socket();
    await s.opened;
    expect((await s.closed).code).toBe(4408);
  });

  it('limits the sockets one client holds open (WS_MAX_CONNECTIONS_PER_CLIENT)', async () => {
    const auth = { authorization: `Bearer ${socketer.key}` };
    const open = [socket(), socket()];
    for (const s of open) {
      await s.opened;
      s.init(auth);
      await s.next('connection_ack');
    }
    const third = socket();
    await third.opened;
    third.init(auth);
    expect(await third.closed).toMatchObject({ code: 4429, reason: expect.stringMatching(/WS_MAX_CONNECTIONS_PER_CLIENT/) });
    // Another client is not affected; and once one closes, there is room again.
    const other = socket();
    await other.opened;
    other.init({ authorization: `Bearer ${writer.key}` });
    await other.next('connection_ack');
    open[0]!.ws.close();
    await open[0]!.closed;
    const again = socket();
    await again.opened;
    again.init(auth);
    expect((await again.next('connection_ack')).type).toBe('connection_ack');
    for (const s of [open[1]!, other, again]) s.ws.close();
  });

  it('limits the subscriptions one client holds (WS_MAX_SUBSCRIPTIONS_PER_CLIENT), and frees a slot when one ends', async () => {
    const type = `doors.${Math.random().toString(36).slice(2)}`;
    const client: Client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${subscriber.key}` } });
    // From sequence 0: each one replays the event whenever it reaches the stream, so no waiting before publishing.
    const subs = [0, 1, 2].map(() => collect(client, EventsDocument, { filter: { types: [type] }, fromSequence: '0' }));
    await new Promise<void>((resolve) => {
      const check = () => (subs.some((s) => s.errors.length) ? resolve() : setTimeout(check, 20));
      check();
    });
    const refused = subs.filter((s) => s.errors.length);
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused[0]!.errors)).toMatch(/TOO_MANY_SUBSCRIPTIONS/);
    const live = subs.filter((s) => !s.errors.length);
    const published = await hub.gqlAs(writer, PublishEventDocument, { input: { type, source: 'tests', payload: { n: 1 } } });
    expect(published.errors).toBeUndefined();
    expect((await live[0]!.waitFor(1))[0]!.events.type).toBe(type);
    live[0]!.stop();
    // Once the stopped one has ended on the server, there is room for another (it replays the event from 0).
    const replacement = await eventually(async () => {
      const c = collect(client, EventsDocument, { filter: { types: [type] }, fromSequence: '0' });
      try {
        await c.waitFor(1, 5_000);
        return c;
      } catch {
        c.stop();
        return undefined;
      }
    }, 10_000, 50);
    expect(replacement.received[0]!.events.type).toBe(type);
    expect((await live[1]!.waitFor(1))[0]!.events.type).toBe(type);
    await client.dispose();
  });

  it('closes a socket with 4401 when the token it was opened with expires', async () => {
    const token = await new SignJWT({ org: 'default', client_id: 'short-lived', scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(signing);
    const s = socket();
    await s.opened;
    s.init({ authorization: `Bearer ${token}` });
    await s.next('connection_ack');
    expect(await s.closed).toMatchObject({ code: 4401, reason: 'token expired' });
  });
});

describe('event streams (SSE) per client', () => {
  it('limits the streams one client holds open (SSE_MAX_STREAMS_PER_CLIENT)', async () => {
    const first = new AbortController();
    const open = await fetch(`${hub.url}/api/integration/events/stream`, { headers: streamer.headers, signal: first.signal });
    expect(open.status).toBe(200);
    const second = await fetch(`${hub.url}/api/integration/events/stream`, { headers: streamer.headers });
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    first.abort();
    await open.body?.cancel().catch(() => {});
    // Freed once the first one is gone.
    const again = await eventually(async () => {
      const r = await fetch(`${hub.url}/api/integration/events/stream`, { headers: streamer.headers });
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    }, 5_000, 50);
    await again.body?.cancel();
  });
});

describe('JWTs: pinned algorithms, exp required', () => {
  const sign = async (alg: string, exp: boolean) => {
    const jwt = new SignJWT({ org: 'default', client_id: 'jwt-app', scope: 'read' }).setProtectedHeader({ alg, kid: 'idp-1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt();
    // The same RSA key, used for another algorithm.
    const key = alg === 'RS256' ? signing : await importPKCS8(signingPem, alg);
    return (exp ? jwt.setExpirationTime('5m') : jwt).sign(key);
  };
  it('accepts RS256 with exp; refuses another algorithm with the same key, and a token that never expires', async () => {
    const post = async (token: string) => call('/graphql', { method: 'POST', headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ externalSystems { id } }' }) });
    expect((await post(await sign('RS256', true))).status).toBe(200);
    const ps = await post(await sign('PS256', true));
    expect(ps.status).toBe(401);
    expect(ps.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forever = await post(await sign('RS256', false));
    expect(forever.status).toBe(401);
    expect(forever.body.errors[0].message).toMatch(/no expiry/);
    expect(() => loadConfig({ AUTH_JWT_ALGORITHMS: 'HS256' } as NodeJS.ProcessEnv)).toThrow(/AUTH_JWT_ALGORITHMS: unknown or not allowed: HS256/);
  });
});

describe('anonymous callers', () => {
  it('get only what AUTH_ANONYMOUS_SCOPES gives them', async () => {
    const read = await call('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: '{ externalSystems { id } }' }) });
    expect(read.body.errors).toBeUndefined();
    const write = await call('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: 'mutation { publishEvent(input: { type: "anon.try", source: "tests", payload: {} }) { duplicate } }' }) });
    expect(write.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('get no scopes unless configured; a development hub with nothing configured keeps giving every scope', () => {
    const key = `app:read:${'a'.repeat(64)}`;
    expect(loadConfig({} as NodeJS.ProcessEnv).auth.anonymousScopes).toEqual([...SCOPES]);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_REQUIRED: 'false', NHS_ENVIRONMENT: 'simulated', HMRC_ENVIRONMENT: 'simulated', CONNECTORS_DISABLED: 'banking,payroll,cqc,dbs' } as NodeJS.ProcessEnv).auth.anonymousScopes).toEqual([]);
    expect(loadConfig({ AUTH_API_KEYS: key, AUTH_REQUIRED: 'false' } as NodeJS.ProcessEnv).auth.anonymousScopes).toEqual([]);
    expect(loadConfig({ AUTH_API_KEYS: key, AUTH_REQUIRED: 'false', AUTH_ANONYMOUS_SCOPES: 'read+write' } as NodeJS.ProcessEnv).auth.anonymousScopes).toEqual(['read', 'write']);
    expect(loadConfig({ AUTH_ANONYMOUS_SCOPES: 'none' } as NodeJS.ProcessEnv).auth.anonymousScopes).toEqual([]);
    expect(() => loadConfig({ AUTH_API_KEYS: key, AUTH_ANONYMOUS_SCOPES: 'read' } as NodeJS.ProcessEnv)).toThrow(/AUTH_ANONYMOUS_SCOPES: authentication is required/);
    expect(() => loadConfig({ AUTH_ANONYMOUS_SCOPES: 'admin' } as NodeJS.ProcessEnv)).toThrow(/AUTH_ANONYMOUS_SCOPES: scopes other than/);
  });
});

describe('rate limits cover WebSockets and event streams (RATE_LIMIT_PER_MINUTE)', () => {
  const ws = testClient('rl-ws', 'default', 'read');
  const sse = testClient('rl-sse', 'default', 'read');
  const http = testClient('rl-http', 'default', 'read');
  let limited: TestHub;
  beforeAll(async () => {
    limited = await startTestHub({ AUTH_API_KEYS: apiKeys(ws, sse, http), AUTH_REQUIRED: 'false', RATE_LIMIT_PER_MINUTE: '4' });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('an anonymous caller of a hub with keys has no scopes when no flag gives it any', async () => {
    const r = await limited.raw(JSON.stringify({ query: '{ externalSystems { id } }' }));
    expect(((await r.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('FORBIDDEN');
  });

  it('counts a socket and each operation on it against the client allowance', async () => {
    // One socket for every operation (a lazy client would reconnect, and each connect counts too).
    const client = createClient({ url: `${limited.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, lazyCloseTimeout: 60_000, connectionParams: { authorization: `Bearer ${ws.key}` } });
    const run = () =>
      new Promise<{ data?: unknown; errors?: Array<{ extensions?: { code?: string } }> }>((resolve) => {
        let result = {};
        client.subscribe({ query: '{ __typename }' }, { next: (r) => (result = r), error: (e) => resolve({ errors: e as never }), complete: () => resolve(result) });
      });
    // 1 for the connection, then 3 operations: the 4th is refused.
    for (let i = 0; i < 3; i++) expect((await run()).data, `operation ${i + 1}`).toEqual({ __typename: 'Query' });
    expect((await run()).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    await client.dispose();

    // A client that used its allowance over HTTP cannot open a socket either.
    for (let i = 0; i < 4; i++) await limited.raw(typename, http.headers);
    const refused = new WebSocket(`${limited.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((r) => refused.once('open', r));
    refused.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${http.key}` } }));
    const code = await new Promise<number>((r) => refused.once('close', (c) => r(c)));
    expect(code).toBe(4429);
  });

  it('counts each event stream connect', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${limited.url}/api/integration/events/stream`, { headers: sse.headers });
      expect(r.status, `stream ${i + 1}`).toBe(200);
      await r.body?.cancel();
    }
    const fifth = await fetch(`${limited.url}/api/integration/events/stream`, { headers: sse.headers });
    expect(fifth.status).toBe(429);
    expect(((await fifth.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
  });
});

