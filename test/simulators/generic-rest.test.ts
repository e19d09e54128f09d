import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startGenericRestSimulator,
  tlsFixtures,
  type GenericRestSimulator,
  type GenericRestSimulatorOptions,
} from '../../simulators/src/index.ts';

const running: GenericRestSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(o: GenericRestSimulatorOptions): Promise<GenericRestSimulator> {
  const sim = await startGenericRestSimulator(o);
  running.push(sim);
  return sim;
}

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
const bearer = (token: string): RequestInit => ({ headers: { Authorization: `Bearer ${token}` } });

describe('generic REST simulator: auth', () => {
  it('NONE: health is open, JSON, and echoes X-Request-ID', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const res = await fetch(`${sim.url}/health`, { headers: { 'X-Request-ID': 'req-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toBe('req-123');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('API_KEY: accepts the key, rejects wrong or missing keys with 401 + WWW-Authenticate', async () => {
    const sim = await start({ auth: { kind: 'API_KEY', key: 'k-123' } });
    expect((await fetch(`${sim.url}/health`, { headers: { 'X-API-Key': 'k-123' } })).status).toBe(200);

    const wrong = await fetch(`${sim.url}/health`, { headers: { 'X-API-Key': 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBeTruthy();
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    expect((await fetch(`${sim.url}/residents`)).status).toBe(401);
  });

  it('API_KEY: honours a custom header name', async () => {
    const sim = await start({ auth: { kind: 'API_KEY', header: 'Ocp-Apim-Subscription-Key', key: 'sub' } });
    expect((await fetch(`${sim.url}/health`, { headers: { 'Ocp-Apim-Subscription-Key': 'sub' } })).status).toBe(200);
    expect((await fetch(`${sim.url}/health`, { headers: { 'X-API-Key': 'sub' } })).status).toBe(401);
  });

  it('BASIC: accepts the right user/password (colons allowed), rejects others', async () => {
    const sim = await start({ auth: { kind: 'BASIC', username: 'u', password: 'p:w' } });
    expect((await fetch(`${sim.url}/health`, { headers: { Authorization: basic('u', 'p:w') } })).status).toBe(200);
    const wrong = await fetch(`${sim.url}/health`, { headers: { Authorization: basic('u', 'x') } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await fetch(`${sim.url}/health`)).status).toBe(401);
  });

  describe('OAUTH2_CLIENT_CREDENTIALS', () => {
    const auth = { kind: 'OAUTH2_CLIENT_CREDENTIALS', clientId: 'cid', clientSecret: 's3cret' } as const;

    it('issues a token with client credentials in HTTP Basic, which then opens resources', async () => {
      const sim = await start({ auth });
      expect(sim.tokenUrl).toBe(`${sim.url}/oauth2/token`);
      const res = await fetch(sim.tokenUrl, {
        ...form({ grant_type: 'client_credentials' }),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('cid', 's3cret') },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300 });
      expect((await fetch(`${sim.url}/health`, bearer(body.access_token))).status).toBe(200);
      expect(sim.stats().tokensIssued).toBe(1);
    });

    it('issues a token with client_id/client_secret form fields', async () => {
      const sim = await start({ auth });
      const res = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 's3cret' }));
      expect(res.status).toBe(200);
    });

    it('rejects a bad secret with invalid_client and an unknown grant with unsupported_grant_type', async () => {
      const sim = await start({ auth });
      const bad = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 'x' }));
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: 'invalid_client', error_description: expect.any(String) });

      const badBasic = await fetch(sim.tokenUrl, {
        ...form({ grant_type: 'client_credentials' }),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('cid', 'x') },
      });
      expect(badBasic.status).toBe(401);
      expect(badBasic.headers.get('www-authenticate')).toMatch(/^Basic /);

      const grant = await fetch(sim.tokenUrl, form({ grant_type: 'password', client_id: 'cid', client_secret: 's3cret' }));
      expect(grant.status).toBe(400);
      expect(await grant.json()).toMatchObject({ error: 'unsupported_grant_type' });

      const json = await fetch(sim.tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(json.status).toBe(400);
      expect(await json.json()).toMatchObject({ error: 'invalid_request' });
      expect(sim.stats().tokensIssued).toBe(0);
    });

    it('rejects missing, unknown and expired bearer tokens', async () => {
      const sim = await start({ auth, tokenTtlSeconds: 1 });
      expect((await fetch(`${sim.url}/residents`)).status).toBe(401);

      const unknown = await fetch(`${sim.url}/residents`, bearer('made-up'));
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');

      const res = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 's3cret' }));
      const { access_token, expires_in } = (await res.json()) as { access_token: string; expires_in: number };
      expect(expires_in).toBe(1);
      expect((await fetch(`${sim.url}/health`, bearer(access_token))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      const expired = await fetch(`${sim.url}/health`, bearer(access_token));
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it('does not accept a token issued by another simulator instance', async () => {
      const a = await start({ auth });
      const b = await start({ auth });
      const res = await fetch(a.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 's3cret' }));
      const { access_token } = (await res.json()) as { access_token: string };
      expect((await fetch(`${b.url}/health`, bearer(access_token))).status).toBe(401);
    });

    it('grants a subset of the configured scope and refuses scopes outside it', async () => {
      const sim = await start({ auth: { ...auth, scope: 'residents.read residents.write' } });
      const creds = { grant_type: 'client_credentials', client_id: 'cid', client_secret: 's3cret' };
      const all = await fetch(sim.tokenUrl, form(creds));
      expect(await all.json()).toMatchObject({ scope: 'residents.read residents.write' });
      const some = await fetch(sim.tokenUrl, form({ ...creds, scope: 'residents.read' }));
      expect(await some.json()).toMatchObject({ scope: 'residents.read' });
      const bad = await fetch(sim.tokenUrl, form({ ...creds, scope: 'admin' }));
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: 'invalid_scope' });
    });
  });

  describe('JWT_CLIENT_ASSERTION', () => {
    const client = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyPem = client.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const clientId = 'jwt-client';

    interface AssertionOverrides {
      aud?: string;
      iss?: string;
      jti?: string | null;
      exp?: number;
      key?: KeyObject;
      alg?: string;
      kid?: string;
    }
    async function assertion(tokenUrl: string, o: AssertionOverrides = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: o.alg ?? 'RS512', typ: 'JWT', ...(o.kid ? { kid: o.kid } : {}) })
        .setIssuer(o.iss ?? clientId)
        .setSubject(clientId)
        .setAudience(o.aud ?? tokenUrl)
        .setIssuedAt(now)
        .setExpirationTime(o.exp ?? now + 60);
      if (o.jti !== null) jwt.setJti(o.jti ?? randomUUID());
      return jwt.sign(o.key ?? client.privateKey);
    }
    const tokenRequest = (jwt: string): RequestInit =>
      form({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: jwt,
      });
    async function expectInvalidClient(res: Response): Promise<string> {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_client');
      return body.error_description;
    }

    it('exchanges a valid RS512 assertion for a bearer token', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem } });
      const res = await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl)));
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const { access_token, token_type } = (await res.json()) as { access_token: string; token_type: string };
      expect(token_type).toBe('Bearer');
      expect((await fetch(`${sim.url}/residents?limit=1`, bearer(access_token))).status).toBe(200);
      expect((await fetch(`${sim.url}/residents?limit=1`)).status).toBe(401);
    });

    it('rejects a wrong audience', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem } });
      const res = await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { aud: `${sim.tokenUrl}/` })));
      expect(await expectInvalidClient(res)).toMatch(/aud/);
    });

    it('rejects a replayed jti', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem } });
      const jwt = await assertion(sim.tokenUrl);
      expect((await fetch(sim.tokenUrl, tokenRequest(jwt))).status).toBe(200);
      expect(await expectInvalidClient(await fetch(sim.tokenUrl, tokenRequest(jwt)))).toMatch(/jti/);
      // Same jti in a freshly signed assertion is still a replay.
      const jti = randomUUID();
      expect((await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { jti })))).status).toBe(200);
      await expectInvalidClient(await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { jti }))));
    });

    it('rejects expired assertions, and ones expiring more than 5 minutes ahead', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem } });
      const now = Math.floor(Date.now() / 1000);
      expect(await expectInvalidClient(await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { exp: now - 5 }))))).toMatch(
        /expired/,
      );
      expect(await expectInvalidClient(await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { exp: now + 600 }))))).toMatch(
        /exp/,
      );
      expect((await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { exp: now + 290 })))).status).toBe(200);
    });

    it('rejects a signature by the wrong key, a non-RS512 alg, a wrong issuer and a missing jti', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem } });
      const url = sim.tokenUrl;
      expect(await expectInvalidClient(await fetch(url, tokenRequest(await assertion(url, { key: stranger.privateKey }))))).toMatch(
        /signature/,
      );
      await expectInvalidClient(await fetch(url, tokenRequest(await assertion(url, { alg: 'RS256' }))));
      await expectInvalidClient(await fetch(url, tokenRequest(await assertion(url, { iss: 'someone-else' }))));
      await expectInvalidClient(await fetch(url, tokenRequest(await assertion(url, { jti: null }))));
      expect(sim.stats().tokensIssued).toBe(0);
    });

    it('requires the configured kid and the jwt-bearer assertion type', async () => {
      const sim = await start({ auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem, kid: 'key-1' } });
      await expectInvalidClient(await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { kid: 'key-2' }))));
      expect((await fetch(sim.tokenUrl, tokenRequest(await assertion(sim.tokenUrl, { kid: 'key-1' })))).status).toBe(200);

      const wrongType = await fetch(
        sim.tokenUrl,
        form({ grant_type: 'client_credentials', client_assertion_type: 'urn:other', client_assertion: 'x' }),
      );
      expect(wrongType.status).toBe(400);
      expect(await wrongType.json()).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe('CLIENT_CERTIFICATE (mTLS)', () => {
    const agents: Agent[] = [];
    afterEach(async () => {
      await Promise.all(agents.splice(0).map((a) => a.close()));
    });
    const agent = (connect: { cert?: string; key?: string }): Agent => {
      const a = new Agent({ connect: { ca: tlsFixtures.caPem, ...connect } });
      agents.push(a);
      return a;
    };

    it('serves https and accepts a client cert signed by the fixture CA', async () => {
      const sim = await start({ auth: { kind: 'CLIENT_CERTIFICATE' } });
      expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const dispatcher = agent({ cert: tlsFixtures.clientCertPem, key: tlsFixtures.clientKeyPem });
      const res = await undiciFetch(`${sim.url}/health`, { dispatcher });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      // The server cert also names localhost.
      const local = await undiciFetch(`${sim.url.replace('127.0.0.1', 'localhost')}/residents?limit=1`, { dispatcher });
      expect(local.status).toBe(200);
    });

    it('rejects a client without a certificate', async () => {
      const sim = await start({ auth: { kind: 'CLIENT_CERTIFICATE' } });
      await expect(undiciFetch(`${sim.url}/health`, { dispatcher: agent({}) })).rejects.toThrow();
    });

    it('rejects a client certificate from a different CA', async () => {
      const sim = await start({ auth: { kind: 'CLIENT_CERTIFICATE' } });
      const dispatcher = agent({ cert: tlsFixtures.otherClientCertPem, key: tlsFixtures.otherClientKeyPem });
      await expect(undiciFetch(`${sim.url}/health`, { dispatcher })).rejects.toThrow();
    });
  });
});

