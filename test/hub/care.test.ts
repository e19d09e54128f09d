import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBGRAPH_NAMES } from '@hub/runtime';
import { syntheticNhsNumbers, type NhsSimulator } from '@hub/simulators';
import {
  AdmissionDocument,
  AdmissionsDocument,
  AdmitResidentDocument,
  CareStatusDocument,
  CreateHomeDocument,
  DischargeResidentDocument,
  HistoryDocument,
  HomeDocument,
  HomesDocument,
  DischargeSummaryDocument,
  NhsAuditLogDocument,
  RefreshDischargeSummaryDocument,
  OrganisationDocument,
  ResidentClinicalDocument,
  ResidentDocument,
  ResidentsInCareDocument,
  SearchMatchRecordsDocument,
  SearchResidentsDocument,
  SendDischargeSummaryDocument,
  UpdateDemographicsDocument,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type GraphQLResult, type TestHub } from '../support/hub.ts';
import { startNhsFixture } from '../support/nhs.ts';

/**
 * Organisations, their homes and the residents each home admits; and the rule the NHS connector keeps because of
 * them: NHS records only for residents in the caller's care, refused before any call to the NHS.
 */

const HUB_MAILBOX = 'HUBCARE01';
const GP_MAILBOX = 'GPCARE001';
const SYNTHETIC = syntheticNhsNumbers(12);
const PURPOSE = 'admission of a new resident';

const a = testClient('care-a', 'org-a');
const aOak = testClient('care-a-oak', 'org-a', 'read+write+health', ['a-oak']);
const aReader = testClient('reader-a', 'org-a', 'read');
const b = testClient('care-b', 'org-b');
const demo = testClient('demo-app', 'default');

let sim: NhsSimulator;
let hub: TestHub;
let nhsEnv: Record<string, string>;
let next = 0;
const fresh = () => SYNTHETIC[next++]!;
/** A date n days before today, as the API writes dates. */
const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const code = (r: GraphQLResult<unknown>) => r.errors?.[0]?.extensions?.code;
/** Requests the NHS simulator received (its control routes are not counted). */
const nhsCalls = () => sim.stats().requests;

async function ok<T>(r: Promise<GraphQLResult<T>>): Promise<T> {
  const res = await r;
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data!;
}

beforeAll(async () => {
  ({ sim, env: nhsEnv } = await startNhsFixture({ hubMailbox: HUB_MAILBOX, gpMailbox: GP_MAILBOX, syntheticPatients: SYNTHETIC.length }));
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(a, aOak, aReader, b, demo),
    ...nhsEnv,
  });
  // Organisation A has two homes (the home-limited client acts for Oak Lodge only); B has one, with the same name.
  await ok(hub.gqlAs(a, CreateHomeDocument, { input: { id: 'a-oak', name: 'Oak Lodge', cqcLocationId: '1-111111111', odsCode: 'vaa01' } }));
  await ok(hub.gqlAs(a, CreateHomeDocument, { input: { id: 'a-elm', name: 'Elm House' } }));
  await ok(hub.gqlAs(b, CreateHomeDocument, { input: { id: 'b-oak', name: 'Oak Lodge' } }));
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
});

