import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBGRAPH_NAMES } from '@hub/runtime';
import { syntheticNhsNumbers, type NhsSimulator } from '@hub/simulators';
import {
  AdmitResidentDocument,
  AuditChainDocument,
  AuditLogDocument,
  CreateHomeDocument,
  DischargeResidentDocument,
  DischargeSummaryDocument,
  EraseResidentDocument,
  EventsWithResidentDocument,
  NhsAuditLogDocument,
  PublishEventDocument,
  ResidentDocument,
  SendDischargeSummaryDocument,
  SubjectAccessDocument,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type GraphQLResult, type TestHub } from '../support/hub.ts';
import { freePort } from '../support/net.ts';
import { startNhsFixture } from '../support/nhs.ts';

/**
 * GDPR: a resident's subject-access bundle (everything the hub holds about them for one organisation, from every
 * subgraph), and erasure of their personal data that keeps the event log's sequence whole.
 */

const HUB_MAILBOX = 'HUBGDPR01';
const GP_MAILBOX = 'GPGDPR001';
const SYNTHETIC = syntheticNhsNumbers(6);

const a = testClient('gdpr-a', 'org-a');
const aCarer = testClient('gdpr-a-carer', 'org-a', 'read+write+health');
const aOak = testClient('gdpr-a-oak', 'org-a', 'read+write+health+audit', ['a-oak']);
const aReader = testClient('gdpr-a-reader', 'org-a', 'read');
const b = testClient('gdpr-b', 'org-b');

let sim: NhsSimulator;
let hub: TestHub;
let nhsEnv: Record<string, string>;
const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const code = (r: GraphQLResult<unknown>) => r.errors?.[0]?.extensions?.code;

async function ok<T>(r: Promise<GraphQLResult<T>>): Promise<T> {
  const res = await r;
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data!;
}

