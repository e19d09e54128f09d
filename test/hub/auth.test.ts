import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import WebSocket from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@hub/runtime';
import { BankStatementsDocument, EventsDocument, ExpectPaymentDocument, NhsConnectorDocument, PublishEventDocument, RegisterApiDocument, RegisterSystemDocument, ResidentDocument, RouteRequestDocument, SystemsDocument } from '../generated/graphql.ts';
import { startTestHub, type GraphQLResult, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

const key = () => `hub_${randomBytes(24).toString('base64url')}`;
const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const READ = key();
const WRITE = key();
const FINANCE_OLD = key();
const FINANCE_NEW = key();
const CARE = key();
const ACCOUNTS = key();
const ISSUER = 'https://idp.care-group.test';
const AUDIENCE = 'care-home-hub';

let hub: TestHub;
let jwks: Server;
let signing: CryptoKey;
let stranger: CryptoKey;

async function token(claims: Record<string, unknown>, o: { key?: CryptoKey; audience?: string; expires?: string } = {}): Promise<string> {
  // Tokens name their organisation (AUTH_JWT_ORGANISATION_CLAIM, `org`), unless a test takes it away.
  return new SignJWT({ org: 'default', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
    .setIssuer(ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.expires ?? '5m')
    .sign(o.key ?? signing);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signing = pair.privateKey;
  stranger = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  // The identity provider's published keys, as an operator's IdP serves them.
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  hub = await startTestHub({
    AUTH_API_KEYS: [`care-app:read:${sha(READ)}`, `care-app-writer:read+write:${sha(WRITE)}`, `finance:read+write:${sha(FINANCE_OLD)}`, `finance:read+write:${sha(FINANCE_NEW)}`, `care-records:read+health:${sha(CARE)}`, `accounts:read+write+finance:${sha(ACCOUNTS)}`].join(';'),
    AUTH_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
  });
});
afterAll(async () => {
  await hub?.close();
  await new Promise((r) => jwks?.close(r));
});

async function call<T, V>(doc: TypedDocumentNode<T, V>, variables: V, headers: Record<string, string>): Promise<{ status: number; body: GraphQLResult<T>; res: Response }> {
  const res = await hub.raw(JSON.stringify({ query: print(doc), variables }), headers);
  return { status: res.status, body: (await res.json()) as GraphQLResult<T>, res };
}
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const systemInput = (name: string) => ({ name, type: 'GENERIC_REST' as const, endpoint: 'http://127.0.0.1:9', authentication: { kind: 'NONE' as const } });

describe('authentication at the gateway', () => {
  it('refuses callers without valid credentials on every door, and leaves health, metrics and the GraphiQL page open', async () => {
    const none = await call(SystemsDocument, {}, {});
    expect(none.status).toBe(401);
    expect(none.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(none.body.data).toBeUndefined();

    for (const headers of [bearer('hub_not-a-key'), { 'x-api-key': 'hub_not-a-key' }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }]) {
      const r = await call(SystemsDocument, {}, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
    }
    // Claiming to be a client is not being one.
    expect((await call(SystemsDocument, {}, { 'x-hub-client': 'care-app' })).status).toBe(401);

    const rest = await fetch(`${hub.url}/api/integration/systems`);
    expect(rest.status).toBe(401);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    const stream = await fetch(`${hub.url}/api/integration/events/stream`);
    expect(stream.status).toBe(401);
    await stream.body?.cancel();
    const get = await fetch(`${hub.url}/graphql?query=${encodeURIComponent('{ externalSystems { id } }')}`);
    expect(get.status).toBe(401);

    // HMRC sends the operator's browser back without hub credentials: that one path is open, and its single-use
    // state is the check (one the hub never issued is refused).
    const callback = await fetch(`${hub.url}/api/integration/hmrc/oauth/callback?code=abc&state=never-issued`);
    expect(callback.status).toBe(400);
    expect(((await callback.json()) as { error: { message: string } }).error.message).toMatch(/unknown or expired state/);
    expect((await fetch(`${hub.url}/api/integration/hmrc/oauth/callback?code=abc&state=x`, { method: 'POST' })).status).toBe(401);

    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${hub.url}/metrics`)).status).toBe(200);
    const page = await fetch(`${hub.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });

  it('lets a read-only key read, and refuses its changes without making them', async () => {
    const read = await call(SystemsDocument, {}, bearer(READ));
    expect(read.status).toBe(200);
    expect(read.body.errors).toBeUndefined();
    expect((await call(SystemsDocument, {}, { 'x-api-key': READ })).body.errors).toBeUndefined();

    const name = `forbidden-${Math.random().toString(36).slice(2)}`;
    const change = await call(RegisterSystemDocument, { input: systemInput(name) }, bearer(READ));
    expect(change.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(change.body.errors?.[0]?.message).toMatch(/write scope; care-app has read/);
    const rest = await fetch(`${hub.url}/api/integration/systems`, { method: 'POST', headers: { ...bearer(READ), 'content-type': 'application/json' }, body: JSON.stringify(systemInput(name)) });
    expect(rest.status).toBe(403);
    const after = await call(SystemsDocument, {}, bearer(READ));
    expect(after.body.data?.externalSystems.map((s) => s.name)).not.toContain(name);
  });

  it('names the authenticated client as the actor, whatever x-hub-client claims; both keys of a rotation work', async () => {
    // An API whose upstream is the hub's own health endpoint: routeRequest reports the client it counted against.
    const tag = Math.random().toString(36).slice(2, 8);
    const reg = await call(RegisterApiDocument, { input: { name: `self-${tag}`, version: 'v1', basePath: `/self-${tag}`, upstreamUrl: hub.url } }, bearer(WRITE));
    expect(reg.body.errors).toBeUndefined();
    const apiId = reg.body.data!.registerAPI.id;
    const route = (headers: Record<string, string>) => call(RouteRequestDocument, { apiId, request: { method: 'GET', path: '/healthz' } }, headers);

    const writer = await route({ ...bearer(WRITE), 'x-hub-client': 'someone-else' });
    expect(writer.body.data?.routeRequest).toMatchObject({ status: 200, rateLimit: { clientId: 'care-app-writer' } });
    for (const k of [FINANCE_OLD, FINANCE_NEW]) expect((await route(bearer(k))).body.data?.routeRequest.rateLimit.clientId).toBe('finance');

    const rest = await hub.raw('', {}, '/api/integration/apis');
    expect(rest.status).toBe(401);
    const viaRest = await fetch(`${hub.url}/api/integration/apis/${apiId}/route`, { method: 'POST', headers: { ...bearer(FINANCE_NEW), 'content-type': 'application/json', 'x-hub-client': 'spoof' }, body: JSON.stringify({ method: 'GET', path: '/healthz' }) });
    expect(viaRest.status).toBe(200);
    expect(((await viaRest.json()) as { rateLimit: { clientId: string } }).rateLimit.clientId).toBe('finance');
  });

  it("keeps residents' NHS records to clients with the health scope (@requiresScopes in the nhs subgraph's SDL)", async () => {
    const payroll = await call(ResidentDocument, { nhsNumber: '9000000009' }, bearer(WRITE));
    expect(payroll.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(payroll.body.errors?.[0]?.message).toMatch(/care-app-writer may not read or change resident \(needs health\)/);
    expect(payroll.body.data ?? null).toBeNull();
    // The same client still reads what is not a health record, even from the nhs subgraph.
    expect((await call(NhsConnectorDocument, {}, bearer(WRITE))).body.errors).toBeUndefined();

    const care = await call(ResidentDocument, { nhsNumber: '9000000009' }, bearer(CARE));
    expect(care.body.errors).toBeUndefined();
    expect(care.body.data?.resident.nhsNumber).toBe('9000000009');
    const nurse = await token({ client_id: 'ehr-app', scope: 'read health' });
    expect((await call(ResidentDocument, { nhsNumber: '9000000009' }, bearer(nurse))).body.errors).toBeUndefined();
  });

  it('keeps VAT, bank statements and payments to clients with the finance scope', async () => {
    const care = await call(BankStatementsDocument, {}, bearer(CARE));
    expect(care.body.errors?.[0]?.message).toMatch(/care-records may not read or change bankStatements \(needs finance\)/);
    const writer = await call(ExpectPaymentDocument, { input: { reference: 'INV-AUTH-1', amount: '10', currency: 'GBP' } }, bearer(WRITE));
    expect(writer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const accounts = await call(ExpectPaymentDocument, { input: { reference: 'INV-AUTH-1', amount: '10', currency: 'GBP' } }, bearer(ACCOUNTS));
    expect(accounts.body.errors).toBeUndefined();
    expect((await call(BankStatementsDocument, {}, bearer(ACCOUNTS))).body.errors).toBeUndefined();
    // Health records stay out of reach for the finance client, and the other way round.
    expect((await call(ResidentDocument, { nhsNumber: '9000000009' }, bearer(ACCOUNTS))).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("accepts the identity provider's JWTs: client and scopes from the token; expired, foreign or misaddressed tokens refused", async () => {
    const payroll = await token({ client_id: 'payroll-app', scope: 'read write openid' });
    const ok = await call(RegisterSystemDocument, { input: systemInput(`jwt-${Math.random().toString(36).slice(2)}`) }, bearer(payroll));
    expect(ok.body.errors).toBeUndefined();

    const readOnly = await token({ azp: 'viewer-app', scp: ['read'] });
    expect((await call(SystemsDocument, {}, bearer(readOnly))).body.errors).toBeUndefined();
    expect((await call(RegisterSystemDocument, { input: systemInput('never') }, bearer(readOnly))).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const refused: Array<[string, RegExp]> = [
      [await token({ client_id: 'late' }, { expires: '-1m' }), /expired/],
      [await token({ client_id: 'elsewhere' }, { audience: 'another-service' }), /not valid/],
      [await token({ client_id: 'forged' }, { key: stranger }), /not valid/],
      [await token({ scope: 'read' }), /names no client/],
      [await token({ client_id: 'no-org', scope: 'read', org: undefined }), /names no organisation/],
      [await token({ client_id: 'bad-homes', scope: 'read', homes: 'oak' }), /homes claim is not a list/],
    ];
    for (const [t, message] of refused) {
      const r = await call(SystemsDocument, {}, bearer(t));
      expect(r.status).toBe(401);
      expect(r.body.errors?.[0]?.message).toMatch(message);
    }
  });

  it('checks WebSocket connections too: no credentials, no connection; a subscription needs read', async () => {
    const url = `${hub.url.replace(/^http/, 'ws')}/graphql`;
    const anonymous = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const closed = await new Promise<{ code: number }>((resolve) => {
      anonymous.on('closed', (e) => resolve(e as { code: number }));
      anonymous.subscribe({ query: print(EventsDocument), variables: {} }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    expect(closed.code).toBe(4403);
    await anonymous.dispose();

    const type = `auth.${Math.random().toString(36).slice(2)}`;
    const reader = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${READ}` } });
    const sub = collect(reader, EventsDocument, { filter: { types: [type] } });
    await new Promise((r) => setTimeout(r, 300));
    const published = await call(PublishEventDocument, { input: { type, source: 'tests', payload: { n: 1 } } }, bearer(WRITE));
    expect(published.body.errors).toBeUndefined();
    expect((await sub.waitFor(1))[0]!.events.type).toBe(type);
    sub.stop();
    await reader.dispose();

    const writeOnly = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${await token({ client_id: 'pusher', scope: 'write' })}` } });
    const denied = collect(writeOnly, EventsDocument, { filter: { types: [type] } });
    await expect(denied.waitFor(1, 5_000)).rejects.toThrow(/FORBIDDEN|read scope/);
    await writeOnly.dispose();
  });
});

describe('authentication settings', () => {
  const prod = { NODE_ENV: 'production', NHS_ENVIRONMENT: 'simulated', HMRC_ENVIRONMENT: 'simulated', CONNECTORS_DISABLED: 'banking,payroll,cqc,dbs' } as NodeJS.ProcessEnv;
  it('refuses to run a production gateway with the door open by omission', () => {
    expect(() => loadConfig(prod)).toThrow(/AUTH_API_KEYS or AUTH_JWT_JWKS_URL: required when NODE_ENV=production/);
    expect(loadConfig({ ...prod, AUTH_REQUIRED: 'false' }).auth.required).toBe(false);
    expect(loadConfig({ ...prod, ROLE: 'systems', INTERNAL_SIGNING_KEYS: `k:${randomBytes(32).toString('base64')}` }).auth.required).toBe(false);
    expect(loadConfig({ ...prod, AUTH_API_KEYS: `app:read:${sha(READ)}` }).auth).toMatchObject({ required: true, apiKeys: [{ client: 'app', scopes: ['read'], sha256: sha(READ) }] });
  });
  it('names what is wrong in AUTH_API_KEYS and the JWT settings', () => {
    expect(() => loadConfig({ AUTH_API_KEYS: 'app:read' } as NodeJS.ProcessEnv)).toThrow(/AUTH_API_KEYS: entry 1 is not client:scopes:sha256/);
    expect(() => loadConfig({ AUTH_API_KEYS: `app:admin:${sha(READ)}` } as NodeJS.ProcessEnv)).toThrow(/entry 1 has scopes other than read, write/);
    expect(() => loadConfig({ AUTH_API_KEYS: `a:read:${sha(READ)};b:read:${sha(READ)}` } as NodeJS.ProcessEnv)).toThrow(/entry 2 repeats a key/);
    expect(() => loadConfig({ AUTH_API_KEYS: 'app:read:abc' } as NodeJS.ProcessEnv)).toThrow(/64 hex digits/);
    expect(() => loadConfig({ AUTH_API_KEYS: `app:read:${sha(READ)}:Not An Org` } as NodeJS.ProcessEnv)).toThrow(/entry 1 has an organisation id other than/);
    expect(() => loadConfig({ AUTH_API_KEYS: `app:read:${sha(READ)}:org-a:oak,Elm Lodge` } as NodeJS.ProcessEnv)).toThrow(/entry 1 has a home id other than/);
    expect(loadConfig({ AUTH_API_KEYS: `app:read:${sha(READ)}:org-a:oak,elm` } as NodeJS.ProcessEnv).auth.apiKeys[0]).toMatchObject({ organisationId: 'org-a', homeIds: ['oak', 'elm'] });
    expect(loadConfig({ AUTH_API_KEYS: `app:read:${sha(READ)}` } as NodeJS.ProcessEnv).auth.apiKeys[0]).toMatchObject({ organisationId: 'default', homeIds: null });
    expect(() => loadConfig({ AUTH_JWT_JWKS_URL: 'https://idp.test/jwks' } as NodeJS.ProcessEnv)).toThrow(/set all three/);
    expect(() => loadConfig({ AUTH_REQUIRED: 'true' } as NodeJS.ProcessEnv)).toThrow(/configure AUTH_API_KEYS or AUTH_JWT_JWKS_URL too/);
  });
});