describe('organisations and homes', () => {
  it("lists the caller's organisation and homes only; another organisation's home is not found", async () => {
    const { organisation } = await ok(hub.gqlAs(a, OrganisationDocument, {}));
    expect(organisation).toMatchObject({ id: 'org-a', name: 'org-a' });
    expect(organisation.homes.map((h) => h.id)).toEqual(['a-elm', 'a-oak']);
    expect(organisation.homes[1]).toMatchObject({ name: 'Oak Lodge', cqcLocationId: '1-111111111', odsCode: 'VAA01' });
    expect((await ok(hub.gqlAs(b, HomesDocument, {}))).homes.map((h) => h.id)).toEqual(['b-oak']);
    expect((await ok(hub.gqlAs(aOak, HomesDocument, {}))).homes.map((h) => h.id)).toEqual(['a-oak']);

    expect((await ok(hub.gqlAs(b, HomeDocument, { id: 'a-oak' }))).home).toBeNull();
    expect((await ok(hub.gqlAs(b, HomeDocument, { id: 'no-such-home' }))).home).toBeNull();
    expect((await ok(hub.gqlAs(a, HomeDocument, { id: 'a-oak' }))).home?.name).toBe('Oak Lodge');
    expect((await ok(hub.gqlAs(aOak, HomeDocument, { id: 'a-elm' }))).home).toBeNull();
    for (const homeId of ['a-oak', 'no-such-home']) expect(code(await hub.gqlAs(b, ResidentsInCareDocument, { homeId }))).toBe('NOT_FOUND');
  });

  it('refuses bad homes, a taken id, and a home a limited client may not act for', async () => {
    for (const [input, field] of [
      [{ id: 'Not An Id', name: 'x' }, 'id'],
      [{ id: 'b-x', name: '  ' }, 'name'],
      [{ id: 'b-x', name: 'x', cqcLocationId: '123' }, 'cqcLocationId'],
      [{ id: 'b-x', name: 'x', odsCode: 'not ods!' }, 'odsCode'],
    ] as const) {
      const r = await hub.gqlAs(b, CreateHomeDocument, { input });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    // Home ids are global (API keys name them): B cannot take A's, and A's home is unchanged.
    expect(code(await hub.gqlAs(b, CreateHomeDocument, { input: { id: 'a-oak', name: 'Mine now' } }))).toBe('CONFLICT');
    expect((await ok(hub.gqlAs(a, HomeDocument, { id: 'a-oak' }))).home?.name).toBe('Oak Lodge');
    const limited = await hub.gqlAs(aOak, CreateHomeDocument, { input: { id: 'a-new', name: 'New' } });
    expect(limited.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(limited.errors?.[0]?.message).toMatch(/limited to homes a-oak/);
  });
});

describe('admissions', () => {
  it("admits and discharges at the organisation's own homes; the other organisation finds none of it", async () => {
    const nhs = fresh();
    const { admitResident: stay } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: nhs.replace(/(\d{3})(\d{3})(\d{4})/, '$1 $2 $3'), admittedOn: day(3) } }));
    expect(stay).toMatchObject({ nhsNumber: nhs, admittedOn: day(3), dischargedOn: null, current: true, admittedBy: 'care-a', home: { id: 'a-oak' } });
    expect(stay.residentId).toMatch(/^res_[a-z2-7]{16}$/);

    // B: no such home, no such admission, none listed; the same person may be B's resident too, under another pseudonym.
    expect(code(await hub.gqlAs(b, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: nhs, admittedOn: day(1) } }))).toBe('NOT_FOUND');
    expect(code(await hub.gqlAs(b, DischargeResidentDocument, { admissionId: stay.id, dischargedOn: day(0) }))).toBe('NOT_FOUND');
    expect(code(await hub.gqlAs(b, DischargeResidentDocument, { admissionId: '00000000-0000-4000-8000-000000000000', dischargedOn: day(0) }))).toBe('NOT_FOUND');
    expect((await ok(hub.gqlAs(b, AdmissionDocument, { id: stay.id }))).admission).toBeNull();
    expect((await ok(hub.gqlAs(b, AdmissionsDocument, {}))).admissions.map((x) => x.id)).not.toContain(stay.id);
    expect((await ok(hub.gqlAs(b, CareStatusDocument, { nhsNumber: nhs }))).careStatus).toEqual({ inCare: false, residentId: null, homeId: null });
    const { admitResident: theirs } = await ok(hub.gqlAs(b, AdmitResidentDocument, { input: { homeId: 'b-oak', nhsNumber: nhs, admittedOn: day(1) } }));
    expect(theirs.residentId).not.toBe(stay.residentId);

    // Read back as A: nothing B did touched it.
    expect((await ok(hub.gqlAs(a, AdmissionDocument, { id: stay.id }))).admission).toMatchObject({ current: true, residentId: stay.residentId });
    expect((await ok(hub.gqlAs(a, ResidentsInCareDocument, { homeId: 'a-oak' }))).residentsInCare.map((x) => x.id)).toContain(stay.id);
    expect((await ok(hub.gqlAs(a, CareStatusDocument, { nhsNumber: nhs }))).careStatus).toEqual({ inCare: true, residentId: stay.residentId, homeId: 'a-oak' });

    // One current stay per person and organisation.
    const twice = await hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-elm', nhsNumber: nhs, admittedOn: day(1) } });
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', residentId: stay.residentId });

    const { dischargeResident: ended } = await ok(hub.gqlAs(a, DischargeResidentDocument, { admissionId: stay.id, dischargedOn: day(0) }));
    expect(ended).toMatchObject({ current: false, dischargedOn: day(0), dischargedBy: 'care-a' });
    expect(code(await hub.gqlAs(a, DischargeResidentDocument, { admissionId: stay.id, dischargedOn: day(0) }))).toBe('CONFLICT');
    // Readmitted later: the same pseudonym.
    const { admitResident: again } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-elm', nhsNumber: nhs, admittedOn: day(0) } }));
    expect(again.residentId).toBe(stay.residentId);
    expect((await ok(hub.gqlAs(a, AdmissionsDocument, { filter: { current: false } }))).admissions.map((x) => x.id)).toContain(stay.id);
  });

  it('refuses bad admissions with clear errors', async () => {
    for (const [input, field] of [
      [{ homeId: 'a-oak', nhsNumber: '9000000000', admittedOn: day(1) }, 'nhsNumber'],
      [{ homeId: 'a-oak', nhsNumber: fresh(), admittedOn: '2026-02-30' }, 'admittedOn'],
      [{ homeId: 'a-oak', nhsNumber: fresh(), admittedOn: day(-2) }, 'admittedOn'],
    ] as const) {
      const r = await hub.gqlAs(a, AdmitResidentDocument, { input });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const nhs = fresh();
    const { admitResident: stay } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: nhs, admittedOn: day(2) } }));
    expect(code(await hub.gqlAs(a, DischargeResidentDocument, { admissionId: stay.id, dischargedOn: day(5) }))).toBe('BAD_USER_INPUT');
    // A client without the health scope does not get to name residents by NHS number.
    expect(code(await hub.gqlAs(aReader, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: fresh(), admittedOn: day(1) } }))).toBe('FORBIDDEN');
    const listed = await hub.gqlAs(aReader, AdmissionsDocument, {});
    expect(listed.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
  });

  it('announces stays as care.* events that name the resident by pseudonym, never the NHS number', async () => {
    const nhs = fresh();
    const { admitResident: stay } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-elm', nhsNumber: nhs, admittedOn: day(1) } }));
    const event = await eventually(async () => {
      const h = await ok(hub.gqlAs(a, HistoryDocument, { filter: { types: ['care.resident.*'] }, first: 100 }));
      return h.eventHistory.events.find((e) => (e.payload as { admissionId?: string }).admissionId === stay.id);
    });
    expect(event).toMatchObject({ type: 'care.resident.admitted', source: 'hub.care' });
    expect(event.payload).toMatchObject({ admissionId: stay.id, homeId: 'a-elm', residentId: stay.residentId, admittedOn: day(1) });
    expect(JSON.stringify(event)).not.toContain(nhs);
    const theirs = await ok(hub.gqlAs(b, HistoryDocument, { filter: { types: ['care.*'] }, first: 100 }));
    expect(theirs.eventHistory.events.filter((e) => (e.payload as { admissionId?: string; homeId?: string }).homeId?.startsWith('a-'))).toEqual([]);
  });
});

