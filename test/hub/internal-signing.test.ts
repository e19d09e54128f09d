import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, INTERNAL_TOKEN_HEADER, loadConfig, parseInternalKeys, servicePrincipal, signInternalToken } from '@hub/runtime';
import { composeSupergraph, startHub, type Hub } from '@hub/gateway';
import { typeDefs as nhsTypeDefs } from '@hub/subgraph-nhs';

/**
 * Inside the hub nothing is trusted by address: a subgraph process answers only requests the gateway signed with the
 * shared INTERNAL_SIGNING_KEYS, its SDL and `_entities` included, and a gateway holding the wrong key is not ready.
 */
const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const WRONG = `k1:${randomBytes(32).toString('base64')}`;
const dirs: string[] = [];
const hubs: Hub[] = [];
let nhs: Hub;
let file: string;

const env = (extra: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-signing-'));
  dirs.push(dir);
  return loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: dir, VAULT_KEYS: `k:${randomBytes(32).toString('base64')}`, OUTBOUND_ALLOW: '127.0.0.1,localhost', JOB_POLL_SECONDS: '0.5', ...extra } as NodeJS.ProcessEnv);
};
const start = async (extra: Record<string, string>) => {
  const h = await startHub(env(extra), createLogger('silent'));
  hubs.push(h);
  return h;
};
const post = (url: string, query: string, headers: Record<string, string> = {}, variables?: unknown) =>
  fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Resident { nhsNumber } } }';
const REPRESENTATIONS = { r: [{ __typename: 'Resident', nhsNumber: '9000000009' }] };

beforeAll(async () => {
  nhs = await start({ ROLE: 'nhs', INTERNAL_SIGNING_KEYS: KEYS });
  file = join(dirs[0]!, 'supergraph.graphql');
  writeFileSync(file, composeSupergraph([{ name: 'nhs', url: `${nhs.url}/graphql`, typeDefs: nhsTypeDefs }]));
});
afterAll(async () => {
  for (const h of hubs.reverse()) await h.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('calls between hub processes', () => {
  it('a subgraph process refuses unsigned requests: _entities, its SDL, anything, with 401', async () => {
    for (const [query, variables] of [[ENTITIES, REPRESENTATIONS], ['{ _service { sdl } }', undefined], ['{ nhsConnector { simulated } }', undefined]] as const) {
      const res = await post(nhs.url, query, {}, variables);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { data?: unknown; errors: Array<{ extensions: { code: string } }> };
      expect(body.data).toBeUndefined();
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    }
    // Claiming to be the gateway in the old headers is worth nothing.
    expect((await post(nhs.url, '{ _service { sdl } }', { 'x-hub-client': 'gateway', 'x-hub-scopes': 'read health' })).status).toBe(401);
    // Health stays open for the orchestrator.
    expect((await fetch(`${nhs.url}/healthz`)).status).toBe(200);
  });

  it('refuses a token signed with another key, one meant for another subgraph, and a stale one', async () => {
    const principal = servicePrincipal('', 'gateway');
    const wrongKey = await signInternalToken(parseInternalKeys(WRONG), principal, 'nhs');
    const otherSubgraph = await signInternalToken(parseInternalKeys(KEYS), principal, 'banking');
    const key = parseInternalKeys(KEYS).keys[0]!;
    const stale = await new SignJWT({ org: '', scp: ['read'] })
      .setProtectedHeader({ alg: 'HS256', kid: key.id })
      .setIssuer('care-home-integration-hub')
      .setAudience('nhs')
      .setSubject('gateway')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 540)
      .sign(key.secret);
    for (const token of [wrongKey, otherSubgraph, stale, 'not-a-token']) {
      expect((await post(nhs.url, '{ _service { sdl } }', { [INTERNAL_TOKEN_HEADER]: token })).status).toBe(401);
    }
    const good = await signInternalToken(parseInternalKeys(KEYS), principal, 'nhs');
    const res = await post(nhs.url, '{ _service { sdl } }', { [INTERNAL_TOKEN_HEADER]: good });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { _service: { sdl: string } } }).data._service.sdl).toContain('type Resident');
  });

  it('a gateway with the right key is ready and answers through the subgraph; one with a wrong key is not ready', async () => {
    const gateway = await start({ ROLE: 'gateway', SUPERGRAPH_FILE: file, INTERNAL_SIGNING_KEYS: KEYS });
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    const answer = (await (await post(gateway.url, '{ nhsConnector { simulated } }')).json()) as { data: { nhsConnector: { simulated: boolean } } };
    expect(answer.data.nhsConnector.simulated).toBe(true);

    const impostor = await start({ ROLE: 'gateway', SUPERGRAPH_FILE: file, INTERNAL_SIGNING_KEYS: WRONG });
    const ready = await fetch(`${impostor.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/nhs: HTTP 401/);
    const refused = (await (await post(impostor.url, '{ nhsConnector { simulated } }')).json()) as { data: unknown; errors?: unknown[] };
    expect(refused.errors?.length).toBeGreaterThan(0);
  });

  it('a process split from the others will not start without the key', () => {
    expect(() => env({ ROLE: 'nhs' })).toThrow(/INTERNAL_SIGNING_KEYS: required/);
    expect(() => env({ ROLE: 'nhs', INTERNAL_SIGNING_KEYS: 'k1:c2hvcnQ=' })).toThrow(/INTERNAL_SIGNING_KEYS: entry 1/);
  });
});
