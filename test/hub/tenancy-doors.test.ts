import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';

/**
 * Organisation B never sees, changes or learns of organisation A's records, through any root field of the graph.
 * The table is the schema itself: every Query, Mutation and Subscription field in schema/api.graphql is called as B
 * with A's ids and A's values. A field added later is called too; one whose arguments cannot be made up from the
 * fixtures below fails the test until it has an entry in ARGUMENTS, so nobody has to remember to cover it.
 */
const schema: GraphQLSchema = buildSchema(readFileSync(new URL('../../schema/api.graphql', import.meta.url), 'utf8'));
const MARK = 'orgA-private-7f3c';

const A = testClient('care-a', 'org-a');
const B = testClient('care-b', 'org-b');
let hub: TestHub;
let sink: Server;
let sinkUrl: string;
/** A's records, by GraphQL type. */
const ids: Record<string, string> = {};

async function as<T = any>(c: TestClient, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> }> {
  const res = await hub.raw(JSON.stringify({ query, variables }), c.headers);
  return (await res.json()) as never;
}
async function ok<T = any>(c: TestClient, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await as<T>(c, query, variables);
  if (r.errors?.length) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(r.errors)}`);
  return r.data!;
}

/** What A keeps, read back as A: the same before and after everything B tries. */
const SNAPSHOT = `{
  externalSystems { id name status configuration authentication { hasCredentials } }
  integrations { id name status syncSchedule { cron enabled } }
  mappings { id name version rules }
  apis { id name status rateLimit { requests perSeconds } }
  eventSubscriptions { id name status }
  expectedPayments { id reference status }
  homes { id name }
  admissions { id admittedOn dischargedOn }
  payrollEmployers { id name }
  staffMembers { id surname }
}`;

beforeAll(async () => {
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(A, B) });

  // A's records: one of every kind the graph keeps, each carrying the marker B must never see.
  const sys = await ok(A, `mutation($i: RegisterExternalSystemInput!) { registerExternalSystem(input: $i) { id } }`, {
    i: { name: 'GP system', type: 'GENERIC_REST', endpoint: sinkUrl.replace('/hook', ''), authentication: { kind: 'NONE' }, configuration: { note: MARK } },
  });
  ids.ExternalSystem = sys.registerExternalSystem.id;
  const integ = await ok(A, `mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }`, {
    i: { name: `${MARK} residents`, externalSystemId: ids.ExternalSystem, resource: { path: '/residents' }, description: MARK },
  });
  ids.Integration = integ.createIntegration.id;
  const run = await ok(A, `mutation($id: ID!) { syncData(integrationId: $id) { id } }`, { id: ids.Integration });
  ids.SyncRun = run.syncData.id;
  // The snapshot below must not move on its own: let A's sync finish (the sink answers 204, so it fails fast).
  await eventually(async () => {
    const r = await ok(A, `query($id: ID!) { syncRun(id: $id) { status } }`, { id: ids.SyncRun });
    return !['QUEUED', 'RUNNING'].includes(r.syncRun.status);
  });
  const mapping = await ok(A, `mutation($i: CreateMappingInput!) { createMapping(input: $i) { id } }`, {
    i: { name: 'residents mapping', sourceFormat: 'JSON', targetFormat: 'JSON', rules: { fields: { name: { path: 'name' } } }, description: MARK },
  });
  ids.Mapping = mapping.createMapping.id;
  const api = await ok(A, `mutation($i: RegisterApiInput!) { registerAPI(input: $i) { id } }`, {
    i: { name: 'records-api', version: 'v1', basePath: '/records', upstreamUrl: sinkUrl.replace('/hook', ''), description: MARK },
  });
  ids.Api = api.registerAPI.id;
  const sub = await ok(A, `mutation($s: EventSubscriptionInput!) { subscribeToEvents(subscription: $s) { subscription { id } } }`, {
    s: { name: `${MARK} webhook`, targetUrl: sinkUrl, filter: { types: ['orga.*'] } },
  });
  ids.EventSubscription = sub.subscribeToEvents.subscription.id;
  const ev = await ok(A, `mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id } } }`, {
    i: { type: 'orga.private', source: 'orga.app', payload: { note: MARK } },
  });
  ids.IntegrationEvent = ev.publishEvent.event.id;
  await ok(A, `mutation($s: JSON!) { registerEventSchema(type: "orga.private", schema: $s) { type } }`, { s: { type: 'object', description: MARK } });
  const expected = await ok(A, `mutation($i: ExpectPaymentInput!) { expectPayment(input: $i) { id } }`, {
    i: { reference: 'ORGA-FEES-1', amount: '1250.00', currency: 'GBP', payer: MARK, description: MARK },
  });
  ids.ExpectedPayment = expected.expectPayment.id;
  const home = await ok(A, `mutation($i: CreateHomeInput!) { createHome(input: $i) { id } }`, { i: { id: 'orga-home', name: `${MARK} Oak Lodge` } });
  ids.Home = home.createHome.id;
  const stay = await ok(A, `mutation($i: AdmitResidentInput!) { admitResident(input: $i) { id } }`, { i: { homeId: ids.Home, nhsNumber: '9000000009', admittedOn: '2026-11-01' } });
  ids.Admission = stay.admitResident.id;
  const employer = await ok(A, `mutation($i: PayrollEmployerInput!) { createPayrollEmployer(input: $i) { id } }`, {
    i: { name: `${MARK} Care Ltd`, officeNumber: '635', payeReference: 'A635', accountsOfficeReference: '635PC00000000' },
  });
  ids.PayrollEmployer = employer.createPayrollEmployer.id;
  const employee = await ok(A, `mutation($i: PayrollEmployeeInput!) { createPayrollEmployee(input: $i) { id } }`, { i: payrollEmployee(ids.PayrollEmployer!) });
  ids.PayrollEmployee = employee.createPayrollEmployee.id;
  const payrollRun = await ok(A, `mutation($i: PayrollRunInput!) { createPayrollRun(input: $i) { id } }`, {
    i: { employerId: ids.PayrollEmployer, taxYear: '2025-26', frequency: 'MONTHLY', period: 1, paymentDate: '2025-04-28' },
  });
  ids.PayrollRun = payrollRun.createPayrollRun.id;
  const staff = await ok(A, `mutation($i: AddStaffMemberInput!) { addStaffMember(input: $i) { id } }`, {
    i: { homeId: ids.Home, forename: 'Ada', surname: MARK, dateOfBirth: '1990-03-07', dbsCertificateNumber: '200000000001' },
  });
  ids.StaffMember = staff.addStaffMember.id;
});

/** A payroll employee of A's (its employer carries the marker: names take letters only). */
const payrollEmployee = (employerId: string) => ({
  employerId,
  payId: 'E1',
  forenames: ['Ann'],
  surname: 'Adams',
  nino: 'AB123456C',
  birthDate: '1985-03-01',
  gender: 'F',
  frequency: 'MONTHLY',
  payPerPeriod: '2500.00',
  taxCode: '1257L',
  niCategory: 'A',
});

afterAll(async () => {
  await hub?.close();
  await new Promise((r) => sink?.close(r));
});

/** Values for arguments by name, then by type: A's ids where an id is asked for. */
function idFor(field: GraphQLField<unknown, unknown>, arg: GraphQLArgument): string | undefined {
  const byName: Record<string, string> = {
    systemId: 'ExternalSystem',
    externalSystemId: 'ExternalSystem',
    integrationId: 'Integration',
    mappingId: 'Mapping',
    apiId: 'Api',
    subscriptionId: 'EventSubscription',
    triggerSyncOf: 'Integration',
    homeId: 'Home',
    admissionId: 'Admission',
    employerId: 'PayrollEmployer',
    employeeId: 'PayrollEmployee',
    runId: 'PayrollRun',
    staffMemberId: 'StaffMember',
  };
  if (byName[arg.name]) return ids[byName[arg.name]!] ?? `00000000-0000-4000-8000-${'0'.repeat(12)}`;
  if (arg.name === 'id') {
    const returned = getNamedType(field.type).name;
    const kind = field.name === 'deleteMapping' || field.name === 'updateMapping' ? 'Mapping' : returned;
    // A kind A has no record of (a discharge summary, a bank statement): an id that exists nowhere answers the same.
    return ids[kind] ?? '0190a8f4-3c5e-7d2a-9b1e-4f6a8c2d0e11';
  }
  return undefined;
}

/** Input objects and other arguments that need a real shape: A's values, so that B acting on them would show. */
const ARGUMENTS: Record<string, () => Record<string, unknown>> = {
  'Query.apiMetrics': () => ({ apiId: ids.Api }),
  'Query.resident': () => ({ nhsNumber: '9000000009' }),
  'Query.residents': () => ({ nhsNumbers: ['9000000009'] }),
  'Query.searchResidents': () => ({ input: { family: 'Smith' }, purpose: 'checking the doors of the graph' }),
  'Query.careStatus': () => ({ nhsNumber: '9000000009' }),
  'Mutation.createHome': () => ({ input: { id: 'orgb-home', name: 'Elm House' } }),
  'Mutation.admitResident': () => ({ input: { homeId: ids.Home, nhsNumber: '9000000009', admittedOn: '2026-11-02' } }),
  'Mutation.dischargeResident': () => ({ admissionId: ids.Admission, dischargedOn: '2026-11-03' }),
  'Query.vatObligations': () => ({ vrn: '123456789', from: '2026-01-01', to: '2026-12-31' }),
  'Query.vatReturn': () => ({ vrn: '123456789', periodKey: '26A1' }),
  'Query.vatSubmissions': () => ({ vrn: '123456789' }),
  'Query.eventSchema': () => ({ type: 'orga.private' }),
  'Query.nhsAuditLog': () => ({}),
  'Mutation.applyRateLimit': () => ({ clientId: A.client, endpoint: '/records' }),
  'Mutation.completeHmrcAuthorisation': () => ({ code: 'x', state: 'not-a-state' }),
  'Mutation.completePaymentAuthorisation': () => ({ code: 'x', state: 'not-a-state' }),
  'Mutation.configureRateLimit': () => ({ apiId: ids.Api, limit: { requests: 1, perSeconds: 60 } }),
  'Mutation.connectToSystem': () => ({ systemId: ids.ExternalSystem, credentials: { apiKey: 'b-key' } }),
  'Mutation.convertFormat': () => ({ data: { a: 1 }, from: 'JSON', to: 'XML' }),
  'Mutation.createEventRule': () => ({ input: { name: 'b rule', filter: { types: ['orga.*'] }, triggerSyncOf: ids.Integration } }),
  'Mutation.createIntegration': () => ({ input: { name: 'b integration', externalSystemId: ids.ExternalSystem, resource: { path: '/x' } } }),
  'Mutation.createMapping': () => ({ input: { name: 'residents mapping', sourceFormat: 'JSON', targetFormat: 'JSON', rules: { fields: { name: { path: 'name' } } } } }),
  'Mutation.expectPayment': () => ({ input: { reference: 'ORGA-FEES-1', amount: '1.00', currency: 'GBP' } }),
  'Mutation.importBankStatement': () => ({ xml: '<Document/>' }),
  'Mutation.initiatePayment': () => ({ input: { reference: 'ORGA-FEES-1', amount: '1.00', creditorName: 'B', sortCode: '200000', accountNumber: '55779911' } }),
  'Mutation.publishEvent': () => ({ input: { type: 'orgb.probe', source: 'orgb.app', payload: {}, systemId: ids.ExternalSystem, integrationId: ids.Integration } }),
  'Mutation.publishEvents': () => ({ inputs: [{ type: 'orgb.probe', source: 'orgb.app', payload: {} }] }),
  'Mutation.registerAPI': () => ({ input: { name: 'records-api', version: 'v1', basePath: '/records', upstreamUrl: sinkUrl.replace('/hook', '') } }),
  'Mutation.registerEventSchema': () => ({ type: 'orga.private', schema: { type: 'object' } }),
  'Mutation.registerExternalSystem': () => ({ input: { name: 'GP system', type: 'GENERIC_REST', endpoint: sinkUrl.replace('/hook', ''), authentication: { kind: 'NONE' } } }),
  'Mutation.replayEvents': () => ({ subscriptionId: ids.EventSubscription, fromSequence: '0' }),
  'Mutation.routeRequest': () => ({ apiId: ids.Api, request: { method: 'GET', path: '/' } }),
  'Mutation.sendDischargeSummary': () => ({
    input: { nhsNumber: '9000000009', recipientMailbox: 'X26HC004', dischargingFrom: 'B', dischargedAt: '2026-12-01T10:00:00Z', summary: 'x' },
  }),
  'Mutation.setApiStatus': () => ({ apiId: ids.Api, status: 'RETIRED' }),
  'Mutation.setSyncSchedule': () => ({ integrationId: ids.Integration, schedule: { cron: '*/5 * * * *' } }),
  'Mutation.submitVatReturn': () => ({
    vrn: '123456789',
    input: {
      periodKey: '26A1', vatDueSales: '1.00', vatDueAcquisitions: '0.00', totalVatDue: '1.00', vatReclaimedCurrPeriod: '0.00', netVatDue: '1.00',
      totalValueSalesExVAT: '1', totalValuePurchasesExVAT: '0', totalValueGoodsSuppliedExVAT: '0', totalAcquisitionsExVAT: '0', finalised: true,
    },
  }),
  'Mutation.subscribeToEvents': () => ({ subscription: { name: 'b hook', targetUrl: sinkUrl, fromSequence: '0' } }),
  'Mutation.syncData': () => ({ integrationId: ids.Integration }),
  'Mutation.transformData': () => ({ mappingId: ids.Mapping, data: { name: 'x' } }),
  'Mutation.updateMapping': () => ({ id: ids.Mapping, expectedVersion: 1, input: { description: 'changed by B' } }),
  'Mutation.updateResidentDemographics': () => ({ nhsNumber: '9000000009', version: 1, patches: [{ op: 'replace', path: '/gender', value: 'female' }] }),
  'Mutation.validateData': () => ({ data: { a: 1 }, schema: { type: 'object' } }),
  'Query.cqcLocation': () => ({ locationId: '1-101234567' }),
  'Mutation.acknowledgeSubmission': () => ({ regulatorReference: 'CQC-REF-1' }),
  'Mutation.addStaffMember': () => ({ input: { homeId: ids.Home, forename: 'Ada', surname: 'B', dateOfBirth: '1990-03-07' } }),
  'Mutation.createPayrollEmployee': () => ({ input: { ...payrollEmployee(ids.PayrollEmployer!), surname: 'B' } }),
  'Mutation.createPayrollEmployer': () => ({ input: { name: 'B Care Ltd', officeNumber: '635', payeReference: 'A635', accountsOfficeReference: '635PC00000000' } }),
  'Mutation.createPayrollRun': () => ({ input: { employerId: ids.PayrollEmployer, taxYear: '2025-26', frequency: 'MONTHLY', period: 2, paymentDate: '2025-05-28' } }),
  'Mutation.createSubmission': () => ({ input: { kind: 'CQC_DEATH_NOTIFICATION', homeId: ids.Home, payload: {} } }),
  'Mutation.eraseResident': () => ({ nhsNumber: '9000000009', reason: 'probing the doors of the graph' }),
  'Mutation.rejectSubmission': () => ({ reason: 'probing the doors' }),
  'Mutation.submitEmployerPaymentSummary': () => ({ input: { employerId: ids.PayrollEmployer, taxYear: '2025-26', noPaymentFrom: '2025-05-06', noPaymentTo: '2025-06-05' } }),
  'Mutation.updateDbsCertificate': () => ({ staffMemberId: ids.StaffMember, dbsCertificateNumber: '200000000002' }),
  'Mutation.updateRegulatoryProfile': () => ({ input: { organisationName: 'B Care' } }),
};

/** Fields B may call that need no organisation's record and no argument: they are called all the same. */
function variablesFor(parent: string, field: GraphQLField<unknown, unknown>): Record<string, unknown> {
  const table = ARGUMENTS[`${parent}.${field.name}`];
  const out: Record<string, unknown> = table ? table() : {};
  for (const arg of field.args) {
    if (arg.name in out) continue;
    const id = idFor(field, arg);
    if (id) out[arg.name] = id;
    else if (isNonNullType(arg.type) && arg.defaultValue === undefined) {
      throw new Error(`${parent}.${field.name}(${arg.name}) needs a value: add an entry for it to ARGUMENTS in this test`);
    }
  }
  return out;
}

/** Every scalar field two levels down, so that anything of A's the answer held would be in it. */
function selection(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const parts: string[] = ['__typename'];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const inner = getNamedType(f.type);
    if (isScalarType(inner) || isEnumType(inner)) parts.push(f.name);
    else if (depth < 2) parts.push(`${f.name} { ${selection(f.type, depth + 1)} }`);
  }
  return parts.join(' ');
}

function operation(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, variables: Record<string, unknown>): string {
  const used = field.args.filter((a) => a.name in variables);
  const defs = used.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = used.map((a) => `${a.name}: $${a.name}`).join(', ');
  const sel = selection(field.type);
  return `${kind}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${sel ? ` { ${sel} }` : ''} }`;
}

const takesOwnedId = (field: GraphQLField<unknown, unknown>, variables: Record<string, unknown>) =>
  field.args.some((a) => Object.values(ids).includes(variables[a.name] as string));

describe('organisation B, through every root field of the graph', () => {
  it('has an entry, or needs none, for every root field', () => {
    const missing: string[] = [];
    for (const [parent, type] of [['Query', schema.getQueryType()!], ['Mutation', schema.getMutationType()!]] as const) {
      for (const f of Object.values(type.getFields())) {
        try {
          variablesFor(parent, f);
        } catch (err) {
          missing.push((err as Error).message);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('sees, changes and learns nothing of A\'s records: every query and mutation, with A\'s ids and values', async () => {
    const before = await ok(A, SNAPSHOT);
    expect(JSON.stringify(before)).toContain(MARK);
    const leaks: string[] = [];
    const wrongAnswers: string[] = [];
    for (const [parent, kind, type] of [['Query', 'query', schema.getQueryType()!], ['Mutation', 'mutation', schema.getMutationType()!]] as const) {
      for (const field of Object.values(type.getFields())) {
        const variables = variablesFor(parent, field);
        const r = await as(B, operation(kind, field, variables), variables);
        const text = JSON.stringify(r);
        if (text.includes(MARK)) leaks.push(`${parent}.${field.name}: ${text.slice(0, 300)}`);
        // A's record, asked for by id: the same answer as an id that exists nowhere.
        if (takesOwnedId(field, variables)) {
          const value = r.data?.[field.name as never];
          const codes = (r.errors ?? []).map((e) => e.extensions?.code);
          const refused = codes.length > 0 && codes.every((c) => c === 'NOT_FOUND');
          const absent = value === null && !isNonNullType(field.type) && !codes.length;
          const empty = Array.isArray(value) && value.length === 0 && isListType(isNonNullType(field.type) ? field.type.ofType : field.type);
          if (!refused && !absent && !empty) wrongAnswers.push(`${parent}.${field.name}: ${text.slice(0, 300)}`);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(wrongAnswers).toEqual([]);
    // Nothing of A's changed: not its systems' credentials or status, a mapping's version, an API's limit or status,
    // its webhook, its integration's schedule, its expected payment.
    expect(await ok(A, SNAPSHOT)).toEqual(before);
  });

  it('and through the event subscription: a replay from the start shows B none of A\'s events', async () => {
    const client = createClient({ url: `${hub.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: B.headers.authorization } });
    const seen: string[] = [];
    try {
      const sentinel = `orgb-sentinel-${Date.now()}`;
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe<{ events: { type: string; payload: unknown; source: string } }>(
          { query: 'subscription { events(fromSequence: "0") { type source payload } }' },
          {
            next: (m) => {
              const text = JSON.stringify(m);
              seen.push(text);
              if (text.includes(sentinel)) resolve();
            },
            error: reject,
            complete: () => resolve(),
          },
        );
      });
      await ok(B, `mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id } } }`, { i: { type: 'orgb.sentinel', source: 'orgb.app', payload: { sentinel } } });
      await done;
    } finally {
      await client.dispose();
    }
    expect(seen.filter((s) => s.includes(MARK))).toEqual([]);
    expect(seen.join('\n')).not.toContain('orga.private');
  });
});
