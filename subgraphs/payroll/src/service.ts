import { randomUUID } from 'node:crypto';
import { payrollOutbox } from '@hub/db';
import { badInput, conflict, createOutboxRelay, deterministicUuid, forbidden, HubError, notFound, uniqueViolation, upstreamUnavailable, type EventPublisher, type HubRuntime, type Principal } from '@hub/runtime';
import type { HmrcRtiSimulator } from '@hub/simulators';
import { ninoProblem, normaliseNino } from './nino.ts';
import { NI_CATEGORIES } from './paye/ni.ts';
import { calculatePay, ZERO_YTD, type Payslip, type YearToDate } from './paye/payslip.ts';
import { FREQUENCY, ratesFor, taxYearOf, TaxYearNotSupported, type PayFrequency } from './paye/rates.ts';
import { InvalidTaxCode, parseTaxCode } from './paye/tax-code.ts';
import { irmarkInMessage } from './rti/irmark.ts';
import { loadPack, RtiPackMissing, type RtiPack } from './rti/packs.ts';
import { validateMessage } from './rti/validate.ts';
import { buildEps, buildFps, buildProtocolMessage, parseGovTalk, RtiDocumentError, type Employer, type FpsEmployee, type GovTalkError, type Sender } from './rti/writer.ts';
import { createPayrollStore, type EmployeeRow, type RunRow, type SubmissionRow } from './store.ts';

/** HMRC's Transaction Engine: Test in Live (GatewayTest 1) and live share the protocol; test has its own host. */
export const TRANSACTION_ENGINE = {
  test: 'https://test-transaction-engine.tax.service.gov.uk/submission',
  live: 'https://transaction-engine.tax.service.gov.uk/submission',
} as const;

const SEND_QUEUE = 'payroll.rti.send';
const POLL_QUEUE = 'payroll.rti.poll';
const DELETE_QUEUE = 'payroll.rti.delete';
const CLASS = { FPS: 'HMRC-PAYE-RTI-FPS', EPS: 'HMRC-PAYE-RTI-EPS' } as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface EmployeeInput {
  employerId: string;
  payId: string;
  title?: string | null;
  forenames: string[];
  surname: string;
  nino?: string | null;
  birthDate: string;
  gender: string;
  address?: { lines: string[]; postcode: string } | null;
  frequency: PayFrequency;
  payPerPeriod: string;
  taxCode: string;
  week1Month1?: boolean | null;
  niCategory: string;
  studentLoanPlan?: 'PLAN_1' | 'PLAN_2' | 'PLAN_4' | null;
  postgraduateLoan?: boolean | null;
  pensionScheme?: 'NET_PAY' | 'RELIEF_AT_SOURCE' | null;
  pensionEmployeePercent?: string | null;
  pensionEmployerPercent?: string | null;
  startDate?: string | null;
  starterDeclaration?: string | null;
  leavingDate?: string | null;
  hoursWorked?: string | null;
}

export interface RunInput {
  employerId: string;
  taxYear: string;
  frequency: PayFrequency;
  period: number;
  paymentDate: string;
}

export interface EpsRequest {
  employerId: string;
  taxYear: string;
  noPaymentFrom?: string | null;
  noPaymentTo?: string | null;
  employmentAllowance?: boolean | null;
}

/** Pounds and pence ("1234.56") to pence, never through a binary fraction. */
function pence(value: string, field: string): number {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(value.trim());
  if (!m) throw badInput(`${field} must be pounds and pence, such as 2500.00`, { field });
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}
const pounds = (p: number) => `${p < 0 ? '-' : ''}${Math.floor(Math.abs(p) / 100)}.${String(Math.abs(p) % 100).padStart(2, '0')}`;
/** "5" or "4.5" percent to basis points. */
function percentBp(value: string | null | undefined, field: string): number {
  if (value == null || value === '') return 0;
  const m = /^(\d{1,2})(?:\.(\d{1,2}))?$/.exec(value.trim());
  if (!m) throw badInput(`${field} must be a percentage such as 5 or 4.5`, { field });
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}
const date = (v: string | null | undefined, field: string) => {
  if (v == null) return null;
  if (!DATE.test(v) || Number.isNaN(Date.parse(v))) throw badInput(`${field} must be a date such as 2025-04-30`, { field });
  return v;
};

function taxYearError(e: unknown, field: string): never {
  if (e instanceof TaxYearNotSupported) throw badInput(e.message, { field, taxYear: e.taxYear, needs: e.needs });
  if (e instanceof RtiPackMissing) throw badInput(e.message, { field, taxYear: e.taxYear, needs: e.needs });
  throw e;
}