describe('generic REST simulator: residents', () => {
  type Resident = { id: string; firstName: string; lastName: string; roomNumber: string; admittedOn: string; updatedAt: string };

  it('cursor pagination walks all 237 records exactly once, in id order', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = cursor ? `?limit=50&cursor=${encodeURIComponent(cursor)}` : '?limit=50';
      const res = await fetch(`${sim.url}/residents${qs}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { data: Resident[]; next_cursor: string | null };
      ids.push(...page.data.map((r) => r.id));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(5);
    expect(ids).toHaveLength(237);
    expect(new Set(ids).size).toBe(237);
    expect(ids).toEqual([...ids].sort());
  });

  it('offset pagination walks all 237 records exactly once and reports the total', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const ids: string[] = [];
    for (let offset = 0; ; offset += 40) {
      const page = (await (await fetch(`${sim.url}/residents?limit=40&offset=${offset}`)).json()) as {
        data: Resident[];
        total: number;
        offset: number;
        limit: number;
      };
      expect(page).toMatchObject({ total: 237, offset, limit: 40 });
      if (page.data.length === 0) break;
      ids.push(...page.data.map((r) => r.id));
    }
    expect(ids).toHaveLength(237);
    expect(new Set(ids).size).toBe(237);
  });

  it('generates resident-like records, stable across runs, and serves them by id', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const first = (await (await fetch(`${sim.url}/residents`)).json()) as { data: Resident[]; next_cursor: string };
    expect(first.data).toHaveLength(50); // default limit
    const r = first.data[0]!;
    expect(Object.keys(r).sort()).toEqual(['admittedOn', 'firstName', 'id', 'lastName', 'roomNumber', 'updatedAt']);
    expect(r.admittedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(new Date(r.updatedAt).toISOString()).toBe(r.updatedAt);

    const other = await start({ auth: { kind: 'NONE' } });
    expect(await (await fetch(`${other.url}/residents/${r.id}`)).json()).toEqual(r);
    const missing = await fetch(`${sim.url}/residents/res-9999`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('validates limit, offset and cursor', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const max = (await (await fetch(`${sim.url}/residents?limit=200`)).json()) as { data: unknown[] };
    expect(max.data).toHaveLength(200);
    for (const qs of ['limit=201', 'limit=abc', 'limit=-1', 'limit=1.5', 'limit=', 'offset=-3', 'offset=x', 'cursor=bogus', 'cursor=a.b', 'offset=0&cursor=x']) {
      const res = await fetch(`${sim.url}/residents?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('rejects a cursor issued by another simulator instance', async () => {
    const a = await start({ auth: { kind: 'NONE' } });
    const b = await start({ auth: { kind: 'NONE' } });
    const { next_cursor } = (await (await fetch(`${a.url}/residents?limit=10`)).json()) as { next_cursor: string };
    expect((await fetch(`${b.url}/residents?cursor=${encodeURIComponent(next_cursor)}`)).status).toBe(400);
  });

  it('serves caller-supplied records sorted by id', async () => {
    const sim = await start({ auth: { kind: 'NONE' }, records: [{ id: 'b', n: 2 }, { id: 'a', n: 1 }] });
    const page = (await (await fetch(`${sim.url}/residents`)).json()) as { data: unknown[]; next_cursor: unknown };
    expect(page).toEqual({ data: [{ id: 'a', n: 1 }, { id: 'b', n: 2 }], next_cursor: null });
  });

  it('answers unknown paths with 404 and wrong methods with 405, both JSON', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const missing = await fetch(`${sim.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
    const wrong = await fetch(`${sim.url}/residents`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(await wrong.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe('generic REST simulator: faults, rate limits, stats', () => {
  it('injects a status for `count` requests, before auth, then recovers', async () => {
    const sim = await start({ auth: { kind: 'API_KEY', key: 'k' } });
    sim.setFaults({ status: 503, count: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${sim.url}/health`)).status);
    expect(statuses).toEqual([503, 503, 401]); // third request reaches auth (no key sent)

    sim.setFaults({ status: 500, count: 1 });
    const faulted = await fetch(`${sim.url}/health`, { headers: { 'X-API-Key': 'k' } });
    expect(faulted.status).toBe(500);
    expect(faulted.headers.get('content-type')).toBe('application/json');
    expect(await faulted.json()).toMatchObject({ error: 'internal_server_error' });
    expect((await fetch(`${sim.url}/health`, { headers: { 'X-API-Key': 'k' } })).status).toBe(200);
  });

  it('limits faults to the given path prefixes', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    sim.setFaults({ status: 502, paths: ['/residents'] });
    expect((await fetch(`${sim.url}/residents/res-0001`)).status).toBe(502);
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it('drops the connection without a response, set and cleared over HTTP', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const set = await fetch(`${sim.url}/__faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ drop: true }),
    });
    expect(set.status).toBe(200);
    await expect(fetch(`${sim.url}/health`)).rejects.toThrow();
    await expect(fetch(`${sim.url}/residents`)).rejects.toThrow();
    expect((await fetch(`${sim.url}/__faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it('rejects malformed fault plans', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    const res = await fetch(`${sim.url}/__faults`, { method: 'POST', body: JSON.stringify({ status: 'boom' }) });
    expect(res.status).toBe(400);
    expect(() => sim.setFaults({ latencyMs: -1 })).toThrow();
  });

  it('adds latency and then serves normally', async () => {
    const sim = await start({ auth: { kind: 'NONE' } });
    sim.setFaults({ latencyMs: 300, count: 1 });
    let t0 = performance.now();
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
    t0 = performance.now();
    await fetch(`${sim.url}/health`);
    expect(performance.now() - t0).toBeLessThan(250);
  });

  it('closes promptly even with a request parked in injected latency', async () => {
    const sim = await startGenericRestSimulator({ auth: { kind: 'NONE' } });
    sim.setFaults({ latencyMs: 60_000 });
    const pending = fetch(`${sim.url}/health`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('answers 429 with Retry-After above rateLimitPerSecond', async () => {
    const sim = await start({ auth: { kind: 'NONE' }, rateLimitPerSecond: 5 });
    const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(`${sim.url}/health`)));
    const limited = responses.filter((r) => r.status === 429);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(5);
    expect(limited).toHaveLength(3);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited[0]!.json()).toMatchObject({ error: 'rate_limited' });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it('counts requests by path, excluding the /__ control plane', async () => {
    const sim = await start({ auth: { kind: 'OAUTH2_CLIENT_CREDENTIALS', clientId: 'c', clientSecret: 's' } });
    await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's' }));
    await fetch(`${sim.url}/residents`);
    await fetch(`${sim.url}/residents`);
    await fetch(`${sim.url}/__faults`, { method: 'DELETE' });
    expect(sim.stats()).toEqual({ requests: 3, byPath: { '/oauth2/token': 1, '/residents': 2 }, tokensIssued: 1 });
  });
});
