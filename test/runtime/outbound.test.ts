import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GraphQLError } from 'graphql';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { HubError, badInput, notFound, toGraphQLError } from '../../packages/runtime/src/errors.ts';
import {
  createAuthenticator,
  createHttpClient,
  createOutboundGuard,
  parseRetryAfter,
  type HttpClientOptions,
  type OutboundMetric,
} from '../../packages/runtime/src/outbound/index.ts';

// ---------- helpers: real local servers, no mocks ----------

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;
interface Local {
  url: string;
  port: number;
  hits: () => number;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function listen(server: Server, handler: Handler, scheme = 'http'): Promise<Local> {
  let hits = 0;
  server.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    hits++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await handler(req, res, Buffer.concat(chunks).toString('utf8'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `${scheme}://127.0.0.1:${port}`, port, hits: () => hits };
}

const serve = (handler: Handler) => listen(createServer(), handler);

const send = (res: ServerResponse, status: number, body: unknown = '', headers: Record<string, string> = {}) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  res.end(text);
};

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function client(extra: Partial<HttpClientOptions> = {}, allow = ['127.0.0.1']) {
  const c = createHttpClient({
    guard: createOutboundGuard({ allow }),
    retries: 3,
    backoff: { initialDelayMs: 5, maxDelayMs: 20 },
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<HubError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a rejection');
}

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../simulators/fixtures/tls/${name}`, import.meta.url)), 'utf8');

// ---------- errors ----------

describe('HubError / toGraphQLError', () => {
  it('carries code, details and http status into GraphQL extensions', () => {
    const e = badInput('name is required', { field: 'name', code: 'spoofed' });
    expect(e.httpStatus).toBe(400);
    const g = toGraphQLError(e);
    expect(g.message).toBe('name is required');
    expect(g.extensions).toEqual({ field: 'name', code: 'BAD_USER_INPUT' });
    expect(notFound('System', 'sys_1').httpStatus).toBe(404);
    expect(new HubError('OUTBOUND_REFUSED', 'x').httpStatus).toBe(422);
  });

  it('hides non-HubErrors and unwraps located errors', () => {
    const hidden = toGraphQLError(new Error('SELECT * FROM secrets failed'));
    expect(hidden.message).toBe('Internal error');
    expect(hidden.extensions.code).toBe('INTERNAL');
    const located = new GraphQLError('wrapped', { path: ['system'], originalError: notFound('System', 'sys_1') });
    const out = toGraphQLError(located);
    expect(out.extensions.code).toBe('NOT_FOUND');
    expect(out.path).toEqual(['system']);
    const validation = new GraphQLError('Cannot query field "x"');
    expect(toGraphQLError(validation)).toBe(validation);
  });
});

// ---------- guard ----------

describe('outbound guard', () => {
  const guard = createOutboundGuard({ allow: [] });

  it.each([
    ['ftp://example.com/file', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['gopher://example.com/', 'scheme'],
    ['javascript:alert(1)', 'scheme'],
    ['not a url', 'invalid-url'],
  ])('refuses %s', (url, reason) => {
    const e = (() => {
      try {
        guard.assertUrlAllowed(url);
      } catch (err) {
        return err as HubError;
      }
      throw new Error('not refused');
    })();
    expect(e.code).toBe('OUTBOUND_REFUSED');
    expect(e.details?.reason).toBe(reason);
  });

  it('refuses credentials in the URL without echoing them', () => {
    try {
      guard.assertUrlAllowed('https://admin:hunter2@api.example.com/x');
      expect.unreachable();
    } catch (e) {
      expect((e as HubError).code).toBe('OUTBOUND_REFUSED');
      expect((e as HubError).message).toMatch(/credentials/);
      expect(JSON.stringify({ m: (e as Error).message, d: (e as HubError).details })).not.toContain('hunter2');
    }
  });

  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.8.9.10:8080/', 'loopback'],
    ['http://2130706433/', 'loopback'], // decimal spelling of 127.0.0.1
    ['http://0x7f.1/', 'loopback'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.16.0.1/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['http://100.64.0.1/', 'carrierGradeNat'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://[::1]/', 'loopback'],
    ['http://[::]/', 'unspecified'],
    ['http://[fe80::1]/', 'linkLocal'],
    ['http://[fc00::1]/', 'uniqueLocal'],
    ['http://[fd12:3456::1]/', 'uniqueLocal'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://[::ffff:127.0.0.1]/', 'ipv4Mapped:loopback'],
    ['http://[::ffff:10.0.0.1]/', 'ipv4Mapped:private'],
    ['http://[::ffff:169.254.169.254]/', 'ipv4Mapped:linkLocal'],
    ['http://[64:ff9b::10.0.0.1]/', 'rfc6052'], // NAT64: refused whatever it embeds
    ['http://[2002:7f00:1::1]/', '6to4:loopback'],
  ])('refuses %s (%s) and says how to allow it', (url, range) => {
    try {
      guard.assertUrlAllowed(url);
      expect.unreachable();
    } catch (e) {
      expect((e as HubError).code).toBe('OUTBOUND_REFUSED');
      expect((e as HubError).details?.reason).toBe(range);
      expect((e as HubError).message).toContain('OUTBOUND_ALLOW');
    }
  });

  it('lets public addresses and names through', () => {
    expect(guard.assertUrlAllowed('https://api.service.nhs.uk/oauth2/token').hostname).toBe('api.service.nhs.uk');
    expect(() => guard.assertUrlAllowed('http://93.184.216.34/')).not.toThrow();
    expect(() => guard.assertUrlAllowed('http://172.32.0.1/')).not.toThrow(); // just outside 172.16/12
    expect(() => guard.assertUrlAllowed('https://[2606:4700:4700::1111]/')).not.toThrow();
  });

  it('allow-lists by CIDR, IP, host:port and hostname', () => {
    const g = createOutboundGuard({ allow: ['10.0.0.0/8', '::1', '127.0.0.1:8080', 'bridge.care.local:8443', 'sim.internal'] });
    expect(() => g.assertUrlAllowed('http://10.20.30.40/')).not.toThrow();
    expect(() => g.assertUrlAllowed('http://[::ffff:10.0.0.1]/')).not.toThrow(); // mapped form of an allowed v4
    expect(() => g.assertUrlAllowed('http://[::1]:9999/')).not.toThrow();
    expect(() => g.assertUrlAllowed('http://127.0.0.1:8080/')).not.toThrow();
    expect(() => g.assertUrlAllowed('http://127.0.0.1:8081/')).toThrow(/loopback/);
    expect(() => g.assertUrlAllowed('https://bridge.care.local:8443/api')).not.toThrow();
    expect(() => g.assertUrlAllowed('https://bridge.care.local/api')).toThrow(/only on port 8443/);
    expect(() => g.assertUrlAllowed('http://sim.internal:1234/')).not.toThrow();
    expect(() => g.assertUrlAllowed('http://192.168.0.1/')).toThrow(/private/);
  });

  it('rejects malformed allow-list entries', () => {
    expect(() => createOutboundGuard({ allow: ['10.0.0.0/33'] })).toThrow(/OUTBOUND_ALLOW/);
    expect(() => createOutboundGuard({ allow: ['http://x'] })).toThrow(/OUTBOUND_ALLOW/);
  });

  const resolve = (g: ReturnType<typeof createOutboundGuard>, host: string) =>
    new Promise<LookupAddress[]>((ok, fail) =>
      (g.lookup as unknown as (h: string, o: object, cb: (e: Error | null, a: LookupAddress[]) => void) => void)(
        host,
        { all: true, family: 4 },
        (e, a) => (e ? fail(e) : ok(a)),
      ),
    );

  it('lookup refuses a hostname that resolves to loopback unless allowed', async () => {
    const e = await rejection(resolve(guard, 'localhost'));
    expect(e.code).toBe('OUTBOUND_REFUSED');
    expect(e.message).toMatch(/localhost resolves to a loopback address/);
    expect(e.message).not.toContain('127.0.0.1');
    expect(await resolve(createOutboundGuard({ allow: ['localhost'] }), 'localhost')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await resolve(createOutboundGuard({ allow: ['127.0.0.0/8'] }), 'localhost')).toHaveLength(1);
  });

  it('the client connects only through the checked lookup (DNS-rebinding safe)', async () => {
    const srv = await serve((_req, res) => send(res, 200, 'ok'));
    const refusedClient = client({}, []);
    const e = await rejection(refusedClient.request('sim', { method: 'GET', url: `http://localhost:${srv.port}/` }));
    expect(e.code).toBe('OUTBOUND_REFUSED');
    expect(srv.hits()).toBe(0);
    const allowed = client({}, ['localhost']);
    expect((await allowed.request('sim', { method: 'GET', url: `http://localhost:${srv.port}/` })).status).toBe(200);
  });
});

