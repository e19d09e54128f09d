import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@hub/runtime';
import { nhsFixtureKeys, startNhsSimulator, syntheticNhsNumbers, type NhsSimulator } from '@hub/simulators';
import {
  AdmitResidentDocument,
  CareStatusDocument,
  DischargeSummaryDocument,
  HistoryDocument,
  NhsAuditLogDocument,
  NhsConnectorDocument,
  NhsFhirMappingsDocument,
  RefreshDischargeSummaryDocument,
  ResidentClinicalDocument,
  ResidentDocument,
  ResidentEverythingDocument,
  ResidentsDocument,
  SearchResidentsDocument,
  SendDischargeSummaryDocument,
  UpdateDemographicsDocument,
} from '../generated/graphql.ts';
import { backend, eventually, startTestHub, TEST_INTERNAL_KEYS, type TestHub } from '../support/hub.ts';

/**
 * The NHS connector through the gateway, against the NHS simulator: the sandbox patients, search, PATCH with
 * versions, SCR/EPS, MESH discharge summaries, and the failure modes (429 storms, outages, breaker, token expiry).
 * The NHS is simulated, so the default organisation's demo home has every simulator patient admitted (see the care
 * subgraph): these tests read them as residents in care.
 */

const HUB_MAILBOX = 'HUBTEST01';
const GP_MAILBOX = 'GPTEST001';
const SYNTHETIC = syntheticNhsNumbers(40);

async function simulator(rateLimitPerSecond: number): Promise<NhsSimulator> {
  return startNhsSimulator({
    apiKey: nhsFixtureKeys.apiKey,
    publicKeys: { [nhsFixtureKeys.kid]: nhsFixtureKeys.publicKeyPem },
    rateLimitPerSecond,
    syntheticPatients: SYNTHETIC.length,
    meshMailboxes: { [HUB_MAILBOX]: 'hub-password', [GP_MAILBOX]: 'gp-password' },
    meshSharedKey: 'test-shared-key',
  });
}

function nhsEnv(sim: NhsSimulator, over: Record<string, string> = {}): Record<string, string> {
  return {
    NHS_ENVIRONMENT: 'simulated',
    NHS_BASE_URL: sim.url,
    NHS_TOKEN_URL: sim.tokenUrl,
    NHS_API_KEY: nhsFixtureKeys.apiKey,
    NHS_PRIVATE_KEY: nhsFixtureKeys.privateKeyPem,
    NHS_KEY_ID: nhsFixtureKeys.kid,
    NHS_MESH_URL: sim.meshBaseUrl,
    NHS_MESH_MAILBOX: HUB_MAILBOX,
    NHS_MESH_PASSWORD: 'hub-password',
    NHS_MESH_SHARED_KEY: 'test-shared-key',
    NHS_RATE_LIMIT_PER_SECOND: '1000',
    NHS_TIMEOUT_MS: '1500',
    OUTBOUND_BREAKER_THRESHOLD: '3',
    OUTBOUND_BREAKER_HALF_OPEN_MS: '1500',
    ...over,
  };
}

const pdsCalls = (sim: NhsSimulator, nhs: string) => sim.stats().byPath[`/personal-demographics/FHIR/R4/Patient/${nhs}`] ?? 0;
const totalPdsCalls = (sim: NhsSimulator) =>
  Object.entries(sim.stats().byPath)
    .filter(([p]) => p.startsWith('/personal-demographics/'))
    .reduce((n, [, c]) => n + c, 0);

let sim: NhsSimulator;
let hub: TestHub;
let next = 0;
/** A synthetic resident no other test has read (so nothing of it is cached). */
const fresh = () => SYNTHETIC[next++]!;
const PURPOSE = 'admission of a new resident to Oak Lodge';
const residentIdOf = async (nhsNumber: string) => (await hub.ok(CareStatusDocument, { nhsNumber })).careStatus.residentId;

beforeAll(async () => {
  sim = await simulator(1000);
  hub = await startTestHub(nhsEnv(sim));
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
});