describe('NHS records only for residents in care', () => {
  let inA: string;
  beforeAll(async () => {
    inA = fresh();
    await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: inA, admittedOn: day(10) } }));
  });

  it('reads a resident of one of the caller\'s homes; another organisation is FORBIDDEN before any call to the NHS', async () => {
    const read = await ok(hub.gqlAs(a, ResidentDocument, { nhsNumber: inA }));
    expect(read.resident.nhsNumber).toBe(inA);

    const before = nhsCalls();
    for (const r of [
      await hub.gqlAs(b, ResidentDocument, { nhsNumber: inA }),
      await hub.gqlAs(b, ResidentClinicalDocument, { nhsNumber: inA }),
      await hub.gqlAs(b, UpdateDemographicsDocument, { nhsNumber: inA, version: 1, patches: [{ op: 'replace', path: '/gender', value: 'male' }] }),
      await hub.gqlAs(b, SendDischargeSummaryDocument, { input: { nhsNumber: inA, recipientMailbox: GP_MAILBOX, dischargedAt: new Date().toISOString(), dischargingFrom: 'Oak Lodge', summary: 'Settled.' } }),
    ]) {
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_IN_CARE' });
      expect(r.errors?.[0]?.message).toMatch(/is not a resident of a home of organisation org-b .*admitResident/);
    }
    expect(nhsCalls()).toBe(before);
  });

  it("keeps each organisation's NHS audit trail and discharge summaries to itself", async () => {
    await ok(hub.gqlAs(a, ResidentDocument, { nhsNumber: inA }));
    const { sendDischargeSummary: sent } = await ok(
      hub.gqlAs(a, SendDischargeSummaryDocument, { input: { nhsNumber: inA, recipientMailbox: GP_MAILBOX, dischargedAt: new Date().toISOString(), dischargingFrom: 'Oak Lodge', summary: 'Settled.' } }),
    );
    expect(sent.status).toBe('SENT');
    expect((await ok(hub.gqlAs(a, NhsAuditLogDocument, { nhsNumber: inA, first: 50 }))).nhsAuditLog.map((x) => x.actor)).toContain('care-a');
    expect((await ok(hub.gqlAs(b, NhsAuditLogDocument, { nhsNumber: inA, first: 50 }))).nhsAuditLog).toEqual([]);
    expect((await ok(hub.gqlAs(b, NhsAuditLogDocument, { first: 500 }))).nhsAuditLog.filter((x) => x.actor === 'care-a')).toEqual([]);
    expect((await ok(hub.gqlAs(b, DischargeSummaryDocument, { id: sent.id }))).dischargeSummary).toBeNull();
    expect(code(await hub.gqlAs(b, RefreshDischargeSummaryDocument, { id: sent.id }))).toBe('NOT_FOUND');
    expect((await ok(hub.gqlAs(a, DischargeSummaryDocument, { id: sent.id }))).dischargeSummary?.status).toBe('SENT');
  });

  it('lets anyone search PDS with a purpose, but a match not in care yields nothing more, with no call', async () => {
    const { searchResidents } = await ok(hub.gqlAs(b, SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: PURPOSE }));
    expect(searchResidents.find((m) => m.resident.nhsNumber === '9000000009')?.resident.demographics!.name?.text).toBe('Mrs Jane Smith');
    const eps = () => sim.stats().byPath['/prescriptions-for-patients/FHIR/R4/Bundle'] ?? 0;
    const before = eps();
    const more = await hub.gqlAs(b, SearchMatchRecordsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: PURPOSE });
    expect(more.errors?.some((e) => e.extensions?.code === 'FORBIDDEN' && e.path?.includes('prescriptions'))).toBe(true);
    expect(eps()).toBe(before);
    expect(code(await hub.gqlAs(b, SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: 'x' }))).toBe('BAD_USER_INPUT');
  });

  it('reads one discharged yesterday; one discharged beyond the window is FORBIDDEN with no call', async () => {
    const [recent, long] = [fresh(), fresh()];
    const { admitResident: r1 } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: recent, admittedOn: day(20) } }));
    await ok(hub.gqlAs(a, DischargeResidentDocument, { admissionId: r1.id, dischargedOn: day(1) }));
    const { admitResident: r2 } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-oak', nhsNumber: long, admittedOn: day(90) } }));
    await ok(hub.gqlAs(a, DischargeResidentDocument, { admissionId: r2.id, dischargedOn: day(31) }));

    expect((await ok(hub.gqlAs(a, ResidentDocument, { nhsNumber: recent }))).resident.nhsNumber).toBe(recent);
    expect((await ok(hub.gqlAs(a, CareStatusDocument, { nhsNumber: recent }))).careStatus).toEqual({ inCare: true, residentId: r1.residentId, homeId: 'a-oak' });
    const before = nhsCalls();
    const r = await hub.gqlAs(a, ResidentDocument, { nhsNumber: long });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(r.errors?.[0]?.message).toMatch(/nor discharged in the last 30 days/);
    expect(nhsCalls()).toBe(before);
    expect((await ok(hub.gqlAs(a, CareStatusDocument, { nhsNumber: long }))).careStatus).toEqual({ inCare: false, residentId: r2.residentId, homeId: null });
  });

  it("keeps a home-limited client to its homes' residents", async () => {
    const atElm = fresh();
    const { admitResident: elm } = await ok(hub.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'a-elm', nhsNumber: atElm, admittedOn: day(2) } }));
    expect((await ok(hub.gqlAs(aOak, ResidentDocument, { nhsNumber: inA }))).resident.nhsNumber).toBe(inA);

    const before = nhsCalls();
    const r = await hub.gqlAs(aOak, ResidentDocument, { nhsNumber: atElm });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(r.errors?.[0]?.message).toMatch(/is not a resident of homes a-oak/);
    expect(nhsCalls()).toBe(before);

    expect(code(await hub.gqlAs(aOak, ResidentsInCareDocument, { homeId: 'a-elm' }))).toBe('FORBIDDEN');
    expect(code(await hub.gqlAs(aOak, AdmitResidentDocument, { input: { homeId: 'a-elm', nhsNumber: fresh(), admittedOn: day(1) } }))).toBe('FORBIDDEN');
    expect(code(await hub.gqlAs(aOak, DischargeResidentDocument, { admissionId: elm.id, dischargedOn: day(0) }))).toBe('FORBIDDEN');
    expect((await ok(hub.gqlAs(aOak, AdmissionDocument, { id: elm.id }))).admission).toBeNull();
    const listed = await ok(hub.gqlAs(aOak, AdmissionsDocument, { first: 500 }));
    expect(new Set(listed.admissions.map((x) => x.home.id))).toEqual(new Set(['a-oak']));
    // A's unlimited client still sees the stay, unchanged.
    expect((await ok(hub.gqlAs(a, AdmissionDocument, { id: elm.id }))).admission?.current).toBe(true);

    // The NHS access A makes for Elm House is an event of that home: the Oak Lodge client does not see it.
    await ok(hub.gqlAs(a, ResidentDocument, { nhsNumber: atElm }));
    const ofElm = (e: { payload: unknown }) => (e.payload as { residentId?: string }).residentId === elm.residentId;
    const seen = await eventually(async () => (await ok(hub.gqlAs(a, HistoryDocument, { filter: { types: ['nhs.pds.*'] }, first: 200 }))).eventHistory.events.find(ofElm));
    expect(seen).toMatchObject({ type: 'nhs.pds.called', payload: { operation: 'READ_PATIENT', residentId: elm.residentId } });
    expect(JSON.stringify(seen)).not.toContain(atElm);
    expect((await ok(hub.gqlAs(aOak, HistoryDocument, { filter: { types: ['nhs.pds.*'] }, first: 200 }))).eventHistory.events.filter(ofElm)).toEqual([]);
  });
});

