import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { ENVELOPE_NS, withIrmark } from './irmark.ts';
import type { RtiPack } from './packs.ts';

/**
 * FPS and EPS documents in the GovTalk envelope, written with fast-xml-parser's builder in the layout of the tax
 * year's pack, the IRmark computed over the finished Body. Amounts are pence in, pounds and pence out.
 */
export interface Employer {
  /** HMRC office number, 3 digits (635 of 635/A635). */
  officeNumber: string;
  /** PAYE reference after the office number (A635). */
  payeReference: string;
  /** Accounts Office reference, 13 characters (635PC00000000). */
  accountsOfficeReference: string;
  corporationTaxReference?: string | null;
}

export interface Sender {
  senderId: string;
  password: string;
  vendorId: string;
  product: string;
  version: string;
  /** GatewayTest 1: HMRC's test service (the Test in Live service checks, files nothing). */
  gatewayTest: boolean;
}

export interface FpsEmployee {
  nino?: string | null;
  title?: string | null;
  forenames: string[];
  surname: string;
  address?: { lines: string[]; postcode: string } | null;
  birthDate: string;
  gender: 'M' | 'F';
  payId: string;
  starter?: { startDate: string; declaration: 'A' | 'B' | 'C' } | null;
  leavingDate?: string | null;
  director?: boolean;
  payment: {
    /** W1, W2, W4, M1. */
    frequency: 'W1' | 'W2' | 'W4' | 'M1';
    paymentDate: string;
    /** Tax week (weekly frequencies: the week of the payment) or month. */
    period: number;
    hoursWorked: 'A' | 'B' | 'C' | 'D' | 'E';
    taxCode: string;
    nonCumulative: boolean;
    taxablePay: number;
    payAfterStatDedns: number;
    pensionPaid: number;
    studentLoan: number;
    tax: number;
  };
  ytd: { taxablePay: number; tax: number; studentLoans: number; pensionPaid: number };
  ni: {
    letter: string;
    grossInPeriod: number;
    grossYtd: number;
    atLelYtd: number;
    lelToPtYtd: number;
    ptToUelYtd: number;
    employerInPeriod: number;
    employerYtd: number;
    employeeInPeriod: number;
    employeeYtd: number;
  };
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class RtiDocumentError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`the document cannot be written: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  }
}

const money = (pence: number) => `${pence < 0 ? '-' : ''}${Math.floor(Math.abs(pence) / 100)}.${String(Math.abs(pence) % 100).padStart(2, '0')}`;
const pounds = (pence: number) => `${Math.floor(pence / 100)}.00`;

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, indentBy: '\t', suppressEmptyNode: false });

/** Tax year end (5 April) of a pack's year: "2014-15" → 2015-04-05. */
export function taxYearEnd(taxYear: string): string {
  return `${Number(taxYear.slice(0, 4)) + 1}-04-05`;
}

function envelope(cls: string, sender: Sender, employer: Employer, body: object, timestamp: Date): object {
  return {
    GovTalkMessage: {
      '@_xmlns': ENVELOPE_NS,
      EnvelopeVersion: '2.0',
      Header: {
        MessageDetails: { Class: cls, Qualifier: 'request', Function: 'submit', CorrelationID: '', Transformation: 'XML', GatewayTest: sender.gatewayTest ? '1' : '0' },
        SenderDetails: { IDAuthentication: { SenderID: sender.senderId, Authentication: { Method: 'clear', Role: 'principal', Value: sender.password } } },
      },
      GovTalkDetails: {
        Keys: { Key: [{ '@_Type': 'TaxOfficeNumber', '#text': employer.officeNumber }, { '@_Type': 'TaxOfficeReference', '#text': employer.payeReference }] },
        TargetDetails: { Organisation: 'IR' },
        ChannelRouting: { Channel: { URI: sender.vendorId, Product: sender.product, Version: sender.version }, Timestamp: timestamp.toISOString().slice(0, 19) },
      },
      Body: body,
    },
  };
}

function irHeader(pack: RtiPack, employer: Employer) {
  return {
    Keys: { Key: [{ '@_Type': 'TaxOfficeNumber', '#text': employer.officeNumber }, { '@_Type': 'TaxOfficeReference', '#text': employer.payeReference }] },
    PeriodEnd: taxYearEnd(pack.taxYear),
    DefaultCurrency: 'GBP',
    IRmark: { '@_Type': 'generic', '#text': 'IRMARK' },
    Sender: 'Employer',
  };
}

function empRefs(employer: Employer) {
  return {
    OfficeNo: employer.officeNumber,
    PayeRef: employer.payeReference,
    AORef: employer.accountsOfficeReference,
    ...(employer.corporationTaxReference ? { COTAXRef: employer.corporationTaxReference } : {}),
  };
}

// What the 2014-15 layout can express: no S or C prefix, suffixes L P T Y, NI letters of that year.
const CODE_2014 = /^(([1-9][0-9]{0,5}[LPTY])|(BR)|(0T)|(NT)|(D[01])|(K[1-9][0-9]{0,5}))$/;
const LETTERS_2014 = new Set(['A', 'B', 'C', 'D', 'E', 'J', 'L', 'N', 'O', 'Q', 'R', 'T', 'W', 'X']);

function check2014(employees: FpsEmployee[]): void {
  const problems: FieldProblem[] = [];
  employees.forEach((e, i) => {
    if (!CODE_2014.test(e.payment.taxCode)) problems.push({ field: `employees[${i}].taxCode`, message: `tax code ${e.payment.taxCode} cannot be written in the 2014-15 FPS (no S or C prefix, suffix L, P, T or Y)` });
    if (!LETTERS_2014.has(e.ni.letter)) problems.push({ field: `employees[${i}].niCategory`, message: `NI category ${e.ni.letter} did not exist in 2014-15` });
  });
  if (problems.length) throw new RtiDocumentError(problems);
}

function employeeXml(e: FpsEmployee) {
  const weekly = e.payment.frequency !== 'M1';
  return {
    EmployeeDetails: {
      ...(e.nino ? { NINO: e.nino } : {}),
      Name: { ...(e.title ? { Ttl: e.title } : {}), Fore: e.forenames, Sur: e.surname },
      ...(e.address ? { Address: { Line: e.address.lines, UKPostcode: e.address.postcode } } : {}),
      BirthDate: e.birthDate,
      Gender: e.gender,
    },
    Employment: {
      ...(e.director ? { DirectorsNIC: 'AN' } : {}),
      ...(e.starter ? { Starter: { StartDate: e.starter.startDate, StartDec: e.starter.declaration } } : {}),
      PayId: e.payId,
      ...(e.leavingDate ? { LeavingDate: e.leavingDate } : {}),
      FiguresToDate: {
        TaxablePay: money(e.ytd.taxablePay),
        TotalTax: money(e.ytd.tax),
        ...(e.ytd.studentLoans ? { StudentLoansTD: pounds(e.ytd.studentLoans) } : {}),
        ...(e.ytd.pensionPaid ? { EmpeePenContribnsPaidYTD: money(e.ytd.pensionPaid) } : {}),
      },
      Payment: {
        PayFreq: e.payment.frequency,
        PmtDate: e.payment.paymentDate,
        ...(weekly ? { WeekNo: String(e.payment.period) } : { MonthNo: String(e.payment.period) }),
        PeriodsCovered: '1',
        HoursWorked: e.payment.hoursWorked,
        TaxCode: e.payment.nonCumulative ? { '@_BasisNonCumulative': 'yes', '#text': e.payment.taxCode } : e.payment.taxCode,
        TaxablePay: money(e.payment.taxablePay),
        PayAfterStatDedns: money(e.payment.payAfterStatDedns),
        ...(e.payment.pensionPaid ? { EmpeePenContribnsPaid: money(e.payment.pensionPaid) } : {}),
        ...(e.payment.studentLoan ? { StudentLoanRecovered: pounds(e.payment.studentLoan) } : {}),
        TaxDeductedOrRefunded: money(e.payment.tax),
      },
      NIlettersAndValues: {
        NIletter: e.ni.letter,
        GrossEarningsForNICsInPd: money(e.ni.grossInPeriod),
        GrossEarningsForNICsYTD: money(e.ni.grossYtd),
        AtLELYTD: pounds(e.ni.atLelYtd),
        LELtoPTYTD: pounds(e.ni.lelToPtYtd),
        PTtoUAPYTD: pounds(e.ni.ptToUelYtd),
        UAPtoUELYTD: '0.00',
        // HMRC's data items: "total of employer NI contributions" in the period and to date; then the employee's.
        TotalEmpNICInPd: money(e.ni.employerInPeriod),
        TotalEmpNICYTD: money(e.ni.employerYtd),
        EmpeeContribnsInPd: money(e.ni.employeeInPeriod),
        EmpeeContribnsYTD: money(e.ni.employeeYtd),
      },
    },
  };
}

const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function buildFps(pack: RtiPack, o: { employer: Employer; sender: Sender; employees: FpsEmployee[]; final?: boolean; timestamp?: Date }): string {
  if (pack.layout === 'rti-2014-15') check2014(o.employees);
  const body = {
    IRenvelope: {
      '@_xmlns': pack.fps.namespace,
      IRheader: irHeader(pack, o.employer),
      FullPaymentSubmission: {
        EmpRefs: empRefs(o.employer),
        RelatedTaxYear: pack.relatedTaxYear,
        Employee: o.employees.map(employeeXml),
        ...(o.final ? { FinalSubmission: { ForYear: 'yes' } } : {}),
      },
    },
  };
  return withIrmark(declaration + builder.build(envelope(pack.fps.class, o.sender, o.employer, body, o.timestamp ?? new Date())));
}

export interface EpsInput {
  employer: Employer;
  sender: Sender;
  /** No employees paid from..to (dates). */
  noPayment?: { from: string; to: string } | null;
  employmentAllowance?: boolean;
  recoverable?: { smp?: number; nicCompensationOnSmp?: number } | null;
  timestamp?: Date;
}

export function buildEps(pack: RtiPack, o: EpsInput): string {
  const r = o.recoverable;
  const body = {
    IRenvelope: {
      '@_xmlns': pack.eps.namespace,
      IRheader: irHeader(pack, o.employer),
      EmployerPaymentSummary: {
        EmpRefs: empRefs(o.employer),
        ...(o.noPayment ? { NoPaymentForPeriod: 'yes', NoPaymentDates: { From: o.noPayment.from, To: o.noPayment.to } } : {}),
        ...(o.employmentAllowance ? { EmpAllceInd: 'yes' } : {}),
        ...(r ? { RecoverableAmountsYTD: { ...(r.smp ? { SMPRecovered: money(r.smp) } : {}), ...(r.nicCompensationOnSmp ? { NICCompensationOnSMP: money(r.nicCompensationOnSmp) } : {}) } } : {}),
        RelatedTaxYear: pack.relatedTaxYear,
      },
    },
  };
  return withIrmark(declaration + builder.build(envelope(pack.eps.class, o.sender, o.employer, body, o.timestamp ?? new Date())));
}

/** A poll (qualifier poll) or delete (function delete) request for a correlation id. */
export function buildProtocolMessage(kind: 'poll' | 'delete', cls: string, correlationId: string, gatewayTest: boolean): string {
  const msg = {
    GovTalkMessage: {
      '@_xmlns': ENVELOPE_NS,
      EnvelopeVersion: '2.0',
      Header: {
        MessageDetails: { Class: cls, Qualifier: kind === 'poll' ? 'poll' : 'request', Function: kind === 'poll' ? 'submit' : 'delete', CorrelationID: correlationId, Transformation: 'XML', GatewayTest: gatewayTest ? '1' : '0' },
      },
      GovTalkDetails: { Keys: '' },
      Body: '',
    },
  };
  return declaration + builder.build(msg);
}

export interface GovTalkError {
  number: string;
  type: string;
  text: string;
  /** The element the error is about, when HMRC names it (Location). */
  location: string | null;
}

export interface GovTalkAnswer {
  qualifier: string;
  fn: string | null;
  correlationId: string | null;
  responseEndPoint: string | null;
  pollInterval: number | null;
  errors: GovTalkError[];
  /** The Body's first element's name, for a response (SuccessResponse). */
  body: string | null;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: false, isArray: (name) => name === 'Error' || name === 'Location' });

/** Reads a Transaction Engine answer: acknowledgement, response or error. */
export function parseGovTalk(xml: string): GovTalkAnswer {
  const doc = parser.parse(xml) as any;
  const m = doc?.GovTalkMessage?.Header?.MessageDetails;
  if (!m) throw new Error('not a GovTalk message');
  const ep = m.ResponseEndPoint;
  const endpoint = ep === undefined ? null : typeof ep === 'string' ? ep : (ep['#text'] ?? null);
  const interval = typeof ep === 'object' && ep['@_PollInterval'] !== undefined ? Number(ep['@_PollInterval']) : null;
  const raw = (doc.GovTalkMessage.GovTalkDetails?.GovTalkErrors?.Error ?? []) as any[];
  const errors = raw.map((e) => ({ number: String(e.Number ?? ''), type: String(e.Type ?? ''), text: String(e.Text ?? '').trim(), location: e.Location?.[0] ? String(e.Location[0]) : null }));
  const body = doc.GovTalkMessage.Body && typeof doc.GovTalkMessage.Body === 'object' ? (Object.keys(doc.GovTalkMessage.Body).find((k) => !k.startsWith('@_')) ?? null) : null;
  return {
    qualifier: String(m.Qualifier ?? ''),
    fn: m.Function !== undefined ? String(m.Function) : null,
    correlationId: m.CorrelationID ? String(m.CorrelationID) : null,
    responseEndPoint: endpoint,
    pollInterval: interval,
    errors,
    body,
  };
}
