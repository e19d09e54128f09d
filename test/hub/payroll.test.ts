import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHmrcRtiSimulator, type HmrcRtiSimulator } from '@hub/simulators';
import { loadConfig } from '@hub/runtime';
import {
  ApprovePayrollRunDocument,
  CalculatePayrollRunDocument,
  CreatePayrollEmployeeDocument,
  CreatePayrollEmployerDocument,
  CreatePayrollRunDocument,
  HistoryDocument,
  PayrollEmployeesDocument,
  PayrollRunDocument,
  RtiSubmissionDocument,
  SubmitEmployerPaymentSummaryDocument,
  SubmitPayrollRunDocument,
  type PayrollEmployeeInput,
} from '../generated/graphql.ts';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { apiKeys, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';

/**
 * Payroll to HMRC through the graph: employees, a run calculated by one person and approved by another, its FPS
 * filed with the Transaction Engine simulator (which checks credentials, the IRmark and the schema) and polled to an
 * answer. HMRC has published no RTI pack here for 2025-26 (the year of the rates), so this suite's packs folder files
 * 2025-26 in the 2014-15 layout and schemas, the only ones in the repository: a stand-in, marked as such.
 */
const ALICE = testClient('payroll-alice', 'org-payroll', 'read+write+finance');
const BOB = testClient('payroll-bob', 'org-payroll', 'read+write+finance');
const EVE = testClient('payroll-eve', 'org-other', 'read+write+finance');
const NO_FINANCE = testClient('payroll-carer', 'org-payroll', 'read+write');

const DATA = fileURLToPath(new URL('../../subgraphs/payroll/data/rti/', import.meta.url));
let packs: string;
let sim: HmrcRtiSimulator;
let hub: TestHub;

beforeAll(async () => {
  packs = mkdtempSync(join(tmpdir(), 'rti-packs-'));
  cpSync(join(DATA, '2014-15'), join(packs, '2025-26'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(DATA, '2014-15', 'pack.json'), 'utf8'));
  writeFileSync(join(packs, '2025-26', 'pack.json'), JSON.stringify({ ...manifest, taxYear: '2025-26', relatedTaxYear: '25-26' }));
  // The schemas bound dates to their year (6 April 2014 to 5 April 2015): the stand-in moves the bounds to 2025-26.
  for (const f of [manifest.fps.schema, manifest.eps.schema]) {
    const path = join(packs, '2025-26', f);
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll('value="2014-04-06"', 'value="2025-04-06"').replaceAll('value="2015-04-05"', 'value="2026-04-05"'));
  }
  sim = await startHmrcRtiSimulator({ senderId: 'CAREHUB01', password: 'rti-secret', pollIntervalSeconds: 1, pollsBeforeResponse: 1, packsDir: packs });
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(ALICE, BOB, EVE, NO_FINANCE),
    HMRC_RTI_ENVIRONMENT: 'test',
    HMRC_RTI_URL: sim.submissionUrl,
    HMRC_RTI_SENDER_ID: 'CAREHUB01',
    HMRC_RTI_PASSWORD: 'rti-secret',
    HMRC_RTI_VENDOR_ID: '1234',
    PAYROLL_RTI_PACKS_DIR: packs,
  });
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
  if (packs) rmSync(packs, { recursive: true, force: true });
});

const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;
async function ok<T, V>(client: TestClient, doc: TypedDocumentNode<T, V>, vars: V): Promise<T> {
  const r = await hub.gqlAs(client, doc, vars);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!;
}

let employerId: string;
const employeeIds: string[] = [];
const person = (over: Partial<PayrollEmployeeInput>): PayrollEmployeeInput => ({
  employerId,
  payId: 'E1',
  title: 'Ms',
  forenames: ['Ann'],
  surname: 'Adams',
  nino: 'AB123456C',
  birthDate: '1985-03-01',
  gender: 'F',
  address: { lines: ['1 The Lane', 'Leeds'], postcode: 'LS1 1AA' },
  frequency: 'MONTHLY',
  payPerPeriod: '2500.00',
  taxCode: '1257L',
  niCategory: 'A',
  ...over,
});

async function runFor(period: number, taxYear = '2025-26', paymentDate = `2025-${String(period + 3).padStart(2, '0')}-28`) {
  const { createPayrollRun: run } = await ok(ALICE, CreatePayrollRunDocument, { input: { employerId, taxYear, frequency: 'MONTHLY', period, paymentDate } });
  await ok(ALICE, CalculatePayrollRunDocument, { id: run.id });
  await ok(BOB, ApprovePayrollRunDocument, { id: run.id });
  return run.id;
}
const submission = async (id: string) => (await ok(ALICE, RtiSubmissionDocument, { id })).rtiSubmission!;
const settled = (id: string) => eventually(async () => {
  const s = await submission(id);
  return s.status === 'ACCEPTED' || s.status === 'REJECTED' ? s : null;
});

