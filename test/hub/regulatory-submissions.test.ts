import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { SMTPServer } from 'smtp-server';
import {
  AcknowledgeSubmissionDocument,
  ApproveSubmissionDocument,
  CreateSubmissionDocument,
  RegulatoryEventsDocument,
  RejectSubmissionDocument,
  SubmissionDocument,
  SubmissionKindsDocument,
  SubmissionsDocument,
  SubmissionWithPayloadDocument,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

// Submissions to CQC by email, through a real SMTP server started here (smtp-server), which keeps what it receives.
interface Received {
  from: string;
  to: string[];
  raw: string;
}
const received: Received[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, done) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
      done();
    });
  },
});

const author = testClient('care-app', 'org-sub', 'read+write+health');
const manager = testClient('manager-app', 'org-sub', 'read+write+health');
const noHealth = testClient('rota-app', 'org-sub', 'read+write');
const other = testClient('other-app', 'org-sub-b', 'read+write+health');

let hub: TestHub;
let ws: Client;

const payload = (): Record<string, unknown> => ({
  cqcLocationId: '1-101234567',
  person: { forename: 'Edith', surname: 'Clarke', dateOfBirth: '1931-05-02', gender: 'female' },
  dateOfDeath: '2026-12-03',
  timeOfDeath: '04:20',
  placeOfDeath: 'AT_THE_SERVICE',
  expected: true,
  causeOfDeath: 'Old age',
  circumstances: 'Died peacefully in her sleep; her GP attended and confirmed the death.',
  reportedToCoroner: false,
  notifiedBy: { name: 'Grace Hopper', role: 'Registered manager', email: 'grace@sunrise.example' },
});
const create = (input: Record<string, unknown>, as = author) => hub.gqlAs(as, CreateSubmissionDocument, { input: { kind: 'CQC_DEATH_NOTIFICATION', homeId: 'oak-lodge', residentId: 'res_abcdefghijklmnop', payload: payload(), ...input } as never });

/** The attachment of a received message (nodemailer sends it base64). */
function attachment(raw: string): { filename: string; json: any } {
  const m = /filename=("?)([^"\r\n;]+)\1[\s\S]*?\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw);
  if (!m) throw new Error('no attachment in the message');
  return { filename: m[2]!, json: JSON.parse(Buffer.from(m[3]!.replace(/\s/g, ''), 'base64').toString('utf8')) };
}

