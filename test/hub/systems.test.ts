import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, tlsFixtures, type GenericRestSimulator } from '@hub/simulators';
import { CheckHealthDocument, ConnectDocument, DisconnectDocument, RegisterSystemDocument, SystemDocument, SystemsDocument, type RegisterExternalSystemInput } from '../generated/graphql.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
const sims: GenericRestSimulator[] = [];
const sim = async (o: Parameters<typeof startGenericRestSimulator>[0]) => {
  const s = await startGenericRestSimulator(o);
  sims.push(s);
  return s;
};

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
  await hub?.close();
});

let n = 0;
const input = (over: Partial<RegisterExternalSystemInput> = {}): RegisterExternalSystemInput => ({
  name: `system-${++n}-${Math.random().toString(36).slice(2, 8)}`,
  type: 'GENERIC_REST',
  endpoint: 'http://127.0.0.1:9',
  authentication: { kind: 'NONE' },
  ...over,
});

describe('registering external systems', () => {
  it('stores every field of the seed and reads it back', async () => {
    const { registerExternalSystem: s } = await hub.ok(RegisterSystemDocument, {
      input: input({
        name: 'Sunrise Care Records',
        type: 'CARE_PLATFORM',
        endpoint: 'http://127.0.0.1:9/api/',
        healthPath: '/status',
        authentication: { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: 'http://127.0.0.1:9/oauth2/token', scope: 'residents:read' },
        capabilities: ['residents.read', 'residents.read'],
        dataFormats: ['JSON', 'CSV'],
        rateLimits: [{ requests: 5, perSeconds: 1 }],
        configuration: { region: 'north' },
      }),
    });
    expect(s).toMatchObject({
      name: 'Sunrise Care Records',
      type: 'CARE_PLATFORM',
      endpoint: 'http://127.0.0.1:9/api',
      healthPath: '/status',
      status: 'REGISTERED',
      lastConnected: null,
      capabilities: ['residents.read'],
      dataFormats: ['JSON', 'CSV'],
      rateLimits: [{ requests: 5, perSeconds: 1, scope: null }],
      configuration: { region: 'north' },
      authentication: { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: 'http://127.0.0.1:9/oauth2/token', scope: 'residents:read', hasCredentials: false },
      health: { status: 'REGISTERED', ok: null, checkedAt: null },
    });
    const { externalSystem } = await hub.ok(SystemDocument, { id: s.id });
    expect(externalSystem).toMatchObject({ id: s.id, name: 'Sunrise Care Records', healthHistory: [], integrations: [] });
  });

  it('lists systems with filters', async () => {
    const a = (await hub.ok(RegisterSystemDocument, { input: input({ type: 'HMRC', name: 'filter-hmrc' }) })).registerExternalSystem;
    await hub.ok(RegisterSystemDocument, { input: input({ type: 'BANK', name: 'filter-bank' }) });
    const byType = await hub.ok(SystemsDocument, { filter: { type: 'HMRC' } });
    expect(byType.externalSystems.map((s) => s.id)).toEqual([a.id]);
    const byName = await hub.ok(SystemsDocument, { filter: { nameContains: 'FILTER-' } });
    expect(byName.externalSystems.map((s) => s.name)).toEqual(['filter-bank', 'filter-hmrc']);
    const none = await hub.ok(SystemsDocument, { filter: { status: 'CONNECTED', nameContains: 'filter-' } });
    expect(none.externalSystems).toEqual([]);
  });

  it('returns null for an unknown id', async () => {
    const r = await hub.ok(SystemDocument, { id: '00000000-0000-4000-8000-000000000000' });
    expect(r.externalSystem).toBeNull();
  });

  it.each([
    ['link-local metadata address', 'http://169.254.169.254/latest'],
    ['private range', 'http://10.1.2.3/api'],
    ['private range 192.168', 'https://192.168.0.10'],
    ['a non-HTTP scheme', 'file:///etc/passwd'],
    ['ftp', 'ftp://127.0.0.1/x'],
    ['credentials in the URL', 'http://user:pw@127.0.0.1/'],
  ])('refuses an endpoint on %s and stores nothing', async (_why, endpoint) => {
    const before = (await hub.ok(SystemsDocument, {})).externalSystems.length;
    const r = await hub.gql(RegisterSystemDocument, { input: input({ endpoint }) });
    expect(r.data).toBeNull();
    expect(r.errors?.[0]?.extensions?.code).toBe('OUTBOUND_REFUSED');
    expect(r.errors?.[0]?.message).toMatch(/OUTBOUND_ALLOW|scheme|credentials/);
    expect((await hub.ok(SystemsDocument, {})).externalSystems.length).toBe(before);
  });

  it('refuses a token URL that points somewhere refused', async () => {
    const r = await hub.gql(RegisterSystemDocument, {
      input: input({ authentication: { kind: 'JWT_CLIENT_ASSERTION', tokenUrl: 'http://169.254.169.254/token' } }),
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('OUTBOUND_REFUSED');
  });

  it('rejects bad input with clear errors and changes nothing', async () => {
    const before = (await hub.ok(SystemsDocument, {})).externalSystems.length;
    const cases: Array<[unknown, RegExp, string]> = [
      [{ ...input(), endpoint: undefined }, /endpoint/, 'BAD_USER_INPUT'],
      [{ ...input(), type: 'MAINFRAME' }, /MAINFRAME/, 'BAD_USER_INPUT'],
      [{ ...input(), endpoint: 'not a url' }, /endpoint is not a valid URL/, 'BAD_USER_INPUT'],
      [{ ...input(), name: '   ' }, /name must be/, 'BAD_USER_INPUT'],
      [{ ...input(), healthPath: 'health' }, /healthPath/, 'BAD_USER_INPUT'],
      [{ ...input(), authentication: { kind: 'OAUTH2_CLIENT_CREDENTIALS' } }, /tokenUrl is required/, 'BAD_USER_INPUT'],
      [{ ...input(), rateLimits: [{ requests: 0, perSeconds: 1 }] }, /rate limits/, 'BAD_USER_INPUT'],
    ];
    for (const [bad, message, code] of cases) {
      const r = await hub.gql(RegisterSystemDocument, { input: bad as RegisterExternalSystemInput });
      expect(r.errors?.[0]?.message, JSON.stringify(bad)).toMatch(message);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r.errors)).toBe(code);
    }
    expect((await hub.ok(SystemsDocument, {})).externalSystems.length).toBe(before);
  });

  it('refuses a second system with the same name', async () => {
    const first = input();
    await hub.ok(RegisterSystemDocument, { input: first });
    const r = await hub.gql(RegisterSystemDocument, { input: { ...first, name: ` ${first.name} ` } });
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });
});