const FPS_FREQ: Record<PayFrequency, FpsEmployee['payment']['frequency']> = { WEEKLY: 'W1', FORTNIGHTLY: 'W2', FOUR_WEEKLY: 'W4', MONTHLY: 'M1' };

export function createPayrollService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const cfg = rt.config.payroll;
  const store = createPayrollStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'payroll' });
  const relay = createOutboxRelay({ name: 'payroll', db: rt.database.db, table: payrollOutbox, publisher, log });
  let simulator: HmrcRtiSimulator | undefined;
  let endpoint = cfg.environment === 'disabled' ? '' : (cfg.url ?? (cfg.environment === 'simulated' ? '' : TRANSACTION_ENGINE[cfg.environment]));
  // Documents are stored with this in place of the sender's password, which is put in only as the message leaves
  // (the IRmark covers the Body, not the header): no Government Gateway password rests in the database.
  const PASSWORD_SLOT = 'HUB-SENDER-PASSWORD';
  const password = () => cfg.password ?? 'simulated';
  const withPassword = (xml: string) => xml.replace(`<Value>${PASSWORD_SLOT}</Value>`, () => `<Value>${password().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</Value>`);
  const sender = (): Sender => ({
    senderId: cfg.senderId ?? 'hub-simulated',
    password: PASSWORD_SLOT,
    vendorId: cfg.vendorId,
    product: 'Care Home Integration Hub',
    version: '0.1.0',
    gatewayTest: cfg.environment !== 'live',
  });
  const packsDir = cfg.packsDir;
  const pack = (taxYear: string): RtiPack => (packsDir ? loadPack(taxYear, packsDir) : loadPack(taxYear));

  function configured(): void {
    if (!endpoint) throw upstreamUnavailable('hmrc.rti', 'RTI filing is not configured on this hub (HMRC_RTI_ENVIRONMENT=disabled)', { notConfigured: true });
  }

  /** One message to the Transaction Engine. The in-process simulator is reached directly; anything else through the hub's outbound client (allow-list, breaker, metrics). */
  async function post(url: string, xml: string): Promise<string> {
    if (simulator && url.startsWith(simulator.url)) {
      const res = await fetch(url, { method: 'POST', body: xml, headers: { 'content-type': 'text/xml; charset=utf-8' } });
      return res.text();
    }
    const res = await rt.http.request('hmrc.rti', { method: 'POST', url, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: xml, timeoutMs: cfg.timeoutMs, retry: false });
    if (res.status >= 500) throw upstreamUnavailable('hmrc.rti', `the Transaction Engine answered HTTP ${res.status}`);
    return res.body;
  }

  const employerOf = async (org: string, id: string) => {
    const e = await store.employer(org, id);
    if (!e) throw notFound('payroll employer', id);
    return e;
  };
  const runOf = async (org: string, id: string) => {
    const r = await store.run(org, id);
    if (!r) throw notFound('payroll run', id);
    return r;
  };

  const employeeView = (e: EmployeeRow) => ({
    ...e,
    payPerPeriod: pounds(e.payPerPeriod),
    pensionScheme: e.pension?.scheme ?? null,
    pensionEmployeePercent: e.pension ? String(e.pension.employeeBp / 100) : null,
    pensionEmployerPercent: e.pension ? String(e.pension.employerBp / 100) : null,
  });

  const submissionView = (s: SubmissionRow) => ({ ...s, errors: s.errors ?? [] });

  /** HMRC's errors by field: Employee[n] of the document is the n-th employee written, found by its PayId. */
  function byField(s: Pick<SubmissionRow, 'document'>, errors: GovTalkError[], employees: Map<string, string>) {
    const payIds = s.document.split(/<Employee>/).slice(1).map((part) => /<PayId>([^<]*)<\/PayId>/.exec(part)?.[1] ?? null);
    return errors.map((e) => {
      const m = e.location ? /Employee\[(\d+)\]\/(?:[A-Za-z]+\/)*([A-Za-z]+)$/.exec(e.location) : null;
      const index = m ? Number(m[1]) - 1 : null;
      const payId = index !== null ? payIds[index] ?? null : null;
      const element = m?.[2] ?? null;
      const field = index !== null ? `employees[${index}].${element === 'NINO' ? 'nino' : element ? element[0]!.toLowerCase() + element.slice(1) : ''}` : null;
      return { code: e.number, type: e.type, message: e.text, field, employeeId: payId ? (employees.get(payId) ?? null) : null, payId, location: e.location };
    });
  }

  async function employeeIdsByPayId(org: string, employerId: string): Promise<Map<string, string>> {
    return new Map((await store.employees(org, employerId)).map((e) => [e.payId, e.id]));
  }

  const announce = (type: string, s: Pick<SubmissionRow, 'id' | 'kind' | 'taxYear' | 'runId' | 'employerId'>, extra: Record<string, unknown> = {}) => ({
    type,
    source: 'hub.payroll',
    payload: { submissionId: s.id, kind: s.kind, taxYear: s.taxYear, runId: s.runId, employerId: s.employerId, ...extra },
  });

  async function schedulePoll(org: string, s: Pick<SubmissionRow, 'id' | 'polls' | 'nextPollAt'>): Promise<void> {
    await rt.jobs.send(POLL_QUEUE, { organisationId: org, id: s.id }, { id: deterministicUuid('rti-poll', s.id, String(s.polls)), startAfter: s.nextPollAt ?? new Date() });
  }

  /** Sends a PREPARED document once: SENDING is written before the request leaves, the acknowledgement stored when it comes. */
  async function send(org: string, id: string): Promise<void> {
    if (!(await store.claimSend(org, id))) {
      const s = await store.submission(org, id);
      // SENDING with no answer recorded: the process stopped mid-request. HMRC may have it: never send it again blind.
      if (s?.status === 'SENDING') {
        await store.update(org, id, { status: 'UNCONFIRMED', errors: [{ code: 'HUB', type: 'fatal', message: 'the hub stopped while sending; HMRC may have received the document: check its records before filing again', field: null, employeeId: null, location: null }] }, announce('hmrc.rti.unconfirmed', s));
        relay.kick();
      }
      return;
    }
    const s = (await store.submission(org, id))!;
    let answer: string;
    try {
      answer = await post(endpoint, withPassword(s.document));
    } catch (err) {
      const code = (err as { cause?: { code?: string }; code?: string }).cause?.code ?? (err as { code?: string }).code ?? (err as HubError).details?.code;
      if (code === 'ECONNREFUSED' || (err instanceof HubError && err.code === 'OUTBOUND_REFUSED')) {
        // Nothing reached HMRC: back to PREPARED, and the job's retry sends it.
        await store.update(org, id, { status: 'PREPARED', sentAt: null });
        throw err;
      }
      await store.update(org, id, { status: 'UNCONFIRMED', errors: [{ code: 'HUB', type: 'fatal', message: `no answer from the Transaction Engine (${(err as Error).message}); HMRC may have received the document: check before filing again`, field: null, employeeId: null, location: null }] }, announce('hmrc.rti.unconfirmed', s), s.runId ? 'UNCONFIRMED' : undefined);
      relay.kick();
      return;
    }
    const a = parseGovTalk(answer);
    if (a.qualifier === 'acknowledgement' && a.correlationId) {
      const interval = a.pollInterval ?? 10;
      const next = await store.update(
        org,
        id,
        { status: 'AWAITING_RESPONSE', correlationId: a.correlationId, responseEndpoint: a.responseEndPoint ?? endpoint, pollIntervalSeconds: interval, nextPollAt: new Date(Date.now() + interval * 1000) },
        announce('hmrc.rti.submitted', s, { correlationId: a.correlationId, irmark: s.irmark }),
      );
      relay.kick();
      await schedulePoll(org, next);
      return;
    }
    await finish(org, s, a.errors.length ? a.errors : [{ number: 'HUB', type: 'fatal', text: `unexpected answer from the Transaction Engine (${a.qualifier})`, location: null }]);
  }

  /** The outcome: errors by field (REJECTED) or none (ACCEPTED); then HMRC is asked to delete its copy. */
  async function finish(org: string, s: SubmissionRow, errors: GovTalkError[]): Promise<void> {
    const mapped = s.employerId ? byField(s, errors, await employeeIdsByPayId(org, s.employerId)) : [];
    const status = errors.length ? 'REJECTED' : 'ACCEPTED';
    await store.update(org, s.id, { status, errors: mapped, completedAt: new Date(), nextPollAt: null }, announce(errors.length ? 'hmrc.rti.rejected' : 'hmrc.rti.accepted', s, { correlationId: s.correlationId, errors: mapped.map((e) => ({ code: e.code, field: e.field })) }), s.runId ? status : undefined);
    relay.kick();
    if (s.correlationId) await rt.jobs.send(DELETE_QUEUE, { organisationId: org, id: s.id }, { id: deterministicUuid('rti-delete', s.id) });
  }

  /** One poll, no sooner than HMRC asked: a job that runs early (after a restart, say) waits for the stored time. */
  async function poll(org: string, id: string): Promise<void> {
    const s = await store.submission(org, id);
    if (!s || s.status !== 'AWAITING_RESPONSE' || !s.correlationId) return;
    if (s.nextPollAt && s.nextPollAt.getTime() > Date.now()) return schedulePoll(org, s);
    const answer = parseGovTalk(await post(s.responseEndpoint ?? endpoint, buildProtocolMessage('poll', CLASS[s.kind as 'FPS' | 'EPS'], s.correlationId, sender().gatewayTest)));
    if (answer.qualifier === 'acknowledgement') {
      const interval = answer.pollInterval ?? s.pollIntervalSeconds ?? 10;
      const next = await store.update(org, id, { polls: s.polls + 1, pollIntervalSeconds: interval, responseEndpoint: answer.responseEndPoint ?? s.responseEndpoint, nextPollAt: new Date(Date.now() + interval * 1000) });
      return schedulePoll(org, next);
    }
    const polled = await store.update(org, id, { polls: s.polls + 1 });
    if (answer.qualifier === 'response') return finish(org, polled, []);
    return finish(org, polled, answer.errors.length ? answer.errors : [{ number: 'HUB', type: 'fatal', text: `unexpected answer from the Transaction Engine (${answer.qualifier})`, location: null }]);
  }

  async function remove(org: string, id: string): Promise<void> {
    const s = await store.submission(org, id);
    if (!s?.correlationId || s.deletedAt) return;
    await post(s.responseEndpoint ?? endpoint, buildProtocolMessage('delete', CLASS[s.kind as 'FPS' | 'EPS'], s.correlationId, sender().gatewayTest));
    await store.update(org, id, { deletedAt: new Date() });
  }

  async function prepare(p: Principal, o: { employer: { id: string }; runId: string | null; kind: 'FPS' | 'EPS'; taxYear: string; document: string; pack: RtiPack }): Promise<SubmissionRow> {
    const problems = await validateMessage(o.document, o.pack, o.kind === 'FPS' ? 'fps' : 'eps');
    if (problems.length) throw badInput(`the ${o.kind} does not meet HMRC's ${o.taxYear} schema: ${problems[0]!.message}`, { field: o.kind === 'FPS' ? 'id' : 'input', errors: problems });
    const id = randomUUID();
    const row = { id, employerId: o.employer.id, runId: o.runId, kind: o.kind, taxYear: o.taxYear, status: 'PREPARED', document: o.document, irmark: irmarkInMessage(o.document)!, submittedBy: p.client };
    if (!(await store.prepare(p.organisationId, row, announce('hmrc.rti.prepared', row, { irmark: row.irmark, submittedBy: p.client })))) {
      const existing = o.runId ? await store.submissionOfRun(p.organisationId, o.runId, o.kind) : undefined;
      if (existing) return existing;
      throw conflict('this document is being submitted right now');
    }
    relay.kick();
    await rt.jobs.send(SEND_QUEUE, { organisationId: p.organisationId, id }, { id: deterministicUuid('rti-send', id) });
    return (await store.submission(p.organisationId, id))!;
  }

  function fpsEmployee(e: EmployeeRow, run: RunRow, slip: Payslip): FpsEmployee {
    const f = FREQUENCY[run.frequency as PayFrequency];
    const bandsToDate = slip.ytd as YearToDate & { atLel?: number; lelToPt?: number; ptToUel?: number };
    const wholePounds = (p: number | undefined) => Math.floor((p ?? 0) / 100) * 100;
    return {
      nino: e.nino,
      title: e.title,
      forenames: e.forenames,
      surname: e.surname,
      address: e.address,
      birthDate: e.birthDate,
      gender: e.gender as 'M' | 'F',
      payId: e.payId,
      starter: e.startDate && taxYearOf(e.startDate) === run.taxYear && e.starterDeclaration ? { startDate: e.startDate, declaration: e.starterDeclaration as 'A' | 'B' | 'C' } : null,
      leavingDate: e.leavingDate,
      payment: {
        frequency: FPS_FREQ[run.frequency as PayFrequency],
        paymentDate: run.paymentDate,
        // The FPS's WeekNo is the tax week of the payment: the last week of the fortnight or four weeks.
        period: f.unit === 52 ? run.period * f.unitsPerPeriod : run.period,
        hoursWorked: e.hoursWorked as FpsEmployee['payment']['hoursWorked'],
        taxCode: parseTaxCode(e.taxCode).text.replace(/ ?(W1|M1|X)$/, ''),
        nonCumulative: parseTaxCode(e.taxCode, e.week1Month1).nonCumulative,
        taxablePay: slip.taxablePay,
        // After the statutory deductions only (tax, NI, loans): pension contributions are not statutory.
        payAfterStatDedns: slip.gross - slip.tax - slip.employeeNi - slip.studentLoan - slip.postgraduateLoan,
        pensionPaid: e.pension?.scheme === 'NET_PAY' ? slip.pensionEmployee : 0,
        studentLoan: slip.studentLoan + slip.postgraduateLoan,
        tax: slip.tax,
      },
      ytd: { taxablePay: slip.ytd.taxablePay, tax: slip.ytd.tax, studentLoans: slip.ytd.studentLoan + slip.ytd.postgraduateLoan, pensionPaid: e.pension?.scheme === 'NET_PAY' ? slip.ytd.pensionEmployee : 0 },
      ni: {
        letter: e.niCategory,
        grossInPeriod: slip.gross,
        grossYtd: slip.ytd.niablePay,
        atLelYtd: wholePounds(bandsToDate.atLel),
        lelToPtYtd: wholePounds(bandsToDate.lelToPt),
        ptToUelYtd: wholePounds(bandsToDate.ptToUel),
        employerInPeriod: slip.employerNi,
        employerYtd: slip.ytd.employerNi,
        employeeInPeriod: slip.employeeNi,
        employeeYtd: slip.ytd.employeeNi,
      },
    };
  }

  const service = {
    employers: (org: string) => store.employers(org),
    async createEmployer(org: string, i: { name: string; officeNumber: string; payeReference: string; accountsOfficeReference: string }) {
      if (!i.name.trim()) throw badInput('name is required', { field: 'input.name' });
      if (!/^\d{3}$/.test(i.officeNumber)) throw badInput('officeNumber is the 3 digits of the HMRC office (635 of 635/A635)', { field: 'input.officeNumber' });
      if (!/^[A-Za-z0-9]{1,10}$/.test(i.payeReference)) throw badInput('payeReference is the reference after the office number (A635 of 635/A635)', { field: 'input.payeReference' });
      if (!/^[0-9]{3}P[A-Z][0-9]{7}[0-9X]$/.test(i.accountsOfficeReference)) throw badInput('accountsOfficeReference is 13 characters, such as 635PC00000000', { field: 'input.accountsOfficeReference' });
      try {
        return await store.insertEmployer(org, { id: randomUUID(), name: i.name.trim(), officeNumber: i.officeNumber, payeReference: i.payeReference.toUpperCase(), accountsOfficeReference: i.accountsOfficeReference });
      } catch (e) {
        if (uniqueViolation(e)) throw conflict(`the PAYE scheme ${i.officeNumber}/${i.payeReference} is already set up`, { field: 'input.payeReference' });
        throw e;
      }
    },
    async employees(org: string, employerId: string) {
      return (await store.employees(org, employerId)).map(employeeView);
    },
    async createEmployee(org: string, i: EmployeeInput) {
      await employerOf(org, i.employerId);
      const nino = i.nino ? normaliseNino(i.nino) : null;
      if (nino) {
        const problem = ninoProblem(nino);
        if (problem) throw badInput(`nino: ${problem}`, { field: 'input.nino' });
      }
      if (!/^[^ ].{0,34}$/.test(i.payId)) throw badInput('payId is 1 to 35 characters, not starting with a space', { field: 'input.payId' });
      if (!i.forenames.length || i.forenames.some((f) => !/^[A-Za-z][A-Za-z'\- ]{0,34}$/.test(f))) throw badInput('forenames: one or more names of letters', { field: 'input.forenames' });
      if (!/^[A-Za-z][A-Za-z'\- ]{0,34}$/.test(i.surname)) throw badInput('surname: letters, spaces, hyphens and apostrophes', { field: 'input.surname' });
      date(i.birthDate, 'input.birthDate');
      if (i.gender !== 'M' && i.gender !== 'F') throw badInput('gender is M or F (as the FPS records it)', { field: 'input.gender' });
      if (!nino && !i.address) throw badInput('an employee without a NINO needs an address (the FPS carries it instead)', { field: 'input.address' });
      try {
        parseTaxCode(i.taxCode, i.week1Month1 ?? false);
      } catch (e) {
        if (e instanceof InvalidTaxCode) throw badInput(e.message, { field: 'input.taxCode' });
        throw e;
      }
      const category = i.niCategory.toUpperCase();
      if (!(NI_CATEGORIES as readonly string[]).includes(category)) throw badInput(`niCategory ${i.niCategory} is not an NI category letter (${NI_CATEGORIES.join(', ')})`, { field: 'input.niCategory' });
      const hours = i.hoursWorked ?? 'C';
      if (!/^[A-E]$/.test(hours)) throw badInput('hoursWorked is A, B, C, D or E', { field: 'input.hoursWorked' });
      if (i.starterDeclaration != null && !/^[ABC]$/.test(i.starterDeclaration)) throw badInput('starterDeclaration is A, B or C', { field: 'input.starterDeclaration' });
      const pension = i.pensionScheme ? { scheme: i.pensionScheme, employeeBp: percentBp(i.pensionEmployeePercent, 'input.pensionEmployeePercent'), employerBp: percentBp(i.pensionEmployerPercent, 'input.pensionEmployerPercent') } : null;
      try {
        const row = await store.insertEmployee(org, {
          id: randomUUID(),
          employerId: i.employerId,
          payId: i.payId,
          title: i.title ?? null,
          forenames: i.forenames,
          surname: i.surname,
          nino,
          birthDate: i.birthDate,
          gender: i.gender,
          address: i.address ?? null,
          frequency: i.frequency,
          payPerPeriod: pence(i.payPerPeriod, 'input.payPerPeriod'),
          taxCode: i.taxCode.trim().toUpperCase(),
          week1Month1: i.week1Month1 ?? false,
          niCategory: category,
          studentLoanPlan: i.studentLoanPlan ?? null,
          postgraduateLoan: i.postgraduateLoan ?? false,
          pension,
          hoursWorked: hours,
          startDate: date(i.startDate, 'input.startDate'),
          starterDeclaration: i.starterDeclaration ?? null,
          leavingDate: date(i.leavingDate, 'input.leavingDate'),
          ytdTaxYear: null,
          ytd: null,
        });
        return employeeView(row);
      } catch (e) {
        if (uniqueViolation(e)) throw conflict(`payId ${i.payId} is already used in this PAYE scheme`, { field: 'input.payId' });
        throw e;
      }
    },

    run: async (org: string, id: string) => (await store.run(org, id)) ?? null,
    runs: (org: string, employerId: string) => store.runs(org, employerId),
    async createRun(p: Principal, i: RunInput) {
      await employerOf(p.organisationId, i.employerId);
      try {
        ratesFor(i.taxYear);
      } catch (e) {
        taxYearError(e, 'input.taxYear');
      }
      const f = FREQUENCY[i.frequency];
      // Week 53 (54, 56) exists for weekly pay; a fortnight or four weeks may take the year's last day too.
      if (!Number.isInteger(i.period) || i.period < 1 || i.period > f.periodsPerYear + (f.unit === 52 ? 1 : 0)) throw badInput(`period must be 1 to ${f.periodsPerYear} for ${i.frequency.toLowerCase()} pay`, { field: 'input.period' });
      date(i.paymentDate, 'input.paymentDate');
      if (taxYearOf(i.paymentDate) !== i.taxYear) throw badInput(`paymentDate ${i.paymentDate} is not in tax year ${i.taxYear} (6 April to 5 April)`, { field: 'input.paymentDate' });
      try {
        return await store.insertRun(p.organisationId, { id: randomUUID(), employerId: i.employerId, taxYear: i.taxYear, frequency: i.frequency, period: i.period, paymentDate: i.paymentDate, status: 'DRAFT', createdBy: p.client });
      } catch (e) {
        if (uniqueViolation(e)) throw conflict(`there is already a ${i.frequency.toLowerCase()} run for period ${i.period} of ${i.taxYear}`, { field: 'input.period' });
        throw e;
      }
    },

    async payslips(org: string, runId: string) {
      const rows = await store.payslips(org, runId);
      return rows
        .map((r) => {
          const s = r.figures as unknown as Payslip & { payId: string; name: string; taxCode: string; niCategory: string };
          return {
            employeeId: r.employeeId,
            payId: s.payId,
            name: s.name,
            taxCode: s.taxCode,
            niCategory: s.niCategory,
            gross: pounds(s.gross),
            pension: pounds(s.pensionEmployee),
            taxablePay: pounds(s.taxablePay),
            tax: pounds(s.tax),
            employeeNi: pounds(s.employeeNi),
            employerNi: pounds(s.employerNi),
            studentLoan: pounds(s.studentLoan),
            postgraduateLoan: pounds(s.postgraduateLoan),
            net: pounds(s.net),
            taxablePayToDate: pounds(s.ytd.taxablePay),
            taxToDate: pounds(s.ytd.tax),
          };
        })
        .sort((a, b) => a.payId.localeCompare(b.payId));
    },

    /** Gross to net for every employee of the scheme paid at the run's frequency (and not gone before it). */
    async calculate(p: Principal, id: string) {
      const org = p.organisationId;
      const run = await runOf(org, id);
      if (run.status !== 'DRAFT' && run.status !== 'CALCULATED') throw conflict(`run ${id} is ${run.status}: it can no longer be calculated`);
      let rates;
      try {
        rates = ratesFor(run.taxYear);
      } catch (e) {
        taxYearError(e, 'taxYear');
      }
      const employees = (await store.employees(org, run.employerId)).filter((e) => e.frequency === run.frequency && (!e.leavingDate || taxYearOf(e.leavingDate) >= run.taxYear));
      const slips = employees.map((e) => {
        const ytd: YearToDate & Record<string, number> = e.ytdTaxYear === run.taxYear && e.ytd ? ({ ...ZERO_YTD, ...e.ytd } as YearToDate & Record<string, number>) : { ...ZERO_YTD, atLel: 0, lelToPt: 0, ptToUel: 0 };
        const s = calculatePay(rates, {
          frequency: run.frequency as PayFrequency,
          period: run.period,
          taxCode: e.taxCode,
          week1Month1: e.week1Month1,
          niCategory: e.niCategory,
          gross: e.payPerPeriod,
          pension: e.pension as never,
          studentLoanPlan: e.studentLoanPlan as never,
          postgraduateLoan: e.postgraduateLoan,
          ytd,
        });
        // The NI earnings bands to date, for the FPS.
        const bands = { atLel: (ytd.atLel ?? 0) + s.ni.atLel, lelToPt: (ytd.lelToPt ?? 0) + s.ni.lelToPt, ptToUel: (ytd.ptToUel ?? 0) + s.ni.ptToUel };
        return { employeeId: e.id, figures: { ...s, ytd: { ...s.ytd, ...bands }, payId: e.payId, name: [...e.forenames, e.surname].join(' '), taxCode: e.taxCode, niCategory: e.niCategory } as unknown as Record<string, unknown> };
      });
      if (!(await store.saveCalculation(org, id, p.client, slips))) throw conflict(`run ${id} changed while it was calculated: read it again`);
      return runOf(org, id);
    },

    async approve(p: Principal, id: string) {
      const org = p.organisationId;
      const run = await runOf(org, id);
      if (run.status !== 'CALCULATED') throw conflict(`run ${id} is ${run.status}: only a calculated run is approved`);
      if (run.calculatedBy === p.client) throw forbidden('a payroll run is approved by someone other than who calculated it (two people see every run before it is paid and filed)', { calculatedBy: run.calculatedBy });
      const slips = await store.payslips(org, id);
      const ytd = slips.map((s) => ({ employeeId: s.employeeId, ytd: (s.figures as { ytd: Record<string, number> }).ytd }));
      const ok = await store.approve(org, id, p.client, run.taxYear, ytd, { type: 'hmrc.rti.run_approved', source: 'hub.payroll', payload: { runId: id, employerId: run.employerId, taxYear: run.taxYear, period: run.period, employees: slips.length, approvedBy: p.client } });
      if (!ok) throw conflict(`run ${id} changed while it was approved: read it again`);
      relay.kick();
      return runOf(org, id);
    },

    async submitRun(p: Principal, id: string) {
      const org = p.organisationId;
      const run = await runOf(org, id);
      const existing = await store.submissionOfRun(org, id, 'FPS');
      if (existing) return submissionView(existing);
      if (run.status !== 'APPROVED') throw conflict(`run ${id} is ${run.status}: only an approved run is submitted`);
      let rtiPack: RtiPack;
      try {
        rtiPack = pack(run.taxYear);
      } catch (e) {
        taxYearError(e, 'taxYear');
      }
      configured();
      const employer = await employerOf(org, run.employerId);
      const slips = await store.payslips(org, id);
      if (!slips.length) throw badInput('the run has no payslips: calculate it with employees paid at its frequency', { field: 'id' });
      const people = new Map((await store.employeesByIds(org, slips.map((s) => s.employeeId))).map((e) => [e.id, e]));
      const ordered = slips.map((s) => ({ slip: s.figures as unknown as Payslip, employee: people.get(s.employeeId)! })).sort((a, b) => a.employee.payId.localeCompare(b.employee.payId));
      // Checked again before anything is sent: HMRC refuses the whole FPS for one bad NINO.
      const problems = ordered.flatMap(({ employee }, i) => {
        const why = employee.nino ? ninoProblem(employee.nino) : null;
        return why ? [{ field: `employees[${i}].nino`, employeeId: employee.id, message: why }] : [];
      });
      if (problems.length) throw badInput(`${problems[0]!.field}: ${problems[0]!.message}`, { field: problems[0]!.field, errors: problems });
      let document: string;
      try {
        document = buildFps(rtiPack, { employer: employer as Employer, sender: sender(), employees: ordered.map(({ slip, employee }) => fpsEmployee(employee, run, slip)) });
      } catch (e) {
        if (e instanceof RtiDocumentError) {
          const errors = e.problems.map((x) => ({ ...x, employeeId: ordered[Number(/\[(\d+)\]/.exec(x.field)?.[1] ?? -1)]?.employee.id ?? null }));
          throw badInput(e.message, { field: errors[0]!.field, errors });
        }
        throw e;
      }
      return submissionView(await prepare(p, { employer, runId: id, kind: 'FPS', taxYear: run.taxYear, document, pack: rtiPack }));
    },

    async submitEps(p: Principal, i: EpsRequest) {
      const employer = await employerOf(p.organisationId, i.employerId);
      let rtiPack: RtiPack;
      try {
        rtiPack = pack(i.taxYear);
      } catch (e) {
        taxYearError(e, 'input.taxYear');
      }
      configured();
      const from = date(i.noPaymentFrom, 'input.noPaymentFrom');
      const to = date(i.noPaymentTo, 'input.noPaymentTo');
      if (!!from !== !!to) throw badInput('noPaymentFrom and noPaymentTo go together', { field: from ? 'input.noPaymentTo' : 'input.noPaymentFrom' });
      if (from && to && from > to) throw badInput('noPaymentFrom must not be after noPaymentTo', { field: 'input.noPaymentFrom' });
      const document = buildEps(rtiPack, { employer: employer as Employer, sender: sender(), noPayment: from && to ? { from, to } : null, employmentAllowance: i.employmentAllowance ?? false });
      return submissionView(await prepare(p, { employer, runId: null, kind: 'EPS', taxYear: i.taxYear, document, pack: rtiPack }));
    },

    submission: async (org: string, id: string) => {
      const s = await store.submission(org, id);
      return s ? submissionView(s) : null;
    },
    submissionOfRun: async (org: string, runId: string) => {
      const s = await store.submissionOfRun(org, runId, 'FPS');
      return s ? submissionView(s) : null;
    },

    async start() {
      if (cfg.environment === 'simulated' && !cfg.url) {
        const { startHmrcRtiSimulator } = await import('@hub/simulators');
        simulator = await startHmrcRtiSimulator({ senderId: sender().senderId, password: password(), packsDir: cfg.packsDir });
        endpoint = simulator.submissionUrl;
        log.warn({ rti: simulator.url }, 'HMRC RTI is SIMULATED: no HMRC_RTI_ENVIRONMENT configured, FPS and EPS go to the local Transaction Engine simulator');
      }
      const org = (j: { organisationId: string }) => j.organisationId;
      await rt.jobs.define<{ organisationId: string; id: string }>(SEND_QUEUE, async (j) => send(org(j), j.id), { retryLimit: 10, retryDelaySeconds: 30, retryBackoff: true });
      await rt.jobs.define<{ organisationId: string; id: string }>(POLL_QUEUE, async (j) => poll(org(j), j.id), { retryLimit: 20, retryDelaySeconds: 30, retryBackoff: true });
      await rt.jobs.define<{ organisationId: string; id: string }>(DELETE_QUEUE, async (j) => remove(org(j), j.id), { retryLimit: 5, retryDelaySeconds: 60 });
      // A restarted hub takes up what it left: documents not yet sent, and acknowledged ones it was polling for.
      for (const s of await store.awaiting()) {
        if (s.nextPollAt) await schedulePoll(s.organisationId, s);
        else await rt.jobs.send(SEND_QUEUE, { organisationId: s.organisationId, id: s.id }, { id: deterministicUuid('rti-send', s.id) });
      }
      relay.start();
    },
    async stop() {
      await relay.stop();
      await simulator?.close();
      simulator = undefined;
    },
  };
  return service;
}

export type PayrollService = ReturnType<typeof createPayrollService>;