/** A REST call as a client app. */
async function restAs(c: typeof a, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.url}${path}`, { method: 'POST', headers: { ...c.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** Every event of organisation A (as its all-scopes client sees them), oldest first. */
async function historyOfA() {
  return (await ok(hub.gqlAs(a, EventsWithResidentDocument, { first: 500 }))).eventHistory.events;
}

beforeAll(async () => {
  ({ sim, env: nhsEnv } = await startNhsFixture({ hubMailbox: HUB_MAILBOX, gpMailbox: GP_MAILBOX, syntheticPatients: SYNTHETIC.length }));
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(a, aCarer, aOak, aReader, b),
    ...nhsEnv,
  });
  await ok(hub.gqlAs(a, CreateHomeDocument, { input: { id: 'a-oak', name: 'Oak Lodge' } }));
  await ok(hub.gqlAs(b, CreateHomeDocument, { input: { id: 'b-oak', name: 'Oak Lodge' } }));
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
});

describe('subject access and erasure', () => {
  const nhs = SYNTHETIC[0]!;
  let residentId: string;
  let admissionId: string;
  let family: string;
  let dischargeId: string;
  let bundleBefore: Awaited<ReturnType<typeof bundle>>;
  const bundle = async () => (await ok(hub.gqlAs(a, SubjectAccessDocument, { nhsNumber: nhs }))).subjectAccess;

  beforeAll(async () => {
    const { admitResident } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: nhs, admittedOn: day(5) } }));
    residentId = admitResident.residentId;
    admissionId = admitResident.id;
    // B looks after the same person too, under its own pseudonym: A's erasure must leave B's records alone.
    await ok(hub.gqlAs(b, AdmitResidentDocument, { input: { homeId: 'b-oak', nhsNumber: nhs, admittedOn: day(2) } }));
    const { resident } = await ok(hub.gqlAs(a, ResidentDocument, { nhsNumber: nhs }));
    family = resident.demographics!.name!.family!;
    expect(family.length).toBeGreaterThan(1);
    const { sendDischargeSummary } = await ok(
      hub.gqlAs(a, SendDischargeSummaryDocument, {
        input: { nhsNumber: nhs, recipientMailbox: GP_MAILBOX, dischargedAt: new Date().toISOString(), dischargingFrom: 'Oak Lodge', summary: `Mr ${family} settled well.` },
      }),
    );
    dischargeId = sendDischargeSummary.id;
    // A client's own events: one tagged with the pseudonym, one naming the NHS number in its payload only.
    await ok(hub.gqlAs(a, PublishEventDocument, { input: { type: 'carenotes.visit.recorded', source: 'carenotes-app', payload: { note: `${family} had visitors` }, residentId } }));
    await ok(hub.gqlAs(a, PublishEventDocument, { input: { type: 'carenotes.weight.recorded', source: 'carenotes-app', payload: { patient: nhs, kg: 71.5 }, metadata: { nhs } } }));
    await ok(hub.gqlAs(b, PublishEventDocument, { input: { type: 'carenotes.weight.recorded', source: 'b-app', payload: { patient: nhs, kg: 70 } } }));
    // The hub's own events (care.* and nhs.*) arrive through the outboxes.
    await eventually(async () => {
      const types = (await historyOfA()).filter((e) => e.residentId === residentId).map((e) => e.type);
      return types.includes('care.resident.admitted') && types.some((t) => t.startsWith('nhs.')) ? types : undefined;
    });
  });

  it("holds the resident's stays, events, audit rows, discharge summaries and NHS calls, as one JSON bundle over REST too", async () => {
    const s = await bundle();
    bundleBefore = s;
    expect(s).toMatchObject({ residentId, nhsNumber: nhs, organisationId: 'org-a' });
    expect(s.stays.map((x) => x.id)).toEqual([admissionId]);
    const types = s.events.events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['care.resident.admitted', 'carenotes.visit.recorded', 'carenotes.weight.recorded']));
    expect(types.some((t) => t.startsWith('nhs.'))).toBe(true);
    // Only A's: B's event naming the same NHS number is not in A's bundle.
    expect(s.events.events.every((e) => (e.payload as { kg?: number }).kg !== 70)).toBe(true);
    const actions = s.auditEntries.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['admitResident', 'sendDischargeSummary']));
    expect(actions.some((x) => x.startsWith('read '))).toBe(true);
    expect(s.auditEntries.entries.every((e) => e.residentId === residentId)).toBe(true);
    expect(s.dischargeSummaries.map((d) => d.id)).toEqual([dischargeId]);
    expect(JSON.stringify(s.dischargeSummaries[0]!.document)).toContain(family);
    expect(s.nhsCalls.length).toBeGreaterThan(0);
    expect(s.nhsCalls.every((c) => c.nhsNumber === nhs)).toBe(true);

    // The same bundle, as a file a data-protection officer hands over: POST with the resident in the body, never the URL.
    const rest = await restAs(a, '/api/integration/subject-access', { residentId });
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body).toMatchObject({ residentId, nhsNumber: nhs, stays: [{ id: admissionId, home: { id: 'a-oak', name: 'Oak Lodge' } }] });
    expect(rest.body.events.events.length).toBe(s.events.events.length);
    expect(rest.body.dischargeSummaries[0].document).toEqual(s.dischargeSummaries[0]!.document);
    // Reading the bundle is itself audited.
    const audited = await ok(hub.gqlAs(a, AuditLogDocument, { filter: { action: 'read Query.subjectAccess' }, first: 100 }));
    expect(audited.auditLog.entries.length).toBeGreaterThan(0);
  });

  it("names the NHS number behind an event's pseudonym only for a health client", async () => {
    const events = await historyOfA();
    const admitted = events.find((e) => e.type === 'care.resident.admitted' && e.residentId === residentId)!;
    expect(admitted.residentNhsNumber).toBe(nhs);
    expect(JSON.stringify(admitted.payload)).not.toContain(nhs);
    const asReader = await hub.gqlAs(aReader, EventsWithResidentDocument, { filter: { types: ["care.*"] }, first: 500 });
    expect(asReader.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
  });

  it('refuses subject access and erasure to the wrong callers and bad requests, and changes nothing', async () => {
    // Another organisation never admitted them under this pseudonym, and has its own for the same person.
    expect(code(await hub.gqlAs(b, SubjectAccessDocument, { residentId }))).toBe('NOT_FOUND');
    expect(code(await hub.gqlAs(b, EraseResidentDocument, { residentId, reason: 'not ours' }))).toBe('NOT_FOUND');
    // Without the audit scope; limited to one home; without health.
    for (const c of [aCarer, aOak, aReader]) {
      expect(code(await hub.gqlAs(c, SubjectAccessDocument, { nhsNumber: nhs }))).toBe('FORBIDDEN');
      expect(code(await hub.gqlAs(c, EraseResidentDocument, { nhsNumber: nhs, reason: 'asked by the resident' }))).toBe('FORBIDDEN');
    }
    for (const vars of [{}, { nhsNumber: nhs, residentId }, { nhsNumber: '1234567890' }, { residentId: 'not-a-pseudonym' }]) {
      expect(code(await hub.gqlAs(a, SubjectAccessDocument, vars))).toBe('BAD_USER_INPUT');
    }
    expect(code(await hub.gqlAs(a, EraseResidentDocument, { nhsNumber: nhs, reason: ' ' }))).toBe('BAD_USER_INPUT');
    expect((await restAs(a, '/api/integration/subject-access', { nhsNumber: '123' })).status).toBe(400);
    expect((await restAs(aCarer, '/api/integration/subject-access', { nhsNumber: nhs })).status).toBe(403);
    // Still staying at Oak Lodge: erasure waits for the discharge.
    const staying = await hub.gqlAs(a, EraseResidentDocument, { nhsNumber: nhs, reason: 'asked by the resident' });
    expect(staying.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', residentId });
    const after = await bundle();
    expect(after.events.events.map((e) => [e.sequence, e.payload])).toEqual(bundleBefore.events.events.map((e) => [e.sequence, e.payload]));
    expect(after.dischargeSummaries.length).toBe(1);
  });

  it("erases their personal data: the log keeps every sequence, and nothing of theirs is left but the pseudonym", async () => {
    const sequencesBefore = (await historyOfA()).map((e) => e.sequence);
    await ok(hub.gqlAs(a, DischargeResidentDocument, { admissionId, dischargedOn: day(0) }));
    const { eraseResident } = await ok(hub.gqlAs(a, EraseResidentDocument, { nhsNumber: nhs, reason: "resident's request of today, ref 4411" }));
    expect(eraseResident.residentId).toBe(residentId);
    const records = Object.fromEntries(eraseResident.records.map((r) => [r.kind, r.count]));
    expect(records.events).toBe(bundleBefore.events.events.length + 1); // and the discharge's event
    expect(records).toMatchObject({ dischargeSummaries: 1, stays: 1 });
    expect(records.nhsCalls).toBeGreaterThan(0);

    // Wait for the erasure's own event, the sentinel after which every earlier change is in the log.
    const after = await eventually(async () => {
      const h = await historyOfA();
      return h.some((e) => e.type === 'care.resident.erased') ? h : undefined;
    });
    const erased = after.find((e) => e.type === 'care.resident.erased')!;
    expect(erased.payload).toMatchObject({ residentId, erasedBy: 'gdpr-a' });
    // Gap-free: every sequence A saw before is still there, in order; the new ones come after.
    const sequences = after.map((e) => e.sequence);
    expect(sequences.slice(0, sequencesBefore.length)).toEqual(sequencesBefore);
    for (const e of after.filter((x) => bundleBefore.events.events.some((y) => y.id === x.id))) {
      expect(e.payload).toEqual({ _redacted: 'erasure' });
      expect(e.residentNhsNumber).toBeNull();
    }
    // No NHS number and no name of theirs in anything A can read.
    const everything = JSON.stringify(after);
    expect(everything).not.toContain(nhs);
    expect(everything).not.toContain(family);
    expect((await ok(hub.gqlAs(a, DischargeSummaryDocument, { id: dischargeId }))).dischargeSummary).toBeNull();
    expect((await ok(hub.gqlAs(a, NhsAuditLogDocument, { nhsNumber: nhs, first: 50 }))).nhsAuditLog).toEqual([]);
    const calls = (await ok(hub.gqlAs(a, NhsAuditLogDocument, { first: 500 }))).nhsAuditLog;
    expect(JSON.stringify(calls)).not.toContain(nhs);
    expect(calls.length).toBeGreaterThan(0);
    // The audit trail keeps who did what, by pseudonym, and its chain still holds.
    const audit = await ok(hub.gqlAs(a, AuditLogDocument, { filter: { residentId }, first: 1000 }));
    expect(audit.auditLog.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['admitResident', 'eraseResident']));
    expect(JSON.stringify(audit)).not.toContain(nhs);
    expect((await ok(hub.gqlAs(a, AuditChainDocument, {}))).auditChain.ok).toBe(true);
    // The pseudonym no longer leads anywhere: a second erasure or a bundle finds no one.
    expect(code(await hub.gqlAs(a, SubjectAccessDocument, { residentId }))).toBe('NOT_FOUND');
    expect(code(await hub.gqlAs(a, EraseResidentDocument, { residentId, reason: 'again' }))).toBe('NOT_FOUND');

    // B's records of the same person are untouched.
    const theirs = (await ok(hub.gqlAs(b, SubjectAccessDocument, { nhsNumber: nhs }))).subjectAccess;
    expect(theirs.stays.length).toBe(1);
    expect(theirs.events.events.some((e) => (e.payload as { kg?: number }).kg === 70)).toBe(true);
  });
});

describe('erasure when the events and nhs subgraphs run in processes of their own', () => {
  it('reaches them over signed HTTP, as the caller, and leaves nothing of the resident in either', async () => {
    const nhs = SYNTHETIC[1]!;
    const port = await freePort();
    const events = await startTestHub({ ROLE: 'events' });
    const nhsProcess = await startTestHub({ ROLE: 'nhs', SUBGRAPH_CARE_URL: `http://127.0.0.1:${port}/graphql`, SUBGRAPH_EVENTS_URL: `${events.url}/graphql`, ...nhsEnv });
    const gateway = await startTestHub({
      PORT: String(port),
      ROLE: ['gateway', ...SUBGRAPH_NAMES.filter((n) => n !== 'events' && n !== 'nhs')].join(','),
      SUBGRAPH_EVENTS_URL: `${events.url}/graphql`,
      SUBGRAPH_NHS_URL: `${nhsProcess.url}/graphql`,
      AUTH_API_KEYS: apiKeys(a),
    });
    try {
      await ok(gateway.gqlAs(a, CreateHomeDocument, { input: { id: 'split-oak', name: 'Split Oak' } }));
      const { admitResident } = await ok(gateway.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'split-oak', nhsNumber: nhs, admittedOn: day(3) } }));
      await ok(gateway.gqlAs(a, ResidentDocument, { nhsNumber: nhs }));
      await ok(gateway.gqlAs(a, PublishEventDocument, { input: { type: 'carenotes.weight.recorded', source: 'carenotes-app', payload: { patient: nhs, kg: 64 } } }));
      const mine = async () => (await ok(gateway.gqlAs(a, EventsWithResidentDocument, { first: 500 }))).eventHistory.events;
      await eventually(async () => ((await mine()).some((e) => e.type === 'care.resident.admitted') ? true : undefined));
      expect((await ok(gateway.gqlAs(a, NhsAuditLogDocument, { nhsNumber: nhs, first: 50 }))).nhsAuditLog.length).toBeGreaterThan(0);

      await ok(gateway.gqlAs(a, DischargeResidentDocument, { admissionId: admitResident.id, dischargedOn: day(0) }));
      const { eraseResident } = await ok(gateway.gqlAs(a, EraseResidentDocument, { nhsNumber: nhs, reason: 'split-process erasure' }));
      const records = Object.fromEntries(eraseResident.records.map((r) => [r.kind, r.count]));
      expect(records.events).toBeGreaterThanOrEqual(2);
      expect(records.nhsCalls).toBeGreaterThan(0);
      const after = await eventually(async () => {
        const h = await mine();
        return h.some((e) => e.type === 'care.resident.erased') ? h : undefined;
      });
      expect(JSON.stringify(after)).not.toContain(nhs);
      expect((await ok(gateway.gqlAs(a, NhsAuditLogDocument, { nhsNumber: nhs, first: 50 }))).nhsAuditLog).toEqual([]);
    } finally {
      await gateway.close();
      await nhsProcess.close();
      await events.close();
    }
  });
});