describe('connecting: a real handshake per authentication kind', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const kinds = [
    {
      kind: 'API_KEY' as const,
      sim: { kind: 'API_KEY' as const, key: 'k-123456' },
      good: { apiKey: 'k-123456' },
      bad: { apiKey: 'nope' },
      auth: (_s: GenericRestSimulator) => ({ kind: 'API_KEY' as const }),
    },
    {
      kind: 'BASIC' as const,
      sim: { kind: 'BASIC' as const, username: 'carehome', password: 'pa55word-basic' },
      good: { username: 'carehome', password: 'pa55word-basic' },
      bad: { username: 'carehome', password: 'wrong' },
      auth: () => ({ kind: 'BASIC' as const }),
    },
    {
      kind: 'OAUTH2_CLIENT_CREDENTIALS' as const,
      sim: { kind: 'OAUTH2_CLIENT_CREDENTIALS' as const, clientId: 'hub', clientSecret: 's3cret-oauth-value' },
      good: { clientId: 'hub', clientSecret: 's3cret-oauth-value' },
      bad: { clientId: 'hub', clientSecret: 'wrong' },
      auth: (s: GenericRestSimulator) => ({ kind: 'OAUTH2_CLIENT_CREDENTIALS' as const, tokenUrl: s.tokenUrl }),
    },
    {
      kind: 'JWT_CLIENT_ASSERTION' as const,
      sim: { kind: 'JWT_CLIENT_ASSERTION' as const, clientId: 'hub-app', publicKeyPem, kid: 'hub-key-1' },
      good: { clientId: 'hub-app', privateKeyPem },
      bad: { clientId: 'someone-else', privateKeyPem },
      auth: (s: GenericRestSimulator) => ({ kind: 'JWT_CLIENT_ASSERTION' as const, tokenUrl: s.tokenUrl, keyId: 'hub-key-1' }),
    },
    {
      kind: 'CLIENT_CERTIFICATE' as const,
      sim: { kind: 'CLIENT_CERTIFICATE' as const },
      good: { certificatePem: tlsFixtures.clientCertPem, privateKeyPem: tlsFixtures.clientKeyPem, caPem: tlsFixtures.caPem },
      bad: { certificatePem: tlsFixtures.otherClientCertPem, privateKeyPem: tlsFixtures.otherClientKeyPem, caPem: tlsFixtures.caPem },
      auth: () => ({ kind: 'CLIENT_CERTIFICATE' as const }),
    },
  ];

  for (const k of kinds) {
    it(`${k.kind}: good credentials connect, bad ones do not and are not kept`, async () => {
      const s = await sim({ auth: k.sim });
      const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: input({ endpoint: s.url, authentication: k.auth(s) }) });

      const bad = (await hub.ok(ConnectDocument, { id: sys.id, credentials: k.bad })).connectToSystem;
      expect(bad.connected).toBe(false);
      expect(bad.error).toBeTruthy();
      expect(bad.system.authentication.hasCredentials).toBe(false);
      expect(bad.system.lastConnected).toBeNull();
      if (k.kind !== 'CLIENT_CERTIFICATE') expect(bad.status).toBe('AUTH_FAILED');

      const good = (await hub.ok(ConnectDocument, { id: sys.id, credentials: k.good })).connectToSystem;
      expect(good, JSON.stringify(good)).toMatchObject({ connected: true, status: 'CONNECTED', httpStatus: 200, error: null });
      expect(good.latencyMs).toBeGreaterThanOrEqual(0);
      expect(good.system.lastConnected).toBe(good.checkedAt);
      expect(good.system.authentication.hasCredentials).toBe(true);
      expect(good.system.health).toMatchObject({ status: 'CONNECTED', ok: true, httpStatus: 200 });

      const { externalSystem } = await hub.ok(SystemDocument, { id: sys.id });
      expect(externalSystem!.healthHistory.map((h) => [h.trigger, h.ok])).toEqual([
        ['CONNECT', true],
        ['CONNECT', false],
      ]);
    });
  }

  it('reports an endpoint that does not answer as UNREACHABLE', async () => {
    const s = await sim({ auth: { kind: 'NONE' } });
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: input({ endpoint: s.url }) });
    s.setFaults({ status: 503 });
    const r = (await hub.ok(ConnectDocument, { id: sys.id, credentials: {} })).connectToSystem;
    expect(r).toMatchObject({ connected: false, status: 'UNREACHABLE', httpStatus: 503 });
    s.setFaults({ drop: true });
    const dropped = (await hub.ok(ConnectDocument, { id: sys.id, credentials: {} })).connectToSystem;
    expect(dropped).toMatchObject({ connected: false, status: 'UNREACHABLE', httpStatus: null });
    expect(dropped.error).toMatch(/unavailable/);
  });

  it('says which credential is missing without echoing any value', async () => {
    const s = await sim({ auth: { kind: 'BASIC', username: 'u', password: 'p' } });
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: input({ endpoint: s.url, authentication: { kind: 'BASIC' } }) });
    const r = await hub.gql(ConnectDocument, { id: sys.id, credentials: { username: 'only-the-user' } });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/password/);
    expect(JSON.stringify(r)).not.toContain('only-the-user');
    const after = await hub.ok(SystemDocument, { id: sys.id });
    expect(after.externalSystem!.healthHistory).toEqual([]);
  });

  it('NOT_FOUND for an unknown system', async () => {
    const r = await hub.gql(ConnectDocument, { id: '00000000-0000-4000-8000-000000000000', credentials: {} });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('health is read from the store: it answers while the system is down', async () => {
    const s = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'k' } });
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: input({ endpoint: s.url, authentication: { kind: 'API_KEY' } }) });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { apiKey: 'k' } });
    await s.close();
    const { externalSystem } = await hub.ok(SystemDocument, { id: sys.id });
    expect(externalSystem!.health).toMatchObject({ status: 'CONNECTED', ok: true });
    // A check on demand does go out, finds it down, and says so; the credentials stay for when it is back.
    const checked = await hub.ok(CheckHealthDocument, { id: sys.id });
    expect(checked.checkSystemHealth).toMatchObject({ status: 'UNREACHABLE', ok: false });
    const after = await hub.ok(SystemDocument, { id: sys.id });
    expect(after.externalSystem!.authentication.hasCredentials).toBe(true);
    expect(after.externalSystem!.healthHistory[0]).toMatchObject({ trigger: 'MANUAL', ok: false });
  });

  it('disconnecting forgets the credentials', async () => {
    const s = await sim({ auth: { kind: 'API_KEY', key: 'k2' } });
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: input({ endpoint: s.url, authentication: { kind: 'API_KEY' } }) });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { apiKey: 'k2' } });
    const d = (await hub.ok(DisconnectDocument, { id: sys.id })).disconnectFromSystem;
    expect(d).toMatchObject({ status: 'DISCONNECTED', authentication: { hasCredentials: false } });
    const r = await hub.gql(CheckHealthDocument, { id: sys.id });
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const missing = await hub.gql(DisconnectDocument, { id: '00000000-0000-4000-8000-000000000000' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
