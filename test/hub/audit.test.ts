import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';

/**
 * The audit trail: every mutation, with the right actor and outcome, in an append-only, hash-chained log per
 * organisation that its auditors read (audit scope) and export, and that a command verifies.
 */
const A = testClient('care-a', 'org-a');
const A_READER = testClient('care-a-reader', 'org-a', 'read+write');
const B = testClient('care-b', 'org-b');
let hub: TestHub;

const ENTRIES = `query($f: AuditFilter, $first: Int, $after: String) { auditLog(filter: $f, first: $first, after: $after) {
  entries { seq at client userId action targetType targetId residentId outcome requestId details hash } endCursor } }`;

async function as<T = any>(c: TestClient, query: string, variables: Record<string, unknown> = {}, extra: Record<string, string> = {}) {
  const res = await hub.raw(JSON.stringify({ query, variables }), { ...c.headers, ...extra });
  return (await res.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}
const rows = (r: any) => (Array.isArray(r) ? r : r.rows) as any[];

beforeAll(async () => {
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(A, A_READER, B) });
});
afterAll(async () => {
  await hub?.close();
});

describe('the audit trail', () => {
  let systemId: string;

  it('records every mutation with its actor, target, outcome and request id, and nothing of its secrets', async () => {
    const created = await as(A, `mutation($i: RegisterExternalSystemInput!) { registerExternalSystem(input: $i) { id } }`, {
      i: { name: 'Audited GP', type: 'GENERIC_REST', endpoint: 'http://127.0.0.1:9', authentication: { kind: 'API_KEY' } },
    }, { 'x-request-id': 'req-audit-1' });
    systemId = created.data!.registerExternalSystem.id;
    const failed = await as(A, `mutation($id: ID!, $c: SystemCredentialsInput!) { connectToSystem(systemId: $id, credentials: $c) { connected } }`, {
      id: '0190a8f4-3c5e-7d2a-9b1e-4f6a8c2d0e11',
      c: { apiKey: 'sk-live-never-in-the-audit' },
    });
    expect(failed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const log = await as(A, ENTRIES, { f: { targetType: 'systems' } });
    expect(log.errors).toBeUndefined();
    const [register, connect] = log.data!.auditLog.entries;
    expect(register).toMatchObject({ client: 'care-a', action: 'registerExternalSystem', targetType: 'systems', targetId: systemId, outcome: 'OK', requestId: 'req-audit-1' });
    expect(connect).toMatchObject({ client: 'care-a', action: 'connectToSystem', targetId: '0190a8f4-3c5e-7d2a-9b1e-4f6a8c2d0e11', outcome: 'NOT_FOUND' });
    expect(JSON.stringify(log.data)).not.toContain('sk-live-never-in-the-audit');
    expect(connect.details.credentials).toBe('[redacted]');
    expect(Number(connect.seq)).toBe(Number(register.seq) + 1);
  });

  it('is the organisation\'s own: B sees none of A\'s rows, and reading it needs the audit scope', async () => {
    await as(B, `mutation($i: RegisterExternalSystemInput!) { registerExternalSystem(input: $i) { id } }`, {
      i: { name: 'B system', type: 'GENERIC_REST', endpoint: 'http://127.0.0.1:9', authentication: { kind: 'NONE' } },
    });
    const b = await as(B, ENTRIES, { first: 1000 });
    expect(b.data!.auditLog.entries.length).toBeGreaterThan(0);
    expect(b.data!.auditLog.entries.every((e: any) => e.client === 'care-b')).toBe(true);
    expect(JSON.stringify(b.data)).not.toContain(systemId);
    // B's chain is its own, from 1.
    expect(b.data!.auditLog.entries[0].seq).toBe('1');

    const reader = await as(A_READER, ENTRIES);
    expect(reader.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(reader.data ?? null).toBeNull();
  });

  it('pages with first and after, and refuses a bad cursor', async () => {
    const first = await as(A, ENTRIES, { first: 1 });
    expect(first.data!.auditLog.entries).toHaveLength(1);
    const next = await as(A, ENTRIES, { first: 1, after: first.data!.auditLog.endCursor });
    expect(Number(next.data!.auditLog.entries[0].seq)).toBe(Number(first.data!.auditLog.entries[0].seq) + 1);
    for (const after of ['-1', 'abc', '1e9']) expect((await as(A, ENTRIES, { after })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await as(A, ENTRIES, { first: 0 })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('exports as CSV and NDJSON, for the caller\'s organisation only', async () => {
    const csv = await fetch(`${hub.url}/api/integration/audit/export?format=csv`, { headers: A.headers });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await csv.text();
    expect(text.split('\n')[0]).toBe('seq,at,client,userId,action,targetType,targetId,residentId,outcome,requestId,details,hash');
    expect(text).toContain(systemId);

    const nd = await fetch(`${hub.url}/api/integration/audit/export?format=ndjson&action=registerExternalSystem`, { headers: A.headers });
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.action === 'registerExternalSystem' && l.client === 'care-a')).toBe(true);

    const other = await (await fetch(`${hub.url}/api/integration/audit/export?format=ndjson`, { headers: B.headers })).text();
    expect(other).not.toContain(systemId);
    expect((await fetch(`${hub.url}/api/integration/audit/export?format=xlsx`, { headers: A.headers })).status).toBe(400);
    expect((await fetch(`${hub.url}/api/integration/audit/export`, { headers: A_READER.headers })).status).toBe(403);
  });

  it('keeps rows for their retention: older ones go by a prefix of the chain, which still verifies from the first kept row', async () => {
    const before = (await as(A, '{ auditChain { ok rows } }')).data!.auditChain;
    expect(before.rows).toBeGreaterThan(2);
    // As of eight years and a day from now, every row so far is past its retention (RETENTION_AUDIT_DAYS, 2922).
    const HISTORY = '{ eventHistory(first: 1000) { events { sequence type payload } } }';
    const events = (await as(A, HISTORY)).data!.eventHistory.events;
    expect(events.find((e: any) => e.type === 'system.registered').payload).toMatchObject({ systemId });
    const touched = await hub.hub.runRetention(new Date(Date.now() + 2923 * 86_400_000));
    expect(touched['audit rows']).toBeGreaterThanOrEqual(before.rows);
    // Event payloads past theirs (730 days) are redacted, and the rows stay: the log keeps every sequence, in order.
    expect(touched['event payloads']).toBeGreaterThanOrEqual(events.length);
    expect(touched).toHaveProperty('synced records');
    const kept = (await as(A, HISTORY)).data!.eventHistory.events;
    expect(kept.map((e: any) => e.sequence)).toEqual(events.map((e: any) => e.sequence));
    expect(kept.every((e: any) => JSON.stringify(e.payload) === '{"_redacted":"retention"}')).toBe(true);
    expect((await as(A, ENTRIES)).data!.auditLog.entries.filter((e: any) => e.action !== 'auditLog' && e.action !== 'auditChain')).toEqual([]);
    await as(A, `mutation($id: ID!, $c: SystemCredentialsInput!) { connectToSystem(systemId: $id, credentials: $c) { connected } }`, { id: systemId, c: { apiKey: 'k' } });
    const after = (await as(A, '{ auditChain { ok rows brokenAt } }')).data!.auditChain;
    expect(after).toMatchObject({ ok: true, brokenAt: null });
    expect(after.rows).toBeLessThan(before.rows);
    const connects = (await as(A, ENTRIES, { f: { action: 'connectToSystem' } })).data!.auditLog.entries;
    expect(connects).toHaveLength(1);
    expect(Number(connects[0].seq)).toBeGreaterThan(before.rows);
  });

  it('cannot be changed by the application, and a row altered by hand breaks the chain, which the check and the command find', async () => {
    const db = hub.hub.runtime!.database.db;
    expect((await as(A, '{ auditChain { ok rows brokenAt } }')).data!.auditChain).toMatchObject({ ok: true, brokenAt: null });
    // drizzle wraps the database's error: its cause is the trigger's refusal.
    const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: Error & { cause?: Error }) => e.cause?.message ?? e.message);
    expect(await refusal(db.execute(sql`update audit.log set outcome = 'OK' where organisation_id = 'org-a'`))).toMatch(/append-only: UPDATE is not allowed/);
    expect(await refusal(db.execute(sql`delete from audit.log where organisation_id = 'org-a'`))).toMatch(/append-only: DELETE is not allowed/);

    // Someone with the database's owner rights turns the guard off and rewrites history.
    const [victim] = rows(await db.execute(sql`select seq from audit.log where organisation_id = 'org-a' and action = 'connectToSystem' order by seq limit 1`));
    await db.execute(sql.raw('alter table audit.log disable trigger log_append_only'));
    await db.execute(sql`update audit.log set client = 'someone-else' where organisation_id = 'org-a' and seq = ${victim.seq}`);
    await db.execute(sql.raw('alter table audit.log enable trigger log_append_only'));

    const check = (await as(A, '{ auditChain { ok rows brokenAt reason } }')).data!.auditChain;
    expect(check).toMatchObject({ ok: false, brokenAt: String(victim.seq), reason: 'its content does not match its hash' });
    // B's chain is untouched.
    expect((await as(B, '{ auditChain { ok } }')).data!.auditChain.ok).toBe(true);

    // The operator's command, on the hub's own database (PGlite belongs to one process: the hub stops first).
    await eventually(async () => (await as(A, '{ auditChain { rows } }')).data!.auditChain.rows > 0);
    await hub.hub.close();
    const env = { ...process.env, ...(hub.config.databaseUrl ? { DATABASE_URL: hub.config.databaseUrl } : { DATA_DIR: hub.config.dataDir }), LOG_LEVEL: 'silent' };
    const run = promisify(execFile);
    const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts'], { env }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(new RegExp(`✗ org-a: row ${victim.seq} breaks the chain`));
    expect(failed.stdout).toMatch(/✓ org-b: \d+ rows, the chain holds/);
    const good = await run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', '--organisation', 'org-b'], { env });
    expect(good.stdout).toMatch(/✓ org-b/);
  });
});