describe('residents from PDS', () => {
  it('reads the sandbox patient 9000000009 in full, then from the cache', async () => {
    const before = pdsCalls(sim, '9000000009');
    const { resident } = await hub.ok(ResidentDocument, { nhsNumber: '9000000009' });
    expect(resident.nhsNumber).toBe('9000000009');
    expect(resident.demographics).toMatchObject({
      version: 2,
      restricted: false,
      gender: 'FEMALE',
      birthDate: '2010-10-22',
      gpPracticeOdsCode: 'Y12345',
      source: 'UPSTREAM',
      name: { text: 'Mrs Jane Smith', family: 'Smith', given: ['Jane'], prefix: ['Mrs'] },
    });
    expect(resident.demographics!.addresses[0]).toMatchObject({ use: 'home', postalCode: 'LS1 6AE' });
    expect(resident.demographics!.telecom).toContainEqual({ system: 'phone', value: '01632960587', use: 'home' });

    // Written as people write it: the same resident, from the cache.
    const again = await hub.ok(ResidentDocument, { nhsNumber: '900 000 0009' });
    expect(again.resident).toMatchObject({ nhsNumber: '9000000009', demographics: { source: 'CACHE', version: 2 } });
    expect(pdsCalls(sim, '9000000009') - before).toBe(1);
  });

  it('withholds what the spine withholds for the restricted 9000000025, and never caches it', async () => {
    const before = pdsCalls(sim, '9000000025');
    for (let i = 0; i < 2; i++) {
      const { resident } = await hub.ok(ResidentDocument, { nhsNumber: '9000000025' });
      expect(resident.demographics).toMatchObject({ restricted: true, source: 'UPSTREAM', addresses: [], telecom: [], gpPracticeOdsCode: null });
      expect(resident.demographics!.name?.text).toBe('Mrs Janet Smythe');
    }
    expect(pdsCalls(sim, '9000000025') - before).toBe(2);
  });

  it('reads the minimal 9000000033 with empty lists, not errors', async () => {
    const { resident } = await hub.ok(ResidentDocument, { nhsNumber: '9000000033' });
    expect(resident.demographics).toMatchObject({ version: 2, restricted: false, names: [], name: null, gender: null, birthDate: null, addresses: [], telecom: [] });
  });

  it('answers NOT_FOUND for the missing 9111231130', async () => {
    // Admitted (the home knows the number), but PDS has no such patient.
    await hub.ok(AdmitResidentDocument, { input: { homeId: 'demo-home', nhsNumber: '9111231130', admittedOn: '2026-01-05' } });
    const r = await hub.gql(ResidentDocument, { nhsNumber: '9111231130' });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(r.errors?.[0]?.message).toContain('9111231130');
  });

  it('refuses a resident in no home of the organisation before any call to the NHS', async () => {
    const before = sim.stats().requests;
    const r = await hub.gql(ResidentClinicalDocument, { nhsNumber: '9434765919' });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_IN_CARE' });
    expect(r.errors?.[0]?.message).toMatch(/9434765919 is not a resident of a home of organisation default .*admitResident/);
    expect(r.data ?? null).toBeNull();
    expect(sim.stats().requests).toBe(before);
  });

  it('refuses an invalid NHS number before any call to the NHS', async () => {
    const before = sim.stats().requests;
    for (const bad of ['9000000000', '12345', 'not-a-number']) {
      const r = await hub.gql(ResidentDocument, { nhsNumber: bad });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toContain('Modulus 11');
    }
    expect(sim.stats().requests).toBe(before);
  });

  it('calls PDS once per resident however many fields and aliases ask for it', async () => {
    const nhs = fresh();
    const r = await hub.ok(ResidentEverythingDocument, { nhsNumber: nhs });
    expect(r.resident.again!.version).toBe(r.resident.demographics!.version);
    expect((r.resident.fhirPatient as { id: string }).id).toBe(nhs);
    expect(r.other.demographics!.name?.text).toBe(r.resident.demographics!.name?.text);
    expect(pdsCalls(sim, nhs)).toBe(1);

    const [a, b, c] = [fresh(), fresh(), fresh()];
    const before = totalPdsCalls(sim);
    const many = await hub.ok(ResidentsDocument, { nhsNumbers: [a, b, a, c, b] });
    expect(many.residents.map((x) => x!.nhsNumber)).toEqual([a, b, a, c, b]);
    expect(totalPdsCalls(sim) - before).toBe(3);
  });

  it('searches PDS: exact, fuzzy, ranges, bad searches', async () => {
    const exact = await hub.ok(SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: PURPOSE });
    const jane = exact.searchResidents.find((m) => m.resident.nhsNumber === '9000000009');
    expect(jane?.score).toBe(1);
    expect(jane?.resident.demographics!.name?.text).toBe('Mrs Jane Smith');

    const fuzzy = await hub.ok(SearchResidentsDocument, { input: { family: 'Smyth', given: ['Jane'], birthDate: '2010-10-22', fuzzy: true }, purpose: PURPOSE });
    const hit = fuzzy.searchResidents.find((m) => m.resident.nhsNumber === '9000000009');
    expect(hit?.score).toBeGreaterThan(0);
    expect(hit!.score!).toBeLessThan(1);

    const range = await hub.ok(SearchResidentsDocument, { input: { family: 'Smith', birthDateFrom: '2010-01-01', birthDateTo: '2010-12-31', maxResults: 10 }, purpose: PURPOSE });
    expect(range.searchResidents.map((m) => m.resident.nhsNumber)).toContain('9000000009');
    const outOfRange = await hub.ok(SearchResidentsDocument, { input: { family: 'Smith', birthDateFrom: '2011-01-01', birthDateTo: '2011-12-31' }, purpose: PURPOSE });
    expect(outOfRange.searchResidents.map((m) => m.resident.nhsNumber)).not.toContain('9000000009');

    const noDate = await hub.gql(SearchResidentsDocument, { input: { family: 'Smith' }, purpose: PURPOSE });
    expect(noDate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', spineCode: 'MISSING_VALUE' });
    const tooMany = await hub.gql(SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22', maxResults: 51 }, purpose: PURPOSE });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const nothing = await hub.gql(SearchResidentsDocument, { input: {}, purpose: PURPOSE });
    expect(nothing.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('needs a stated purpose to search, and keeps it in the audit trail', async () => {
    const before = sim.stats().requests;
    const vague = await hub.gql(SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: '  ' });
    expect(vague.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'purpose' });
    expect(sim.stats().requests).toBe(before);

    const purpose = 'checking identity of Mrs Smith before admission';
    await hub.ok(SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose });
    const { nhsAuditLog } = await hub.ok(NhsAuditLogDocument, { first: 20 });
    expect(nhsAuditLog.find((a) => a.purpose === purpose)).toMatchObject({ api: 'pds', operation: 'SEARCH_PATIENTS', outcome: 'OK', nhsNumber: null });
  });

  it('updates demographics with a version check; a stale version is a CONFLICT that changes nothing', async () => {
    const nhs = fresh();
    const read = await hub.ok(ResidentDocument, { nhsNumber: nhs });
    const version = read.resident.demographics!.version;
    const gender = read.resident.demographics!.gender === 'MALE' ? 'female' : 'male';
    const updated = await hub.ok(UpdateDemographicsDocument, { nhsNumber: nhs, version, patches: [{ op: 'replace', path: '/gender', value: gender }] });
    expect(updated.updateResidentDemographics.demographics).toMatchObject({ version: version + 1, gender: gender.toUpperCase() });

    const stale = await hub.gql(UpdateDemographicsDocument, { nhsNumber: nhs, version, patches: [{ op: 'replace', path: '/gender', value: 'unknown' }] });
    expect(stale.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', spineCode: 'RESOURCE_VERSION_MISMATCH' });
    const after = await hub.ok(ResidentDocument, { nhsNumber: nhs });
    expect(after.resident.demographics).toMatchObject({ version: version + 1, gender: gender.toUpperCase() });

    const badPath = await hub.gql(UpdateDemographicsDocument, { nhsNumber: nhs, version: version + 1, patches: [{ op: 'replace', path: 'gender', value: 'male' }] });
    expect(badPath.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const noValue = await hub.gql(UpdateDemographicsDocument, { nhsNumber: nhs, version: version + 1, patches: [{ op: 'replace', path: '/gender' }] });
    expect(noValue.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const residentId = await residentIdOf(nhs);
    expect(residentId).toMatch(/^res_[a-z2-7]{16}$/);
    const event = await eventually(async () => {
      const history = await hub.ok(HistoryDocument, { filter: { types: ['nhs.pds.patient.updated'] }, first: 50 });
      return history.eventHistory.events.find((e) => (e.payload as { residentId: string }).residentId === residentId);
    });
    expect(event.payload).toMatchObject({ residentId, fromVersion: version, version: version + 1, paths: ['/gender'] });
    expect(JSON.stringify(event.payload)).not.toContain(nhs);
  });

  it('reads the Summary Care Record and EPS prescriptions through FHIRPath mappings', async () => {
    const { resident } = await hub.ok(ResidentClinicalDocument, { nhsNumber: '9000000009' });
    expect(resident.summaryCareRecord!.allergies.length).toBeGreaterThan(0);
    expect(resident.summaryCareRecord!.allergies[0]).toMatchObject({ substance: expect.any(String), code: expect.stringMatching(/^\d+$/), criticality: 'high' });
    expect(resident.summaryCareRecord!.adverseReactions[0]).toMatchObject({ severity: 'mild', reactions: [expect.any(String)] });
    expect(resident.summaryCareRecord!.medications[0]).toMatchObject({ status: 'active', dosage: expect.any(String), code: expect.stringMatching(/^\d+$/) });
    expect(resident.prescriptions!.length).toBe(3);
    expect(resident.prescriptions![0]).toMatchObject({ id: expect.stringMatching(/^[0-9A-F]{6}-A83008-/), quantity: expect.any(Number), prescriptionStatus: expect.any(String) });

    const restricted = await hub.gql(ResidentClinicalDocument, { nhsNumber: '9000000025' });
    expect(restricted.errors?.some((e) => e.extensions?.code === 'FORBIDDEN' && e.path?.includes('summaryCareRecord'))).toBe(true);

    const { nhsFhirMappings } = await hub.ok(NhsFhirMappingsDocument);
    expect(nhsFhirMappings).toContainEqual({
      mapping: 'nhs.pds.patient',
      target: 'gpOdsCode',
      expression: "generalPractitioner.identifier.where(system = 'https://fhir.nhs.uk/Id/ods-organization-code').value",
    });
  });

  it('audits every call (who, what, outcome; no clinical content) and announces it as an event', async () => {
    const nhs = fresh();
    const res = await hub.raw(JSON.stringify({ query: `{ resident(nhsNumber: "${nhs}") { demographics { version } } }` }), { 'x-hub-client': 'rosewood-care-app', 'x-request-id': 'req-audit-1' });
    expect(res.status).toBe(200);
    const { nhsAuditLog } = await hub.ok(NhsAuditLogDocument, { nhsNumber: nhs, first: 10 });
    expect(nhsAuditLog).toHaveLength(1);
    expect(nhsAuditLog[0]).toMatchObject({ actor: 'rosewood-care-app', requestId: 'req-audit-1', api: 'pds', operation: 'READ_PATIENT', nhsNumber: nhs, outcome: 'OK', httpStatus: 200 });
    expect(nhsAuditLog[0]!.upstreamRequestId).toMatch(/^[0-9a-f-]{36}$/);
    const event = await eventually(async () => {
      const h = await hub.ok(HistoryDocument, { filter: { types: ['nhs.pds.*'], correlationId: 'req-audit-1' }, first: 10 });
      return h.eventHistory.events[0];
    });
    expect(event).toMatchObject({ type: 'nhs.pds.called', source: 'hub.nhs' });
    expect(event.payload).toMatchObject({ operation: 'READ_PATIENT', residentId: await residentIdOf(nhs), outcome: 'OK', httpStatus: 200 });
    expect(JSON.stringify(event.payload)).not.toMatch(/Smith|address|telecom/i);
    expect(JSON.stringify(event.payload)).not.toContain(nhs);
  });

  it('gets a new token when the platform stops accepting the cached one', async () => {
    await hub.ok(ResidentDocument, { nhsNumber: fresh() });
    const issued = sim.stats().tokensIssued;
    sim.expireTokens();
    const { resident } = await hub.ok(ResidentDocument, { nhsNumber: fresh() });
    expect(resident.demographics!.source).toBe('UPSTREAM');
    expect(sim.stats().tokensIssued).toBe(issued + 1);
    await hub.ok(ResidentDocument, { nhsNumber: fresh() });
    expect(sim.stats().tokensIssued).toBe(issued + 1);
  });
});

describe('discharge summaries over MESH', () => {
  it('sends a FHIR document, tracks it until the GP practice acknowledges it', async () => {
    const { sendDischargeSummary: sent } = await hub.ok(SendDischargeSummaryDocument, {
      input: {
        nhsNumber: '9000000009',
        recipientMailbox: GP_MAILBOX,
        admittedAt: '2026-11-20T10:00:00Z',
        dischargedAt: '2026-11-27T15:30:00Z',
        dischargingFrom: 'Rosewood Care Home',
        clinician: 'Dr A Patel',
        summary: 'Recovered from chest infection; mobilising with frame.',
        diagnoses: ['Lower respiratory tract infection'],
        medicationChanges: ['Amoxicillin course completed'],
        followUp: 'GP review in two weeks',
      },
    });
    expect(sent).toMatchObject({ status: 'SENT', recipientMailbox: GP_MAILBOX, workflowId: 'TOC_FHIR_IP_DISCH', attempts: 1, lastError: null, resident: { nhsNumber: '9000000009' } });
    expect(sent.meshMessageId).toBeTruthy();
    const doc = sent.document as { resourceType: string; type: string; entry: Array<{ resource: { resourceType: string; type?: { coding: Array<{ code: string }> } } }> };
    expect(doc).toMatchObject({ resourceType: 'Bundle', type: 'document' });
    expect(doc.entry[0]!.resource.type?.coding[0]?.code).toBe('373942005');
    expect(doc.entry.map((e) => e.resource.resourceType)).toEqual(['Composition', 'Patient']);

    const notYet = await hub.ok(RefreshDischargeSummaryDocument, { id: sent.id });
    expect(notYet.refreshDischargeSummaryStatus.status).toBe('SENT');

    expect(sim.acknowledgeAll(GP_MAILBOX)).toBeGreaterThanOrEqual(1);
    const acked = await hub.ok(RefreshDischargeSummaryDocument, { id: sent.id });
    expect(acked.refreshDischargeSummaryStatus).toMatchObject({ status: 'ACKNOWLEDGED', acknowledgedAt: expect.any(String) });
    const read = await hub.ok(DischargeSummaryDocument, { id: sent.id });
    expect(read.dischargeSummary?.status).toBe('ACKNOWLEDGED');

    const events = await eventually(async () => {
      const h = await hub.ok(HistoryDocument, { filter: { types: ['nhs.discharge.*'] }, first: 50 });
      const mine = h.eventHistory.events.filter((e) => (e.payload as { dischargeSummaryId: string }).dischargeSummaryId === sent.id);
      return mine.length >= 3 ? mine : undefined;
    });
    expect(events.map((e) => e.type)).toEqual(['nhs.discharge.queued', 'nhs.discharge.sent', 'nhs.discharge.acknowledged']);
  });

  it('keeps a summary written while MESH is down and sends it once MESH is back, exactly once', async () => {
    sim.setFaults({ status: 503, paths: ['/messageexchange'] });
    const { sendDischargeSummary: queued } = await hub.ok(SendDischargeSummaryDocument, {
      input: { nhsNumber: '9000000009', recipientMailbox: GP_MAILBOX, dischargedAt: '2026-11-28T09:00:00Z', dischargingFrom: 'Rosewood Care Home', summary: 'Settled.' },
    });
    expect(queued.status).toBe('QUEUED');
    expect(queued.lastError).toContain('unavailable');
    sim.clearFaults();
    await new Promise((r) => setTimeout(r, 1_600)); // the failed attempts opened the MESH breaker
    const sent = await hub.ok(RefreshDischargeSummaryDocument, { id: queued.id });
    expect(sent.refreshDischargeSummaryStatus).toMatchObject({ status: 'SENT', meshMessageId: expect.any(String) });
    // The queued retry (a job) finds it already sent: the recipient gets one message.
    await new Promise((r) => setTimeout(r, 6_500));
    expect(sim.acknowledgeAll(GP_MAILBOX)).toBe(1);
  });

  it('refuses bad input with clear errors and stores nothing', async () => {
    const base = { nhsNumber: '9000000009', recipientMailbox: GP_MAILBOX, dischargedAt: '2026-11-28T09:00:00Z', dischargingFrom: 'Rosewood', summary: 'ok' };
    for (const [input, field] of [
      [{ ...base, nhsNumber: '9000000000' }, 'nhsNumber'],
      [{ ...base, recipientMailbox: 'not a mailbox!' }, 'recipientMailbox'],
      [{ ...base, summary: '   ' }, 'summary'],
      [{ ...base, admittedAt: '2026-11-29T09:00:00Z' }, 'admittedAt'],
    ] as const) {
      const r = await hub.gql(SendDischargeSummaryDocument, { input });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const missing = await hub.gql(DischargeSummaryDocument, { id: '00000000-0000-4000-8000-000000000000' });
    expect(missing.data?.dischargeSummary).toBeNull();
  });
});

describe('when PDS fails', () => {
  it('serves cached residents marked stale, fails uncached ones with UPSTREAM_UNAVAILABLE, opens and closes the breaker', async () => {
    await hub.restart(nhsEnv(sim, { NHS_CACHE_FRESH_SECONDS: '0' }));
    const cached = fresh();
    const uncached = fresh();
    await hub.ok(ResidentDocument, { nhsNumber: cached });

    sim.setFaults({ status: 503, paths: ['/personal-demographics/'] });
    const res = await hub.raw(JSON.stringify({ query: `{ resident(nhsNumber: "${cached}") { demographics { source version } } }` }));
    const body = (await res.json()) as { data: { resident: { demographics: { source: string } } }; extensions?: { stale?: Array<{ resource: string; system: string }> } };
    expect(body.data.resident.demographics.source).toBe('STALE_CACHE');
    expect(body.extensions?.stale).toContainEqual(expect.objectContaining({ system: 'nhs.pds', resource: `Patient/${cached}` }));

    const down = await hub.gql(ResidentDocument, { nhsNumber: uncached });
    expect(down.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');

    const open = await hub.ok(NhsConnectorDocument);
    expect(open.nhsConnector.apis.find((a) => a.name === 'PDS')?.breaker).toBe('OPEN');
    // While open the hub does not even try: the simulator sees no more calls.
    const seen = totalPdsCalls(sim);
    const refused = await hub.gql(ResidentDocument, { nhsNumber: uncached });
    expect(refused.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(totalPdsCalls(sim)).toBe(seen);

    sim.clearFaults();
    await new Promise((r) => setTimeout(r, 1_600));
    const back = await hub.ok(ResidentDocument, { nhsNumber: uncached });
    expect(back.resident.demographics!.source).toBe('UPSTREAM');
    const closed = await hub.ok(NhsConnectorDocument);
    expect(closed.nhsConnector.apis.find((a) => a.name === 'PDS')?.breaker).toBe('CLOSED');
  });

  it('fails a dropped connection or a timeout with UPSTREAM_UNAVAILABLE, not a hang', async () => {
    sim.setFaults({ drop: true, paths: ['/personal-demographics/'], count: 4 });
    const dropped = await hub.gql(ResidentDocument, { nhsNumber: fresh() });
    expect(dropped.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    sim.clearFaults();
    await new Promise((r) => setTimeout(r, 1_600)); // the drops may have opened the breaker
    sim.setFaults({ latencyMs: 5_000, paths: ['/personal-demographics/'], count: 4 });
    const slow = await hub.gql(ResidentDocument, { nhsNumber: fresh() });
    expect(slow.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'timeout' });
    sim.clearFaults();
  });
});

describe('rate limits', () => {
  let strict: NhsSimulator;
  beforeAll(async () => {
    strict = await simulator(5);
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('keeps under the NHS limit of 5 per second: twelve residents in one query, no 429', async () => {
    await hub.restart(nhsEnv(strict, { NHS_RATE_LIMIT_PER_SECOND: '5' }));
    const batch = SYNTHETIC.slice(20, 32);
    const r = await hub.ok(ResidentsDocument, { nhsNumbers: batch });
    expect(r.residents.map((x) => x!.nhsNumber)).toEqual(batch);
    expect(strict.stats().rateLimited).toBe(0);
  });

  it.runIf(backend === 'services')('shares the limit between two hub processes on one Redis: still no 429', async () => {
    await hub.restart(nhsEnv(strict, { NHS_RATE_LIMIT_PER_SECOND: '5', NHS_CACHE_FRESH_SECONDS: '0' }));
    const second = await startTestHub({
      ...nhsEnv(strict, { NHS_RATE_LIMIT_PER_SECOND: '5', NHS_CACHE_FRESH_SECONDS: '0' }),
      DATABASE_URL: hub.config.databaseUrl!,
      REDIS_PREFIX: hub.config.redisPrefix,
      VAULT_KEYS: hub.config.vaultKeys!,
    });
    try {
      const limitedBefore = strict.stats().rateLimited;
      const [a, b] = await Promise.all([
        hub.ok(ResidentsDocument, { nhsNumbers: SYNTHETIC.slice(0, 8) }),
        second.ok(ResidentsDocument, { nhsNumbers: SYNTHETIC.slice(8, 16) }),
      ]);
      expect([...a.residents, ...b.residents].map((r) => r!.demographics!.source)).toEqual(Array(16).fill('UPSTREAM'));
      // Each process alone would have sent 5 per second; together they kept to 5 per second.
      expect(strict.stats().rateLimited - limitedBefore).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('absorbs a 429 storm by retrying after Retry-After, without failing the query', async () => {
    // Configured above the upstream's real limit (as a second, unaware client would push it): the upstream answers 429.
    await hub.restart(nhsEnv(strict, { NHS_RATE_LIMIT_PER_SECOND: '50' }));
    const batch = SYNTHETIC.slice(32, 40);
    const limitedBefore = strict.stats().rateLimited;
    const r = await hub.ok(ResidentsDocument, { nhsNumbers: batch });
    expect(r.residents.map((x) => x!.demographics!.source)).toEqual(batch.map(() => 'UPSTREAM'));
    expect(strict.stats().rateLimited - limitedBefore).toBeGreaterThan(0);
  });
});

describe('NHS configuration', () => {
  it('names the real environments: pointing at the NHS sandbox is configuration only', async () => {
    const sandbox = await startTestHub({ NHS_ENVIRONMENT: 'sandbox' });
    try {
      const { nhsConnector } = await sandbox.ok(NhsConnectorDocument);
      expect(nhsConnector).toMatchObject({ environment: 'SANDBOX', simulated: false });
      expect(nhsConnector.apis.find((a) => a.name === 'PDS')?.baseUrl).toBe('https://sandbox.api.service.nhs.uk/personal-demographics/FHIR/R4');
    } finally {
      await sandbox.close();
    }
  });

  it('refuses to start against INT or production without the application credentials, naming what is missing', () => {
    expect(() => loadConfig({ NHS_ENVIRONMENT: 'production' } as NodeJS.ProcessEnv)).toThrow(/NHS_API_KEY: required when NHS_ENVIRONMENT=production[\s\S]*NHS_KEY_ID/);
    expect(() => loadConfig({ NHS_ENVIRONMENT: 'staging' } as NodeJS.ProcessEnv)).toThrow(/NHS_ENVIRONMENT/);
    // Production never falls back to the simulator silently; a process without the nhs role need not say.
    expect(() => loadConfig({ NODE_ENV: 'production' } as NodeJS.ProcessEnv)).toThrow(/NHS_ENVIRONMENT: required when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', ROLE: 'systems', INTERNAL_SIGNING_KEYS: TEST_INTERNAL_KEYS } as NodeJS.ProcessEnv).roles).toEqual(['systems']);
    expect(() => loadConfig({ NHS_MESH_CLIENT_CERT_FILE: '/nonexistent/cert.pem' } as NodeJS.ProcessEnv)).toThrow(/NHS_MESH_CLIENT_CERT_FILE: cannot read/);
    const int = loadConfig({ NHS_ENVIRONMENT: 'int', NHS_API_KEY: 'k', NHS_PRIVATE_KEY: nhsFixtureKeys.privateKeyPem, NHS_KEY_ID: 'int-1' } as NodeJS.ProcessEnv);
    expect(int.nhs).toMatchObject({ environment: 'int', apiKey: 'k', keyId: 'int-1' });
  });

  it('starts the simulator in process, marked SIMULATED, with residents at once', async () => {
    const plain = await startTestHub();
    try {
      const { nhsConnector } = await plain.ok(NhsConnectorDocument);
      expect(nhsConnector).toMatchObject({ environment: 'SIMULATED', simulated: true, rateLimitPerSecond: 5 });
      expect(nhsConnector.apis.map((a) => a.name)).toEqual(['PDS', 'SCR', 'EPS', 'MESH']);
      expect(nhsConnector.apis[0]!.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/personal-demographics\/FHIR\/R4$/);
      const { resident } = await plain.ok(ResidentDocument, { nhsNumber: '9000000009' });
      expect(resident.demographics!.name?.text).toBe('Mrs Jane Smith');
    } finally {
      await plain.close();
    }
  });
});
