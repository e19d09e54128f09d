import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { ConnectDocument, CreateIntegrationDocument, IntegrationDocument, RegisterSystemDocument, SyncDataDocument, SyncRunDocument, SystemDocument, SystemsDocument } from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;
const PASSWORD = 'Pa55-very-secret-7f3c9a';
const CLIENT_SECRET = 'client-secret-91b2e4d7';

beforeAll(async () => {
  hub = await startTestHub();
  sim = await startGenericRestSimulator({ auth: { kind: 'BASIC', username: 'care', password: PASSWORD } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

const finished = (id: string) =>
  eventually(async () => {
    const { syncRun } = await hub.ok(SyncRunDocument, { id });
    return syncRun && ['SUCCEEDED', 'FAILED'].includes(syncRun.status) ? syncRun : undefined;
  });

/** Every row of every table the hub owns (and the job queue's), as text. */
async function everyStoredRow(): Promise<string> {
  const db = hub.hub.runtime!.database.db;
  const tables = ['systems.external_systems', 'systems.credentials', 'systems.health_checks', 'integrations.integrations', 'integrations.sync_runs', 'integrations.sync_logs', 'pgboss.job'];
  let text = '';
  for (const t of tables) {
    const r = (await db.execute(sql.raw(`select to_jsonb(x)::text as row from ${t} x`))) as unknown as { rows?: Array<{ row: string }> } & Array<{ row: string }>;
    const rows = r.rows ?? r;
    if (t.startsWith('systems.')) expect(rows.length, t).toBeGreaterThanOrEqual(1);
    text += rows.map((x) => x.row).join('\n');
  }
  return text;
}

describe('credentials are write-only and sealed', () => {
  it('no response and no stored row holds a credential in clear', async () => {
    const responses: unknown[] = [];
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'sealed', type: 'BANK', endpoint: sim.url, authentication: { kind: 'BASIC' } },
    });
    // A failed handshake (wrong password) and a good one, both carrying secrets in the request.
    responses.push(await hub.gql(ConnectDocument, { id: sys.id, credentials: { username: 'care', password: CLIENT_SECRET, clientSecret: CLIENT_SECRET } }));
    responses.push(await hub.gql(ConnectDocument, { id: sys.id, credentials: { username: 'care', password: PASSWORD } }));
    responses.push(await hub.rest('POST', `/api/integration/systems/${sys.id}/connect`, { username: 'care', password: PASSWORD }));
    responses.push(await hub.rest('GET', `/api/integration/systems/${sys.id}`));
    responses.push(await hub.gql(SystemDocument, { id: sys.id }));
    responses.push(await hub.gql(SystemsDocument, {}));
    const all = JSON.stringify(responses);
    expect(all).toContain('"connected":true');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(CLIENT_SECRET);
    expect(all).not.toContain(Buffer.from(`care:${PASSWORD}`).toString('base64'));

    const stored = await everyStoredRow();
    expect(stored).toMatch(/v1\.test\./); // the sealed form, under the configured key
    expect(stored).not.toContain(PASSWORD);
    expect(stored).not.toContain(CLIENT_SECRET);
    expect(stored).not.toContain(Buffer.from(`care:${PASSWORD}`).toString('base64'));
  });
});

describe('nothing is lost across a restart', () => {
  it('finds every system, credential, integration, run and record again, and syncs with the stored credentials', async () => {
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'durable', type: 'LOCAL_AUTHORITY', endpoint: sim.url, authentication: { kind: 'BASIC' }, configuration: { ward: 7 } },
    });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { username: 'care', password: PASSWORD } });
    const { createIntegration: i } = await hub.ok(CreateIntegrationDocument, { input: { externalSystemId: sys.id, name: 'durable residents', resource: { path: '/residents', pageSize: 200 } } });
    const run = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
    expect(run.status).toBe('SUCCEEDED');
    const before = await hub.ok(IntegrationDocument, { id: i.id, first: 500 });
    const systemBefore = await hub.ok(SystemDocument, { id: sys.id });

    await hub.restart();

    const systemAfter = await hub.ok(SystemDocument, { id: sys.id });
    expect(systemAfter).toEqual(systemBefore);
    const after = await hub.ok(IntegrationDocument, { id: i.id, first: 500 });
    expect(after).toEqual(before);
    expect(after.integration!.records.totalCount).toBe(237);

    // The credentials sealed before the restart still open: a new sync authenticates with them.
    const again = await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id);
    expect(again).toMatchObject({ status: 'SUCCEEDED', recordsStored: 237 });
  });
});

describe('vault key rotation', () => {
  it('opens credentials sealed under an old key, and re-seals them under the new one', async () => {
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'rotating', type: 'INSURER', endpoint: sim.url, authentication: { kind: 'BASIC' } },
    });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: { username: 'care', password: PASSWORD } });
    const sealedUnder = async () => {
      const r = (await hub.hub.runtime!.database.db.execute(sql.raw(`select key_id from systems.credentials where system_id = '${sys.id}'`))) as unknown as { rows?: Array<{ key_id: string }> } & Array<{ key_id: string }>;
      return (r.rows ?? r)[0]!.key_id;
    };
    expect(await sealedUnder()).toBe('test');

    const oldKeys = hub.config.vaultKeys!;
    await hub.restart({ VAULT_KEYS: `next:${randomBytes(32).toString('base64')},${oldKeys}` });
    const { createIntegration: i } = await hub.ok(CreateIntegrationDocument, { input: { externalSystemId: sys.id, name: 'rotating residents', resource: { path: '/residents', pageSize: 200 } } });
    expect((await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id)).status).toBe('SUCCEEDED');

    const systems = hub.hub.subgraphs.find((s) => s.name === 'systems') as unknown as { service: { rotateCredentials(): Promise<number> } };
    expect(await systems.service.rotateCredentials()).toBeGreaterThanOrEqual(1);
    expect(await sealedUnder()).toBe('next');
    expect(await systems.service.rotateCredentials()).toBe(0);

    // Without the old key at all, the re-sealed credentials still open.
    await hub.restart({ VAULT_KEYS: hub.hub.runtime!.config.vaultKeys!.split(',')[0]! });
    expect((await finished((await hub.ok(SyncDataDocument, { id: i.id })).syncData.id)).status).toBe('SUCCEEDED');
  });
});