describe('payroll and RTI', () => {
  it('sets up a PAYE scheme and three employees, refusing a NINO HMRC never issues, by field, changing nothing', async () => {
    ({ createPayrollEmployer: { id: employerId } } = await ok(ALICE, CreatePayrollEmployerDocument, { input: { name: 'Sunrise Care Ltd', officeNumber: '635', payeReference: 'A635', accountsOfficeReference: '635PC00000000' } }));
    const bad = await hub.gqlAs(ALICE, CreatePayrollEmployeeDocument, { input: person({ nino: 'TN123456A' }) });
    expect(code(bad)).toBe('BAD_USER_INPUT');
    expect(bad.errors![0]!.extensions!.field).toBe('input.nino');
    expect(bad.errors![0]!.message).toMatch(/never issues the prefix TN/);
    const badFormat = await hub.gqlAs(ALICE, CreatePayrollEmployeeDocument, { input: person({ nino: 'AB12345' }) });
    expect(badFormat.errors![0]!.extensions!.field).toBe('input.nino');
    expect((await ok(ALICE, PayrollEmployeesDocument, { employerId })).payrollEmployees).toEqual([]);

    for (const input of [
      person({ studentLoanPlan: 'PLAN_2', pensionScheme: 'NET_PAY', pensionEmployeePercent: '5', pensionEmployerPercent: '3', startDate: '2025-04-07', starterDeclaration: 'A' }),
      person({ payId: 'E2', forenames: ['Bea', 'May'], surname: 'Brown', nino: 'CE654321A', payPerPeriod: '1800.00', taxCode: 'BR', niCategory: 'B' }),
      person({ payId: 'E3', forenames: ['Cat'], surname: 'Clark', nino: null, payPerPeriod: '3000.00', taxCode: 'K100', niCategory: 'C', birthDate: '1955-01-01' }),
    ]) {
      employeeIds.push((await ok(ALICE, CreatePayrollEmployeeDocument, { input })).createPayrollEmployee.id);
    }
    // Another organisation sees none of it; a client without the finance scope is refused.
    expect((await ok(EVE, PayrollEmployeesDocument, { employerId })).payrollEmployees).toEqual([]);
    expect((await hub.gqlAs(NO_FINANCE, PayrollEmployeesDocument, { employerId })).errors?.length).toBeGreaterThan(0);
  });

  let firstSubmission: string;
  it('calculates gross to net, needs a second person to approve, and files an FPS for three employees the simulator accepts', async () => {
    const { createPayrollRun: run } = await ok(ALICE, CreatePayrollRunDocument, { input: { employerId, taxYear: '2025-26', frequency: 'MONTHLY', period: 1, paymentDate: '2025-04-28' } });
    const { calculatePayrollRun: calc } = await ok(ALICE, CalculatePayrollRunDocument, { id: run.id });
    expect(calc.status).toBe('CALCULATED');
    const ann = calc.payslips.find((s) => s.payId === 'E1')!;
    // £2,500, 5% net pay pension (£125): taxable £2,375 − £1,048.26 free pay → £1,326 × 20% = £265.20;
    // NI (2500 − 1048) × 8% = £116.16; plan 2 loan 9% × (2500 − 2372.50) = £11.47 → £11.
    expect(ann).toMatchObject({ gross: '2500.00', pension: '125.00', taxablePay: '2375.00', tax: '265.20', employeeNi: '116.16', employerNi: '312.45', studentLoan: '11.00', net: '1982.64' });
    const bea = calc.payslips.find((s) => s.payId === 'E2')!;
    expect(bea).toMatchObject({ tax: '360.00', employeeNi: String(((180000 - 104800) * 0.0185 / 100).toFixed(2)) });
    const cat = calc.payslips.find((s) => s.payId === 'E3')!;
    // K100: £3,000 + £84.09 → £3,084 taxable; 20% to £3,141.67 → £616.80; category C: no employee NI.
    expect(cat).toMatchObject({ tax: '616.80', employeeNi: '0.00' });

    const self = await hub.gqlAs(ALICE, ApprovePayrollRunDocument, { id: run.id });
    expect(code(self)).toBe('FORBIDDEN');
    expect((await ok(BOB, ApprovePayrollRunDocument, { id: run.id })).approvePayrollRun).toMatchObject({ status: 'APPROVED', approvedBy: 'payroll-bob' });

    const { submitPayrollRun: s } = await ok(ALICE, SubmitPayrollRunDocument, { id: run.id });
    firstSubmission = s.id;
    expect(['PREPARED', 'SENDING', 'AWAITING_RESPONSE']).toContain(s.status);
    const done = await settled(s.id);
    expect(done).toMatchObject({ status: 'ACCEPTED', kind: 'FPS', taxYear: '2025-26', errors: [] });
    expect(done.correlationId).toMatch(/^[0-9A-F]{32}$/);
    const filed = sim.stats().submissions.filter((x) => x.irmark === done.irmark);
    expect(filed).toHaveLength(1);
    expect(filed[0]).toMatchObject({ class: 'HMRC-PAYE-RTI-FPS', employees: 3, outcome: 'accepted' });
    expect(sim.stats().refused).toEqual([]);
    expect(sim.stats().earlyPolls).toBe(0);
    // HMRC's copy is deleted once the answer is in.
    await eventually(async () => sim.stats().deletes >= 1);
    expect((await ok(ALICE, PayrollRunDocument, { id: run.id })).payrollRun).toMatchObject({ status: 'ACCEPTED', submission: { id: s.id } });

    // Filed once: submitting again answers the same submission, and nothing is sent.
    const again = await ok(ALICE, SubmitPayrollRunDocument, { id: run.id });
    expect(again.submitPayrollRun.id).toBe(s.id);
    expect(sim.stats().submissions).toHaveLength(1);
    // Another organisation cannot read it.
    expect((await ok(EVE, RtiSubmissionDocument, { id: s.id })).rtiSubmission).toBeNull();
    // Announced through the outbox: prepared, submitted (acknowledged) and accepted, with the correlation id.
    const events = await eventually(async () => {
      const h = (await ok(ALICE, HistoryDocument, { filter: { types: ['hmrc.rti.*'] }, first: 50 })).eventHistory.events.filter((e) => (e.payload as { submissionId?: string }).submissionId === s.id);
      return h.some((e) => e.type === 'hmrc.rti.accepted') ? h : null;
    });
    expect(events.map((e) => e.type).sort()).toEqual(['hmrc.rti.accepted', 'hmrc.rti.prepared', 'hmrc.rti.submitted']);
    expect(events.find((e) => e.type === 'hmrc.rti.accepted')!.payload).toMatchObject({ correlationId: done.correlationId, kind: 'FPS' });
    expect((await ok(EVE, HistoryDocument, { filter: { types: ['hmrc.rti.*'] }, first: 50 })).eventHistory.events).toEqual([]);
  });

  it("shows HMRC's business error by field, with HMRC's code", async () => {
    const runId = await runFor(2);
    sim.failNext({ number: '7821', type: 'business', text: 'The NINO is not valid for this employee', location: '/IRenvelope/FullPaymentSubmission/Employee[2]/EmployeeDetails/NINO' });
    const { submitPayrollRun: s } = await ok(ALICE, SubmitPayrollRunDocument, { id: runId });
    const done = await settled(s.id);
    expect(done.status).toBe('REJECTED');
    expect(done.errors).toEqual([expect.objectContaining({ code: '7821', type: 'business', field: 'employees[1].nino', employeeId: employeeIds[1], location: '/IRenvelope/FullPaymentSubmission/Employee[2]/EmployeeDetails/NINO' })]);
    expect((await ok(ALICE, PayrollRunDocument, { id: runId })).payrollRun!.status).toBe('REJECTED');
  });

  it('resumes polling after a restart mid-poll, and files the FPS once', async () => {
    const runId = await runFor(3);
    sim.hold(true);
    const pollsBefore = sim.stats().polls;
    const { submitPayrollRun: s } = await ok(ALICE, SubmitPayrollRunDocument, { id: runId });
    const acknowledged = await eventually(async () => {
      const x = await submission(s.id);
      return x.status === 'AWAITING_RESPONSE' && sim.stats().polls > pollsBefore ? x : null;
    });
    expect(acknowledged.correlationId).toBeTruthy();
    expect(acknowledged.pollIntervalSeconds).toBe(1);
    await hub.restart();
    sim.hold(false);
    const done = await settled(s.id);
    expect(done).toMatchObject({ status: 'ACCEPTED', correlationId: acknowledged.correlationId });
    expect(sim.stats().submissions.filter((x) => x.irmark === done.irmark)).toHaveLength(1);
    expect(sim.stats().earlyPolls).toBe(0);
  });

  it('files an EPS', async () => {
    const { submitEmployerPaymentSummary: s } = await ok(ALICE, SubmitEmployerPaymentSummaryDocument, { input: { employerId, taxYear: '2025-26', noPaymentFrom: '2025-08-06', noPaymentTo: '2025-09-05', employmentAllowance: true } });
    expect((await settled(s.id)).status).toBe('ACCEPTED');
    expect(sim.stats().submissions.filter((x) => x.class === 'HMRC-PAYE-RTI-EPS')).toHaveLength(1);
  });

  it('refuses a tax year with no RTI pack, naming the files it needs, and sends nothing', async () => {
    const before = sim.stats().submissions.length;
    const runId = await runFor(1, '2024-25', '2024-04-30');
    const r = await hub.gqlAs(ALICE, SubmitPayrollRunDocument, { id: runId });
    expect(code(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/tax year 2024-25.*2024-25\/pack\.json/);
    expect((await ok(ALICE, PayrollRunDocument, { id: runId })).payrollRun).toMatchObject({ status: 'APPROVED', submission: null });
    expect(sim.stats().submissions.length).toBe(before);
    // And a year with no rates is refused when the run is created.
    const noRates = await hub.gqlAs(ALICE, CreatePayrollRunDocument, { input: { employerId, taxYear: '2027-28', frequency: 'MONTHLY', period: 1, paymentDate: '2027-04-30' } });
    expect(code(noRates)).toBe('BAD_USER_INPUT');
    expect(noRates.errors![0]!.message).toMatch(/paye-rates-2027-28\.json/);
  });

  it('in production, RTI filing is configured or disabled (unset: disabled), never simulated by omission', () => {
    const prod = { NODE_ENV: 'production', AUTH_API_KEYS: apiKeys(ALICE), VAULT_KEYS: 'k:' + Buffer.alloc(32).toString('base64'), NHS_ENVIRONMENT: 'simulated', HMRC_ENVIRONMENT: 'simulated', CONNECTORS_DISABLED: 'banking,cqc,dbs', DATABASE_URL: 'postgres://x@127.0.0.1/x' };
    expect(() => loadConfig(prod as NodeJS.ProcessEnv)).toThrow(/HMRC_RTI_ENVIRONMENT: required when NODE_ENV=production/);
    expect(loadConfig({ ...prod, CONNECTORS_DISABLED: 'banking,cqc,dbs,payroll' } as NodeJS.ProcessEnv).payroll.environment).toBe('disabled');
    expect(loadConfig({ ...prod, HMRC_RTI_ENVIRONMENT: 'disabled' } as NodeJS.ProcessEnv).payroll.environment).toBe('disabled');
    expect(loadConfig({ ...prod, NODE_ENV: 'development' } as NodeJS.ProcessEnv).payroll.environment).toBe('simulated');
    expect(() => loadConfig({ ...prod, HMRC_RTI_ENVIRONMENT: 'live' } as NodeJS.ProcessEnv)).toThrow(/HMRC_RTI_SENDER_ID: required/);
  });
});

describe('payroll with no RTI configuration (development)', () => {
  let dev: TestHub;
  beforeAll(async () => {
    dev = await startTestHub({ AUTH_API_KEYS: apiKeys(ALICE) });
  });
  afterAll(() => dev?.close());

  it("files with the in-process simulator (marked SIMULATED), using the repository's 2014-15 pack", async () => {
    const r = await dev.gqlAs(ALICE, CreatePayrollEmployerDocument, { input: { name: 'Dev Care', officeNumber: '635', payeReference: 'A635', accountsOfficeReference: '635PC00000000' } });
    const { submitEmployerPaymentSummary: s } = (await dev.gqlAs(ALICE, SubmitEmployerPaymentSummaryDocument, { input: { employerId: r.data!.createPayrollEmployer.id, taxYear: '2014-15', noPaymentFrom: '2014-05-06', noPaymentTo: '2014-06-05' } })).data!;
    const done = await eventually(async () => {
      const x = (await dev.gqlAs(ALICE, RtiSubmissionDocument, { id: s.id })).data!.rtiSubmission!;
      return x.status === 'ACCEPTED' || x.status === 'REJECTED' ? x : null;
    });
    expect(done).toMatchObject({ status: 'ACCEPTED', kind: 'EPS', taxYear: '2014-15' });
    expect(dev.config.payroll.environment).toBe('simulated');
  });
});