describe('the care subgraph in its own process', () => {
  it('answers the nhs subgraph over signed HTTP, as the caller itself', async () => {
    const care = await startTestHub({ ROLE: 'care' });
    const roles = ['gateway', ...SUBGRAPH_NAMES.filter((n) => n !== 'care')].join(',');
    const split = await startTestHub({
      ROLE: roles,
      SUBGRAPH_CARE_URL: `${care.url}/graphql`,
      AUTH_API_KEYS: apiKeys(a, b),
      ...nhsEnv,
    });
    try {
      const nhs = SYNTHETIC[SYNTHETIC.length - 1]!;
      await ok(split.gqlAs(a, CreateHomeDocument, { input: { id: 'split-a', name: 'Split House' } }));
      const { admitResident: stay } = await ok(split.gqlAs(a, AdmitResidentDocument, { input: { homeId: 'split-a', nhsNumber: nhs, admittedOn: day(1) } }));
      expect((await ok(split.gqlAs(a, ResidentDocument, { nhsNumber: nhs }))).resident.nhsNumber).toBe(nhs);
      expect((await ok(split.gqlAs(a, ResidentsInCareDocument, { homeId: 'split-a' }))).residentsInCare.map((x) => x.residentId)).toEqual([stay.residentId]);
      const before = nhsCalls();
      const refused = await split.gqlAs(b, ResidentDocument, { nhsNumber: nhs });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_IN_CARE' });
      expect(nhsCalls()).toBe(before);
      // The care process believes only signed callers.
      const unsigned = await fetch(`${care.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ careStatus(nhsNumber: "9000000009") { inCare } }' }) });
      expect(unsigned.status).toBe(401);
    } finally {
      await split.close();
      await care.close();
    }
  });
});

describe('the demo organisation', () => {
  it("has Oak Lodge (demo) with every simulator patient admitted, readable at once; seeding again admits no one twice", async () => {
    const { homes } = await ok(hub.gqlAs(demo, HomesDocument, {}));
    expect(homes).toContainEqual(expect.objectContaining({ id: 'demo-home', name: 'Oak Lodge (demo)', cqcLocationId: expect.stringMatching(/^1-\d{9}$/), odsCode: expect.any(String) }));
    const { residentsInCare } = await ok(hub.gqlAs(demo, ResidentsInCareDocument, { homeId: 'demo-home' }));
    expect(residentsInCare.map((x) => x.nhsNumber).sort()).toEqual([...SYNTHETIC, '9000000009', '9000000017', '9000000025', '9000000033'].sort());
    expect(residentsInCare.find((x) => x.nhsNumber === '9000000009')?.resident.demographics!.name?.text).toBe('Mrs Jane Smith');

    const care = hub.hub.subgraphs.find((s) => s.name === 'care') as unknown as { service: { seedDemo(p: unknown, n: string[]): Promise<number> } };
    const { servicePrincipal } = await import('@hub/runtime');
    expect(await care.service.seedDemo(servicePrincipal('default'), [...SYNTHETIC])).toBe(0);
    expect((await ok(hub.gqlAs(demo, ResidentsInCareDocument, { homeId: 'demo-home' }))).residentsInCare).toHaveLength(residentsInCare.length);
    // Another organisation has no demo home.
    expect((await ok(hub.gqlAs(b, HomeDocument, { id: 'demo-home' }))).home).toBeNull();
  });
});