beforeAll(async () => {
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const port = (smtp.server.address() as AddressInfo).port;
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(author, manager, noHealth, other),
    CQC_ENVIRONMENT: 'disabled',
    DBS_ENVIRONMENT: 'disabled',
    REGULATORY_SMTP_URL: `smtp://127.0.0.1:${port}`,
    REGULATORY_MAIL_FROM: 'notifications@sunrise.example',
    CQC_NOTIFICATION_EMAIL: 'notifications@cqc.example',
  });
  ws = createClient({ url: `${hub.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: manager.headers.authorization } });
});
afterAll(async () => {
  await ws?.dispose();
  await hub?.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});

describe('the CQC death notification', () => {
  it('is a kind kept as data, with its JSON Schema', async () => {
    const kinds = (await hub.gqlAs(author, SubmissionKindsDocument)).data!.submissionKinds;
    expect(kinds).toEqual([expect.objectContaining({ kind: 'CQC_DEATH_NOTIFICATION', version: 1, regulator: 'CQC', namesResident: true, channel: 'SMTP', schema: expect.objectContaining({ required: expect.arrayContaining(['person', 'dateOfDeath']) }) })]);
  });

  it('is refused when fields are missing, listing every one, and nothing is kept', async () => {
    const p = payload();
    delete p.dateOfDeath;
    delete p.reportedToCoroner;
    delete (p.person as Record<string, unknown>).dateOfBirth;
    const r = await create({ payload: { ...p, placeOfDeath: 'HOME' } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'payload' });
    expect((r.errors![0]!.extensions!.missing as string[]).sort()).toEqual(['dateOfDeath', 'person.dateOfBirth', 'reportedToCoroner']);
    expect(r.errors![0]!.message).toMatch(/missing .*dateOfDeath.*; placeOfDeath must be one of AT_THE_SERVICE, IN_HOSPITAL, ELSEWHERE/);
    expect((await hub.gqlAs(author, SubmissionsDocument, {})).data!.submissions).toEqual([]);
  });

  it('needs the health scope, since it names a resident', async () => {
    const r = await create({}, noHealth);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await hub.gqlAs(author, SubmissionsDocument, {})).data!.submissions).toEqual([]);
  });

  it('is approved by a second client only, sent over SMTP with the document attached, and tracked to ACKNOWLEDGED', async () => {
    const sub = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.submission.*'] });
    await new Promise((r) => setTimeout(r, 300));
    const made = await create({});
    expect(made.errors).toBeUndefined();
    const s = made.data!.createSubmission;
    expect(s).toMatchObject({ status: 'DRAFT', schemaVersion: 1, channel: 'SMTP', recipient: 'notifications@cqc.example', createdBy: 'care-app' });
    expect(Date.parse(s.deadline) - Date.now()).toBeGreaterThan(23 * 3_600_000);

    const own = await hub.gqlAs(author, ApproveSubmissionDocument, { id: s.id });
    expect(own.errors?.[0]).toMatchObject({ message: expect.stringMatching(/a second client must approve it/), extensions: { code: 'FORBIDDEN', reason: 'FOUR_EYES' } });
    expect((await hub.gqlAs(author, SubmissionDocument, { id: s.id })).data!.submission!.status).toBe('DRAFT');
    // Acknowledging what was never sent is refused.
    expect((await hub.gqlAs(manager, AcknowledgeSubmissionDocument, { id: s.id, reference: 'X' })).errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const approved = await hub.gqlAs(manager, ApproveSubmissionDocument, { id: s.id });
    expect(approved.data!.approveSubmission).toMatchObject({ status: 'APPROVED', approvedBy: 'manager-app' });
    const sent = await eventually(async () => {
      const x = (await hub.gqlAs(author, SubmissionDocument, { id: s.id })).data!.submission!;
      return x.status === 'SENT' && x;
    });
    expect(sent).toMatchObject({ deliveryRef: `<${s.id}@regulatory.care-home-hub>`, attempts: 1, lastError: null });

    expect(received).toHaveLength(1);
    const mail = received[0]!;
    expect(mail.from).toBe('notifications@sunrise.example');
    expect(mail.to).toEqual(['notifications@cqc.example']);
    const headers = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' '); // unfolded
    expect(headers).toMatch(new RegExp(`^Subject: Notification of the death of a person using the service - 1-101234567 - ref ${s.id}$`, 'm'));
    expect(headers).toMatch(new RegExp(`^Message-ID: <${s.id}@regulatory.care-home-hub>$`, 'mi'));
    expect(mail.raw).toContain(`Submission reference: ${s.id}`);
    const doc = attachment(mail.raw);
    expect(doc.filename).toBe(`CQC_DEATH_NOTIFICATION-${s.id}.json`);
    expect(doc.json).toEqual({ kind: 'CQC_DEATH_NOTIFICATION', version: 1, submissionId: s.id, organisationId: 'org-sub', homeId: 'oak-lodge', payload: payload() });

    const ack = await hub.gqlAs(manager, AcknowledgeSubmissionDocument, { id: s.id, reference: 'CQC-NOT-0042' });
    expect(ack.data!.acknowledgeSubmission).toMatchObject({ status: 'ACKNOWLEDGED', regulatorReference: 'CQC-NOT-0042', acknowledgedBy: 'manager-app' });
    const got = await sub.waitFor(4);
    sub.stop();
    expect(got.map((e) => e.events.type)).toEqual(['regulatory.submission.created', 'regulatory.submission.approved', 'regulatory.submission.sent', 'regulatory.submission.acknowledged']);
    // The events name the resident by pseudonym and carry none of the notification.
    expect(got[0]!.events.payload).toMatchObject({ submissionId: s.id, residentId: 'res_abcdefghijklmnop' });
    expect(JSON.stringify(got.map((e) => e.events.payload))).not.toMatch(/Clarke|1931/);
  });

  it('becomes OVERDUE with its event when not sent by its deadline', async () => {
    const sub = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.submission.overdue'] });
    await new Promise((r) => setTimeout(r, 300));
    const s = (await create({ deadline: new Date(Date.now() + 2000).toISOString() })).data!.createSubmission;
    const [event] = await sub.waitFor(1, 30_000);
    sub.stop();
    expect(event!.events.payload).toMatchObject({ submissionId: s.id, status: 'OVERDUE', wasApproved: false });
    const late = (await hub.gqlAs(author, SubmissionDocument, { id: s.id })).data!.submission!;
    expect(late).toMatchObject({ status: 'OVERDUE', overdueAt: expect.any(String), sentAt: null });
    // Late is still sent once approved; the regulator may then reject it.
    await hub.gqlAs(manager, ApproveSubmissionDocument, { id: s.id });
    await eventually(async () => (await hub.gqlAs(author, SubmissionDocument, { id: s.id })).data!.submission!.status === 'SENT');
    const rejected = await hub.gqlAs(manager, RejectSubmissionDocument, { id: s.id, reason: 'Duplicate of CQC-NOT-0042' });
    expect(rejected.data!.rejectSubmission).toMatchObject({ status: 'REJECTED', rejectionReason: 'Duplicate of CQC-NOT-0042' });
  });

  it('is another organisation’s business only if it is theirs, and its payload needs health', async () => {
    const [s] = (await hub.gqlAs(author, SubmissionsDocument, {})).data!.submissions;
    expect((await hub.gqlAs(other, SubmissionDocument, { id: s!.id })).data!.submission).toBeNull();
    expect((await hub.gqlAs(other, SubmissionsDocument, {})).data!.submissions).toEqual([]);
    const withoutHealth = await hub.gqlAs(noHealth, SubmissionWithPayloadDocument, { id: s!.id });
    expect(withoutHealth.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await hub.gqlAs(noHealth, SubmissionDocument, { id: s!.id })).data!.submission!.id).toBe(s!.id);
  });

  it('is served over REST too, organisation-scoped', async () => {
    const rest = async (as: typeof author, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${hub.url}/api/integration/regulatory${path}`, { method, headers: { ...as.headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: (await res.json()) as any };
    };
    const made = await rest(author, 'POST', '/submissions', { kind: 'CQC_DEATH_NOTIFICATION', homeId: 'oak-lodge', payload: payload() });
    expect(made).toMatchObject({ status: 201, body: { status: 'DRAFT', createdBy: 'care-app' } });
    expect((await rest(author, 'POST', `/submissions/${made.body.id}/approve`)).status).toBe(403);
    expect(await rest(manager, 'POST', `/submissions/${made.body.id}/approve`)).toMatchObject({ status: 200, body: { status: 'APPROVED' } });
    expect((await rest(other, 'GET', `/submissions/${made.body.id}`)).status).toBe(404);
    const missing = await rest(author, 'POST', '/submissions', { kind: 'CQC_DEATH_NOTIFICATION', homeId: 'oak-lodge', payload: { cqcLocationId: '1-101234567' } });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toMatch(/missing person, dateOfDeath, placeOfDeath, expected, circumstances, reportedToCoroner, notifiedBy/);
    expect((await rest(author, 'GET', '/profile')).body).toMatchObject({ organisationId: 'org-sub', cqcEnvironment: 'DISABLED' });
  });
});
