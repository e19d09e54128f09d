import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startDbsSimulator, type DbsSimulator } from '@hub/simulators';
import {
  AddStaffMemberDocument,
  CheckDbsStatusDocument,
  RecordDbsConsentDocument,
  RegulatoryEventsDocument,
  StaffMemberDocument,
  StaffMembersDocument,
  UpdateRegulatoryProfileDocument,
  WithdrawDbsConsentDocument,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

// The hub against the DBS Update Service simulator (started here, so the test sees every call it receives), its
// scheduled status checks running every second. Certificates starting 2 answer BLANK_NO_NEW_INFO, 4 NEW_INFO,
// 1 NO_MATCH_FOUND (the guide's rule).
const a = testClient('dbs-a', 'org-dbs-a', 'read+write');
const b = testClient('dbs-b', 'org-dbs-b', 'read+write');
const limited = testClient('dbs-home', 'org-dbs-a', 'read+write', ['dbs-elm']);

let sim: DbsSimulator;
let hub: TestHub;
let ws: Client;

const add = async (over: Record<string, unknown> = {}) => {
  const r = await hub.gqlAs(a, AddStaffMemberDocument, { input: { homeId: 'dbs-oak', forename: 'Ada', surname: 'Lovelace', dateOfBirth: '1990-03-07', dbsCertificateNumber: '200000000001', ...over } });
  expect(r.errors).toBeUndefined();
  return r.data!.addStaffMember;
};
const callsFor = (certificate: string) => sim.stats().calls.filter((c) => c.certificateNumber === certificate);

beforeAll(async () => {
  sim = await startDbsSimulator();
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(a, b, limited),
    CQC_ENVIRONMENT: 'disabled',
    DBS_ENVIRONMENT: 'simulated',
    DBS_BASE_URL: sim.url,
    DBS_SCHEDULE_SECONDS: '1',
    DBS_RATE_LIMIT_PER_SECOND: '5',
  });
  ws = createClient({ url: `${hub.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: a.headers.authorization } });
});
afterAll(async () => {
  await ws?.dispose();
  await hub?.close();
  await sim?.close();
});

describe('staff members', () => {
  it('refuses bad details with a clear error and keeps nothing', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ dbsCertificateNumber: '12345' }, /dbsCertificateNumber must be the 12 digits/],
      [{ dateOfBirth: '1990-02-30' }, /dateOfBirth must be a date written YYYY-MM-DD/],
      [{ dateOfBirth: '2990-01-01' }, /dateOfBirth must not be in the future/],
      [{ surname: '  ' }, /surname must be 1 to 100 characters/],
    ];
    for (const [over, message] of cases) {
      const r = await hub.gqlAs(a, AddStaffMemberDocument, { input: { homeId: 'dbs-oak', forename: 'Ada', surname: 'Lovelace', dateOfBirth: '1990-03-07', ...over } as never });
      expect(r.errors?.[0], JSON.stringify(over)).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
    }
    expect((await hub.gqlAs(a, StaffMembersDocument, {})).data!.staffMembers).toEqual([]);
  });
});

describe('DBS Update Service status checks', () => {
  it('refuses a check for a staff member without consent before any call', async () => {
    await hub.gqlAs(a, UpdateRegulatoryProfileDocument, { input: { organisationName: 'Sunrise Care Group', dbsContact: { forename: 'Grace', surname: 'Hopper' } } });
    const s = await add({ dbsCertificateNumber: '200000000099' });
    const r = await hub.gqlAs(a, CheckDbsStatusDocument, { id: s.id });
    expect(r.errors?.[0]).toMatchObject({ message: expect.stringMatching(/has not consented/), extensions: { code: 'FORBIDDEN', reason: 'NO_CONSENT' } });
    // Consent given and then withdrawn: refused again.
    await hub.gqlAs(a, RecordDbsConsentDocument, { id: s.id });
    await hub.gqlAs(a, WithdrawDbsConsentDocument, { id: s.id });
    expect((await hub.gqlAs(a, CheckDbsStatusDocument, { id: s.id })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // A consented member's scheduled check has run since (so the schedule has had its chance with this one too).
    const other = await add({ dbsCertificateNumber: '300000000002' });
    await hub.gqlAs(a, RecordDbsConsentDocument, { id: other.id });
    await eventually(async () => callsFor('300000000002').length > 0);
    expect(callsFor('200000000099')).toEqual([]);
    expect((await hub.gqlAs(a, StaffMemberDocument, { id: s.id })).data!.staffMember!.dbsChecks).toEqual([]);
  });

  it('checks a consented certificate with the guide parameters, keeps the result, and schedules the next', async () => {
    const s = await add();
    const consented = (await hub.gqlAs(a, RecordDbsConsentDocument, { id: s.id })).data!.recordDbsConsent;
    expect(consented).toMatchObject({ dbsConsentRecordedBy: 'dbs-a', nextDbsCheckAt: expect.any(String) });
    const r = await hub.gqlAs(a, CheckDbsStatusDocument, { id: s.id });
    expect(r.errors).toBeUndefined();
    expect(r.data!.checkDbsStatus).toMatchObject({ status: 'BLANK_NO_NEW_INFO', certificateNumber: '200000000001', requestedBy: 'dbs-a', httpStatus: 200, printDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    const call = callsFor('200000000001').at(-1)!;
    expect(call.query).toEqual({
      dateOfBirth: '07/03/1990',
      surname: 'Lovelace',
      hasAgreedTermsAndConditions: 'true',
      organisationName: 'Sunrise Care Group',
      employeeSurname: 'Hopper',
      employeeForename: 'Grace',
    });
    const member = (await hub.gqlAs(a, StaffMemberDocument, { id: s.id })).data!.staffMember!;
    expect(member.latestDbsCheck).toMatchObject({ status: 'BLANK_NO_NEW_INFO', certificateNumber: '200000000001' });
    // Clear: the next scheduled check is a recheck period away (30 days by default).
    expect(Date.parse(member.nextDbsCheckAt!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('makes NEW_INFO from the schedule an event, and stops checking that certificate', async () => {
    const sub = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.dbs.new_info'] });
    await new Promise((r) => setTimeout(r, 300));
    const s = await add({ forename: 'Alan', surname: 'Turing', dbsCertificateNumber: '400000000004' });
    await hub.gqlAs(a, RecordDbsConsentDocument, { id: s.id });
    const [event] = await sub.waitFor(1);
    sub.stop();
    expect(event!.events).toMatchObject({ type: 'regulatory.dbs.new_info', source: 'hub.regulatory', homeId: 'dbs-oak', payload: { staffMemberId: s.id, requestedBy: 'SCHEDULE' } });
    // The event names the member by id only.
    expect(JSON.stringify(event!.events.payload)).not.toMatch(/Turing|400000000004|1990/);
    const member = (await hub.gqlAs(a, StaffMemberDocument, { id: s.id })).data!.staffMember!;
    expect(member.dbsChecks.map((c) => [c.status, c.requestedBy])).toEqual([['NEW_INFO', 'SCHEDULE']]);
    expect(member.nextDbsCheckAt).toBeNull();
    expect(callsFor('400000000004')).toHaveLength(1);
  });

  it('keeps what the service refused or failed as an ERROR check', async () => {
    sim.setStatus('200000000123', 'NO_MATCH_FOUND');
    const nomatch = await add({ dbsCertificateNumber: '200000000123' });
    await hub.gqlAs(a, RecordDbsConsentDocument, { id: nomatch.id });
    await eventually(async () => (await hub.gqlAs(a, StaffMemberDocument, { id: nomatch.id })).data!.staffMember!.latestDbsCheck);
    expect((await hub.gqlAs(a, StaffMemberDocument, { id: nomatch.id })).data!.staffMember!.latestDbsCheck!.status).toBe('NO_MATCH_FOUND');

    const broken = await add({ dbsCertificateNumber: '500000000005' }); // the guide: a 400 for a first digit it does not know
    await hub.gqlAs(a, RecordDbsConsentDocument, { id: broken.id });
    const r = await hub.gqlAs(a, CheckDbsStatusDocument, { id: broken.id });
    expect(r.data!.checkDbsStatus).toMatchObject({ status: 'ERROR', httpStatus: 400, error: expect.stringMatching(/HTTP 400/) });
  });

  it('keeps one organisation’s staff and checks from another, and a home-limited client to its homes', async () => {
    const s = await add({ homeId: 'dbs-oak', forename: 'Oak', surname: 'Only' });
    expect((await hub.gqlAs(b, StaffMemberDocument, { id: s.id })).data!.staffMember).toBeNull();
    expect((await hub.gqlAs(b, CheckDbsStatusDocument, { id: s.id })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await hub.gqlAs(b, StaffMembersDocument, {})).data!.staffMembers).toEqual([]);
    expect((await hub.gqlAs(limited, StaffMemberDocument, { id: s.id })).data!.staffMember).toBeNull();
    const forbidden = await hub.gqlAs(limited, AddStaffMemberDocument, { input: { homeId: 'dbs-oak', forename: 'X', surname: 'Y', dateOfBirth: '1980-01-01' } });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