// ---------- client ----------

describe('http client', () => {
  it('retries 503 then succeeds, reporting every attempt', async () => {
    let n = 0;
    const srv = await serve((_req, res) => (++n < 3 ? send(res, 503, 'busy') : send(res, 200, { ok: true })));
    const metrics: OutboundMetric[] = [];
    const c = client({ metrics: (m) => metrics.push(m) });
    const res = await c.request('pds', { method: 'GET', url: `${srv.url}/Patient/1?secret=q` });
    expect(res.status).toBe(200);
    expect(res.json<{ ok: boolean }>()).toEqual({ ok: true });
    expect(srv.hits()).toBe(3);
    expect(metrics.map((m) => [m.attempt, m.status])).toEqual([
      [1, 503],
      [2, 503],
      [3, 200],
    ]);
    expect(metrics[0]).toMatchObject({ system: 'pds', method: 'GET', url: `${srv.url}/Patient/1` });
  });

  it('does not retry 400, nor a POST that got 503, but does retry an idempotent POST', async () => {
    const bad = await serve((_req, res) => send(res, 400, { error: 'nope' }));
    const c = client();
    expect((await c.request('s', { method: 'GET', url: bad.url })).status).toBe(400);
    expect(bad.hits()).toBe(1);

    const busy = await serve((_req, res) => send(res, 503, 'busy'));
    expect((await c.request('s2', { method: 'POST', url: busy.url, body: { a: 1 } })).status).toBe(503);
    expect(busy.hits()).toBe(1);
    await c.request('s3', { method: 'POST', url: busy.url, body: { a: 1 }, idempotent: true });
    expect(busy.hits()).toBe(1 + 4);
    await c.request('s4', { method: 'GET', url: busy.url, retry: false });
    expect(busy.hits()).toBe(1 + 4 + 1);
  });

  it('honours Retry-After, and returns at once when it is longer than the cap', async () => {
    let n = 0;
    const srv = await serve((_req, res) => (n++ === 0 ? send(res, 429, 'slow down', { 'retry-after': '1' }) : send(res, 200, 'ok')));
    const c = client();
    const t0 = Date.now();
    expect((await c.request('s', { method: 'GET', url: srv.url })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950); // back-off alone would be ≤ 20 ms

    const far = await serve((_req, res) => send(res, 503, 'maintenance', { 'retry-after': '3600' }));
    const capped = client({ maxRetryAfterMs: 2_000 });
    const res = await capped.request('s', { method: 'GET', url: far.url });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('3600');
    expect(far.hits()).toBe(1);
  });

  it('parses Retry-After as seconds or HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('times out waiting for headers and for the body', async () => {
    const slow = await serve(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 1_000));
      send(res, 200, 'late');
    });
    const c = client({ timeoutMs: 100, retries: 0 });
    const e = await rejection(c.request('slow', { method: 'GET', url: slow.url }));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.details).toMatchObject({ system: 'slow', reason: 'timeout' });

    const stall = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial'); // and never end
    });
    const e2 = await rejection(c.request('stall', { method: 'GET', url: stall.url }));
    expect(e2.details?.reason).toBe('timeout');
  });

  it('maps connection errors to UPSTREAM_UNAVAILABLE with the code, retried, without leaking headers', async () => {
    const port = await deadPort();
    const metrics: OutboundMetric[] = [];
    const c = client({ retries: 2, metrics: (m) => metrics.push(m) });
    const e = await rejection(
      c.request('down', { method: 'GET', url: `http://127.0.0.1:${port}/`, headers: { authorization: 'Bearer sekr1t' } }),
    );
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.details).toMatchObject({ system: 'down', reason: 'ECONNREFUSED' });
    expect(metrics.map((m) => m.status)).toEqual(['error', 'error', 'error']);
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('sekr1t');
  });

  it('opens the breaker after N consecutive failures, fails fast, then half-opens and closes', async () => {
    let healthy = false;
    const srv = await serve((_req, res) => (healthy ? send(res, 200, 'ok') : send(res, 500, 'boom')));
    const c = client({ retries: 0, breaker: { threshold: 3, halfOpenAfterMs: 200 } });
    for (let i = 0; i < 3; i++) expect((await c.request('hmrc', { method: 'GET', url: srv.url })).status).toBe(500);
    expect(c.breakerState('hmrc')).toBe('open');
    const e = await rejection(c.request('hmrc', { method: 'GET', url: srv.url }));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.details).toEqual({ system: 'hmrc', reason: 'circuit open' });
    expect(srv.hits()).toBe(3);
    expect(c.breakerState('other')).toBe('closed'); // per system

    await new Promise((r) => setTimeout(r, 250));
    expect(c.breakerState('hmrc')).toBe('half-open');
    healthy = true;
    expect((await c.request('hmrc', { method: 'GET', url: srv.url })).status).toBe(200);
    expect(c.breakerState('hmrc')).toBe('closed');
  });

  it('stops retrying once the breaker opens and returns the real response', async () => {
    const srv = await serve((_req, res) => send(res, 503, 'down'));
    const c = client({ retries: 3, breaker: { threshold: 2, halfOpenAfterMs: 10_000 } });
    expect((await c.request('s', { method: 'GET', url: srv.url })).status).toBe(503);
    expect(srv.hits()).toBe(2);
    expect(c.breakerState('s')).toBe('open');
  });

  it('does not count 4xx towards the breaker', async () => {
    const srv = await serve((_req, res) => send(res, 404, 'no'));
    const c = client({ retries: 0, breaker: { threshold: 2, halfOpenAfterMs: 10_000 } });
    for (let i = 0; i < 4; i++) await c.request('s', { method: 'GET', url: srv.url });
    expect(c.breakerState('s')).toBe('closed');
  });

  it('enforces the response size limit, with and without content-length', async () => {
    const big = 'x'.repeat(4096);
    const declared = await serve((_req, res) => send(res, 200, big));
    const chunked = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 8; i++) res.write('y'.repeat(512));
      res.end();
    });
    const c = client({ maxBodyBytes: 1024 });
    for (const url of [declared.url, chunked.url]) {
      const e = await rejection(c.request('s', { method: 'GET', url }));
      expect(e.code).toBe('UPSTREAM_ERROR');
      expect(e.details).toMatchObject({ limitBytes: 1024 });
    }
    expect(declared.hits()).toBe(1); // not retried
  });

  it('encodes JSON and form bodies', async () => {
    const seen: Array<{ type?: string; body: string; ua?: string }> = [];
    const srv = await serve((req, res, body) => {
      seen.push({ type: req.headers['content-type'], body, ua: req.headers['user-agent'] });
      send(res, 201, '');
    });
    const c = client({ userAgent: 'hub-test/1' });
    await c.request('s', { method: 'POST', url: srv.url, body: { a: 1 } });
    await c.request('s', { method: 'POST', url: srv.url, body: new URLSearchParams({ a: 'b c' }) });
    expect(seen).toEqual([
      { type: 'application/json', body: '{"a":1}', ua: 'hub-test/1' },
      { type: 'application/x-www-form-urlencoded', body: 'a=b+c', ua: 'hub-test/1' },
    ]);
  });
});

// ---------- auth ----------

describe('authenticator', () => {
  const { privateKey: clientKeyPem, publicKey: clientPubPem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const CLIENT_ID = 'hub client';
  const SECRET = 'p@ss:w rd&=';

  /** A tiny RFC 6749 / RFC 7523 token endpoint plus an API checking the bearer token. */
  async function tokenServer(opts: { expiresIn?: number } = {}) {
    const state = { tokenCalls: 0, scopes: [] as Array<string | null>, assertions: [] as Array<Record<string, unknown>>, issued: new Set<string>() };
    const srv = await serve(async (req, res, body) => {
      if (req.url === '/api') {
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        return state.issued.has(token) ? send(res, 200, { ok: true }) : send(res, 401, { error: 'invalid_token' });
      }
      state.tokenCalls++;
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type' });
      state.scopes.push(form.get('scope'));
      const tokenUrl = `${srv.url}/token`;
      if (form.has('client_assertion')) {
        if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
          return send(res, 400, { error: 'invalid_request' });
        }
        const jwt = form.get('client_assertion')!;
        try {
          const { payload, protectedHeader } = await jwtVerify(jwt, createPublicKey(clientPubPem), {
            algorithms: ['RS512'],
            audience: tokenUrl,
            issuer: CLIENT_ID,
            subject: CLIENT_ID,
          });
          const now = Math.floor(Date.now() / 1000);
          if (protectedHeader.typ !== 'JWT' || !payload.jti || !payload.exp || payload.exp > now + 300 || payload.exp - (payload.iat ?? 0) > 300) {
            return send(res, 400, { error: 'invalid_client', error_description: 'bad assertion claims' });
          }
          state.assertions.push({ ...payload, kid: decodeProtectedHeader(jwt).kid });
        } catch {
          return send(res, 400, { error: 'invalid_client', error_description: 'assertion did not verify' });
        }
      } else {
        const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64')
          .toString('utf8')
          .split(':')
          .map((p) => new URLSearchParams(`v=${p}`).get('v'));
        if (id !== CLIENT_ID || secret !== SECRET) {
          return send(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' }, {
            'www-authenticate': 'Basic',
          });
        }
      }
      const token = `tok-${state.tokenCalls}`;
      state.issued.add(token);
      send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: opts.expiresIn ?? 3600 });
    });
    return { ...srv, state, tokenUrl: `${srv.url}/token` };
  }

  it('NONE, API_KEY and BASIC build headers; missing fields are named, never echoed', async () => {
    const auth = createAuthenticator(client());
    expect(await auth.authorize('s', { kind: 'NONE' }, {})).toEqual({ headers: {} });
    expect((await auth.authorize('s', { kind: 'API_KEY' }, { apiKey: 'k1' })).headers).toEqual({ 'X-API-Key': 'k1' });
    expect((await auth.authorize('s', { kind: 'API_KEY', header: 'Ocp-Apim-Subscription-Key' }, { apiKey: 'k1' })).headers).toEqual({
      'Ocp-Apim-Subscription-Key': 'k1',
    });
    const basic = await auth.authorize('s', { kind: 'BASIC' }, { username: 'carer', password: 'pw:1' });
    expect(Buffer.from(basic.headers.authorization!.replace('Basic ', ''), 'base64').toString()).toBe('carer:pw:1');

    const e = await rejection(auth.authorize('s', { kind: 'BASIC' }, { username: 'carer' }));
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toBe('password is required for BASIC authentication');
    const e2 = await rejection(auth.authorize('s', { kind: 'API_KEY' }, {}));
    expect(e2.details).toMatchObject({ field: 'apiKey' });
  });

  it('OAUTH2_CLIENT_CREDENTIALS: Basic client auth, scope, bearer works, token cached', async () => {
    const ts = await tokenServer();
    const http = client();
    const auth = createAuthenticator(http);
    const cfg = { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: ts.tokenUrl, scope: 'read write' } as const;
    const a1 = await auth.authorize('bank', cfg, { clientId: CLIENT_ID, clientSecret: SECRET });
    const a2 = await auth.authorize('bank', cfg, { clientId: CLIENT_ID, clientSecret: SECRET });
    expect(ts.state.tokenCalls).toBe(1);
    expect(ts.state.scopes).toEqual(['read write']);
    expect(a2.headers).toEqual(a1.headers);
    expect(a1.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    const api = await http.request('bank', { method: 'GET', url: `${ts.url}/api`, headers: a1.headers });
    expect(api.status).toBe(200);

    auth.invalidate('bank');
    await auth.authorize('bank', cfg, { clientId: CLIENT_ID, clientSecret: SECRET });
    expect(ts.state.tokenCalls).toBe(2);
  });

  it('OAUTH2: rejected credentials become UNAUTHENTICATED with the RFC 6749 error, not the secret', async () => {
    const ts = await tokenServer();
    const auth = createAuthenticator(client());
    const e = await rejection(
      auth.authorize('bank', { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: ts.tokenUrl }, { clientId: CLIENT_ID, clientSecret: 'wrong-s3cret' }),
    );
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toBe('token endpoint refused the credentials: invalid_client');
    expect(e.details).toMatchObject({ system: 'bank', error: 'invalid_client', errorDescription: 'client authentication failed' });
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('wrong-s3cret');
    expect(ts.state.tokenCalls).toBe(1); // a 401 is not retried
  });

  it('does not cache tokens that expire within the 30 s margin', async () => {
    const ts = await tokenServer({ expiresIn: 20 });
    const auth = createAuthenticator(client());
    const cfg = { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: ts.tokenUrl } as const;
    await auth.authorize('s', cfg, { clientId: CLIENT_ID, clientSecret: SECRET });
    await auth.authorize('s', cfg, { clientId: CLIENT_ID, clientSecret: SECRET });
    expect(ts.state.tokenCalls).toBe(2);
  });

  it('JWT_CLIENT_ASSERTION: RS512 assertion verified by the token server, token cached', async () => {
    const ts = await tokenServer();
    const auth = createAuthenticator(client());
    const cfg = { kind: 'JWT_CLIENT_ASSERTION', tokenUrl: ts.tokenUrl, kid: 'test-1' } as const;
    const creds = { clientId: CLIENT_ID, privateKeyPem: clientKeyPem };
    const a = await auth.authorize('pds', cfg, creds);
    await auth.authorize('pds', cfg, creds);
    expect(ts.state.tokenCalls).toBe(1);
    expect(a.headers.authorization).toBe('Bearer tok-1');
    const claims = ts.state.assertions[0]!;
    expect(claims).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: ts.tokenUrl, kid: 'test-1' });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);

    // A PKCS#1 key works too; a key the server does not know is refused.
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const e = await rejection(auth.authorize('pds2', cfg, { clientId: CLIENT_ID, privateKeyPem: other.privateKey }));
    expect(e.message).toBe('token endpoint refused the credentials: invalid_client');
    const e2 = await rejection(auth.authorize('pds3', cfg, { clientId: CLIENT_ID, privateKeyPem: 'not a key' }));
    expect(e2.code).toBe('BAD_USER_INPUT');
    expect(e2.details).toMatchObject({ field: 'privateKeyPem' });
  });

  it('token URLs pass through the guard', async () => {
    const auth = createAuthenticator(client());
    const e = await rejection(
      auth.authorize('s', { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: 'http://169.254.169.254/token' }, { clientId: 'a', clientSecret: 'b' }),
    );
    expect(e.code).toBe('OUTBOUND_REFUSED');
  });

  it('CLIENT_CERTIFICATE: mutual TLS against a server that requires the test CA', async () => {
    const mtls = await listen(
      createHttpsServer({ key: fixture('server-key.pem'), cert: fixture('server.pem'), ca: fixture('ca.pem'), requestCert: true, rejectUnauthorized: true }),
      (req, res) => send(res, 200, { cn: (req.socket as TLSSocket).getPeerCertificate().subject?.CN }),
      'https',
    );
    const http = client({ retries: 0 });
    const auth = createAuthenticator(http);
    const a = await auth.authorize('gp', { kind: 'CLIENT_CERTIFICATE' }, {
      certificatePem: fixture('client.pem'),
      privateKeyPem: fixture('client-key.pem'),
      caPem: fixture('ca.pem'),
    });
    expect(a.tls?.ca).toBeDefined();
    const res = await http.request('gp', { method: 'GET', url: mtls.url, headers: a.headers, tls: a.tls });
    expect(res.json()).toEqual({ cn: 'hub-test-client' });

    const untrusted = await auth.authorize('gp', { kind: 'CLIENT_CERTIFICATE' }, {
      certificatePem: fixture('other-client.pem'),
      privateKeyPem: fixture('other-client-key.pem'),
      caPem: fixture('ca.pem'),
    });
    const e = await rejection(http.request('gp2', { method: 'GET', url: mtls.url, tls: untrusted.tls }));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');

    const missing = await rejection(auth.authorize('gp', { kind: 'CLIENT_CERTIFICATE' }, { privateKeyPem: 'x' }));
    expect(missing.message).toBe('certificatePem is required for CLIENT_CERTIFICATE authentication');
  });
});
