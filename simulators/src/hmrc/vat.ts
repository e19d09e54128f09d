import { randomBytes, randomInt } from 'node:crypto';
import { HttpError } from '../http.ts';

/**
 * The VAT (MTD) API v1.0 domain, from /work/shared/specs/hmrc-vat/application.yaml: obligations (derived calendar
 * quarters, plus the spec's Gov-Test-Scenario data sets), 9-box return validation and storage, liabilities and
 * payments. No HTTP here beyond the error type.
 */

export interface FieldError {
  code: string;
  message: string;
  path: string;
}

/** HMRC's error body: {code, message, errors?: [{code, message, path}]}. */
export class HmrcError extends HttpError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly errors?: FieldError[],
    headers: Record<string, string> = {},
  ) {
    super(status, code, message, headers);
  }

  body(): { code: string; message: string; errors?: FieldError[] } {
    return this.errors && this.errors.length > 0 ? { code: this.code, message: this.message, errors: this.errors } : { code: this.code, message: this.message };
  }
}

// Messages as in the spec's examples.
export const vatErrors = {
  vrnInvalid: () => new HmrcError(400, 'VRN_INVALID', 'The provided VRN is invalid'),
  periodKeyInvalid: () => new HmrcError(400, 'PERIOD_KEY_INVALID', 'Invalid period key'),
  invalidRequest: (errors?: FieldError[]) => new HmrcError(400, 'INVALID_REQUEST', 'Invalid request', errors),
  notFound: () => new HmrcError(404, 'NOT_FOUND', 'The requested resource could not be found'),
  notAuthorised: () => new HmrcError(403, 'CLIENT_OR_AGENT_NOT_AUTHORISED', 'The client and/or agent is not authorised'),
  insolvent: () => new HmrcError(403, 'RULE_INSOLVENT_TRADER', 'The remote endpoint has indicated that the Trader is insolvent'),
  notFinalised: () => new HmrcError(403, 'NOT_FINALISED', 'User has not declared VAT return as final'),
  duplicate: () => new HmrcError(403, 'DUPLICATE_SUBMISSION', 'The VAT return was already submitted for the given period'),
  periodNotEnded: () =>
    new HmrcError(403, 'TAX_PERIOD_NOT_ENDED', 'The remote endpoint has indicated that the submission is for a tax period that has not ended'),
  dateRangeTooLarge: () =>
    new HmrcError(403, 'DATE_RANGE_TOO_LARGE', 'The date of the requested return cannot be further than four years from the current date'),
};

export const isVrn = (s: string): boolean => /^\d{9}$/.test(s);
/** Four alphanumeric characters, occasionally with '#'. */
export const isPeriodKey = (s: string): boolean => /^[A-Za-z0-9#]{4}$/.test(s);

// ---------- dates (UTC, YYYY-MM-DD) ----------

const DAY_MS = 86_400_000;
const ymd = (y: number, month1: number, d: number): string => new Date(Date.UTC(y, month1 - 1, d)).toISOString().slice(0, 10);
const today = (now: number): string => new Date(now).toISOString().slice(0, 10);
const addDays = (date: string, days: number): string => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** A real calendar date in YYYY-MM-DD, else undefined. */
export function parseDate(s: string | null | undefined): string | undefined {
  if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
  const ms = Date.parse(`${s}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== s) return undefined;
  return s;
}
const daysBetween = (from: string, to: string): number => (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS;

// ---------- obligations ----------

export interface Obligation {
  start: string;
  end: string;
  due: string;
  status: 'O' | 'F';
  periodKey: string;
  received?: string;
}

interface Period {
  start: string;
  end: string;
  due: string;
  periodKey: string;
}

const yy = (y: number): string => String(y % 100).padStart(2, '0');
const MONTH_LETTERS = 'ABCDEFGHIJKL';

/** Calendar quarter q (1-4) of year y; due one month and seven days after the end (the spec's rule and examples). */
export function quarter(y: number, q: number): Period {
  const endMonth = q * 3;
  return { start: ymd(y, endMonth - 2, 1), end: ymd(y, endMonth + 1, 0), due: ymd(y, endMonth + 2, 7), periodKey: `${yy(y)}A${q}` };
}
function month(y: number, m: number): Period {
  return { start: ymd(y, m, 1), end: ymd(y, m + 1, 0), due: ymd(y, m + 2, 7), periodKey: `${yy(y)}A${MONTH_LETTERS[m - 1]!}` };
}
/** periodKey `YYAq` of a derived quarterly obligation -> its period. */
function quarterOfKey(periodKey: string): Period | undefined {
  const m = /^(\d{2})A([1-4])$/.exec(periodKey);
  return m ? quarter(2000 + Number(m[1]), Number(m[2])) : undefined;
}
function quarterContaining(date: string): [number, number] {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return [y, Math.floor((m - 1) / 3) + 1];
}

/** The spec's fixed sandbox data sets (2018), first `statuses.length` periods with the given statuses. */
function fixed(kind: 'Q' | 'M', statuses: Array<'O' | 'F'>): Obligation[] {
  return statuses.map((status, i) => {
    const p = kind === 'Q' ? quarter(2018, i + 1) : month(2018, i + 1);
    return status === 'F' ? { ...p, status, received: addDays(p.due, -1) } : { ...p, status };
  });
}
const metFirst = (total: number, met: number): Array<'O' | 'F'> => Array.from({ length: total }, (_, i) => (i < met ? 'F' : 'O'));
const openAt = (n: number): Array<'O' | 'F'> => [...metFirst(n - 1, n - 1), 'O'];

/** Gov-Test-Scenario -> obligations (undefined: not an obligations scenario, serve the stateful default). */
function scenarioObligations(scenario: string): Obligation[] | undefined {
  const counts: Record<string, number> = { NONE: 0, ONE: 1, TWO: 2, THREE: 3, FOUR: 4 };
  let m = /^QUARTERLY_(NONE|ONE|TWO|THREE|FOUR)_MET$/.exec(scenario);
  if (m) return fixed('Q', metFirst(4, counts[m[1]!]!));
  m = /^MONTHLY_(NONE|ONE|TWO|THREE)_MET$/.exec(scenario);
  if (m) return fixed('M', metFirst(12, counts[m[1]!]!));
  m = /^MONTHLY_OBS_(\d{2})_OPEN$/.exec(scenario);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 12) return fixed('M', openAt(Number(m[1])));
  if (scenario === 'MONTHLY_OBS_12_FULFILLED') return fixed('M', metFirst(12, 12));
  m = /^QUARTERLY_OBS_(\d{2})_OPEN$/.exec(scenario);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 4) return fixed('Q', openAt(Number(m[1])));
  if (scenario === 'QUARTERLY_OBS_04_FULFILLED') return fixed('Q', metFirst(4, 4));
  if (scenario === 'MULTIPLE_OPEN_MONTHLY') return fixed('M', ['F', 'O', 'O']);
  if (scenario === 'MULTIPLE_OPEN_QUARTERLY') return fixed('Q', ['F', 'O', 'O']);
  if (scenario === 'OBS_SPANS_MULTIPLE_YEARS') return [{ start: '2018-11-01', end: '2019-01-31', due: '2019-03-07', status: 'O', periodKey: '18AJ' }];
  return undefined;
}

export interface ObligationQuery {
  from: string | null;
  to: string | null;
  status: string | null;
}

// ---------- returns ----------

const BOXES_2DP = ['vatDueSales', 'vatDueAcquisitions', 'totalVatDue', 'vatReclaimedCurrPeriod'] as const;
const BOXES_WHOLE = ['totalValueSalesExVAT', 'totalValuePurchasesExVAT', 'totalValueGoodsSuppliedExVAT', 'totalAcquisitionsExVAT'] as const;
export const RETURN_FIELDS = ['periodKey', ...BOXES_2DP, 'netVatDue', ...BOXES_WHOLE] as const;

export interface VatReturn {
  periodKey: string;
  vatDueSales: number;
  vatDueAcquisitions: number;
  totalVatDue: number;
  vatReclaimedCurrPeriod: number;
  netVatDue: number;
  totalValueSalesExVAT: number;
  totalValuePurchasesExVAT: number;
  totalValueGoodsSuppliedExVAT: number;
  totalAcquisitionsExVAT: number;
}

export interface SubmitResult {
  processingDate: string;
  paymentIndicator?: 'DD' | 'BANK';
  formBundleNumber: string;
  chargeRefNumber?: string;
}

const MAX_2DP = 9_999_999_999_999.99;
const MAX_NET = 99_999_999_999.99;
const MAX_WHOLE = 9_999_999_999_999;
const NUMERIC = 'please provide a numeric field';
const MONEY_2DP = 'amount should be a monetary value (to 2 decimal places), between -9,999,999,999,999.99 and 9,999,999,999,999.99';
const MONEY_NET = 'amount should be a monetary value (to 2 decimal places), between 0 and 99,999,999,999.99';
const MONEY_WHOLE = 'amount should be a monetary value (to 2 zeroed decimal places), between -9,999,999,999,999 and 9,999,999,999,999';

const twoDp = (v: number): boolean => /^-?\d+(\.\d{1,2})?$/.test(String(v));
const cents = (v: number): number => Math.round(v * 100);

/** Every problem with a 9-box return body, each with its JSON pointer; empty when valid. */
export function validateReturn(body: unknown): FieldError[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [{ code: 'INVALID_REQUEST', message: 'the body must be a JSON object', path: '' }];
  const b = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  const pk = b.periodKey;
  if (typeof pk !== 'string' || !isPeriodKey(pk)) errors.push({ code: 'PERIOD_KEY_INVALID', message: 'Invalid period key', path: '/periodKey' });
  const money = (name: string, ok: (v: number) => boolean, message: string): boolean => {
    const v = b[name];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      errors.push({ code: 'INVALID_NUMERIC_VALUE', message: NUMERIC, path: `/${name}` });
      return false;
    }
    if (!ok(v)) {
      errors.push({ code: 'INVALID_MONETARY_AMOUNT', message, path: `/${name}` });
      return false;
    }
    return true;
  };
  const ok2dp = Object.fromEntries(BOXES_2DP.map((n) => [n, money(n, (v) => twoDp(v) && Math.abs(v) <= MAX_2DP, MONEY_2DP)])) as Record<(typeof BOXES_2DP)[number], boolean>;
  const netOk = money('netVatDue', (v) => twoDp(v) && v >= 0 && v <= MAX_NET, MONEY_NET);
  for (const n of BOXES_WHOLE) money(n, (v) => Number.isInteger(v) && Math.abs(v) <= MAX_WHOLE, MONEY_WHOLE);
  if (typeof b.finalised !== 'boolean') errors.push({ code: 'INVALID_REQUEST', message: 'please provide a boolean field', path: '/finalised' });

  const n = (k: string): number => b[k] as number;
  if (ok2dp.vatDueSales && ok2dp.vatDueAcquisitions && ok2dp.totalVatDue && cents(n('totalVatDue')) !== cents(n('vatDueSales')) + cents(n('vatDueAcquisitions'))) {
    errors.push({ code: 'VAT_TOTAL_VALUE', message: 'totalVatDue should be equal to the sum of vatDueSales and vatDueAcquisitions', path: '/totalVatDue' });
  }
  if (ok2dp.totalVatDue && ok2dp.vatReclaimedCurrPeriod && netOk && cents(n('netVatDue')) !== Math.abs(cents(n('totalVatDue')) - cents(n('vatReclaimedCurrPeriod')))) {
    errors.push({
      code: 'VAT_NET_VALUE',
      message: 'netVatDue should be the difference between the largest and the smallest values among totalVatDue and vatReclaimedCurrPeriod',
      path: '/netVatDue',
    });
  }
  return errors;
}

// ---------- liabilities & payments ----------

export interface Liability {
  taxPeriod?: { from: string; to: string };
  type: string;
  originalAmount: number;
  outstandingAmount?: number;
  due?: string;
}
export interface Payment {
  amount: number;
  received?: string;
}

const liability = (from: string, to: string, amount: number, outstanding: number, due: string): Liability => ({
  taxPeriod: { from, to },
  type: 'VAT Return Debit Charge',
  originalAmount: amount,
  outstandingAmount: outstanding,
  due,
});
/** The spec's liabilities scenarios: data whose 'to' date falls in the ranges the spec names. */
const LIABILITY_SCENARIOS: Record<string, Liability[]> = {
  SINGLE_LIABILITY: [liability('2017-01-01', '2017-02-01', 463872, 463872, '2017-03-08')],
  MULTIPLE_LIABILITIES: [
    liability('2017-04-06', '2017-07-06', 15, 15, '2017-08-07'),
    liability('2017-07-01', '2017-09-30', 463872, 0, '2017-11-07'),
    liability('2017-10-01', '2017-12-01', 6000.3, 100.51, '2018-01-07'),
  ],
  SINGLE_LIABILITY_2018_19: [liability('2018-01-01', '2018-02-01', 463872, 463872, '2018-03-08')],
  MULTIPLE_LIABILITIES_2018_19: [
    liability('2018-04-06', '2018-07-06', 6000.3, 100.51, '2018-07-06'),
    liability('2018-07-01', '2018-09-30', 463872, 0, '2018-11-07'),
    liability('2018-10-01', '2018-12-01', 15, 15, '2019-01-07'),
  ],
};
const PAYMENT_SCENARIOS: Record<string, Payment[]> = {
  SINGLE_PAYMENT: [{ amount: 100.05, received: '2017-02-01' }],
  MULTIPLE_PAYMENTS: [
    { amount: 5, received: '2017-02-28' },
    { amount: 50, received: '2017-06-11' },
    { amount: 1000, received: '2017-12-20' },
  ],
  SINGLE_PAYMENT_2018_19: [{ amount: 100.05, received: '2018-02-01' }],
  MULTIPLE_PAYMENTS_2018_19: [
    { amount: 5, received: '2018-02-28' },
    { amount: 50, received: '2018-06-11' },
    { amount: 1000, received: '2018-12-20' },
  ],
};

// ---------- the store ----------

interface Submission {
  vatReturn: VatReturn;
  received: string;
  period: Period;
}

export class VatService {
  private readonly returns = new Map<string, Map<string, Submission>>();

  constructor(
    private readonly vrns: ReadonlySet<string>,
    private readonly clock: () => number = Date.now,
  ) {}

  reset(): void {
    this.returns.clear();
  }

  /** 400 VRN_INVALID for a malformed VRN, 403 CLIENT_OR_AGENT_NOT_AUTHORISED when the user is not enrolled for it. */
  requireVrn(vrn: string): void {
    if (!isVrn(vrn)) throw vatErrors.vrnInvalid();
    if (!this.vrns.has(vrn)) throw vatErrors.notAuthorised();
  }

  obligations(vrn: string, q: ObligationQuery, scenario: string | undefined): Obligation[] {
    const status = q.status;
    // from/to are mandatory unless status is O; when given they must be real dates.
    const needDates = status !== 'O' || q.from !== null || q.to !== null;
    const from = parseDate(q.from);
    const to = parseDate(q.to);
    if (needDates && from === undefined) throw new HmrcError(400, 'INVALID_DATE_FROM', 'The provided from date is invalid');
    if (needDates && to === undefined) throw new HmrcError(400, 'INVALID_DATE_TO', 'The provided to date is invalid');
    if (status !== null && status !== 'O' && status !== 'F') throw new HmrcError(400, 'INVALID_STATUS', 'The provided data is failed validation, invalid status');
    if (from !== undefined && to !== undefined) {
      const days = daysBetween(from, to);
      if (days < 0 || days > 366) throw new HmrcError(400, 'INVALID_DATE_RANGE', 'Invalid date range, must be 366 days or less');
    }
    if (scenario === 'INSOLVENT_TRADER') throw vatErrors.insolvent();
    if (scenario === 'NOT_FOUND') throw vatErrors.notFound();

    // Sandbox scenario data is fixed (2018) and ignores the dates, as the sandbox does; the status filter applies.
    let list = (scenario !== undefined ? scenarioObligations(scenario) : undefined) ?? this.derived(vrn, from, to);
    if (status !== null) list = list.filter((o) => o.status === status);
    if (list.length === 0) throw vatErrors.notFound();
    return list;
  }

  /**
   * Calendar quarters overlapping [from, to] that have started; with no dates (status=O), the quarters that started
   * in the last 366 days. Open until a return is stored for the periodKey, then fulfilled on the day it was received.
   */
  private derived(vrn: string, from: string | undefined, to: string | undefined): Obligation[] {
    const now = today(this.clock());
    const lo = from ?? addDays(now, -366);
    const hi = to !== undefined && to < now ? to : now;
    const out: Obligation[] = [];
    let [y, q] = quarterContaining(lo);
    for (;;) {
      const p = quarter(y, q);
      if (p.start > hi) break;
      if (p.end >= lo) {
        const sub = this.returns.get(vrn)?.get(p.periodKey);
        out.push(sub ? { ...p, status: 'F', received: sub.received } : { ...p, status: 'O' });
      }
      [y, q] = q === 4 ? [y + 1, 1] : [y, q + 1];
    }
    return out;
  }

  submit(vrn: string, body: unknown, scenario: string | undefined): SubmitResult {
    switch (scenario) {
      case 'INVALID_VRN':
        throw vatErrors.vrnInvalid();
      case 'INVALID_PERIODKEY':
        throw vatErrors.periodKeyInvalid();
      case 'INVALID_PAYLOAD':
        throw vatErrors.invalidRequest();
      case 'DUPLICATE_SUBMISSION':
        throw vatErrors.duplicate();
      case 'TAX_PERIOD_NOT_ENDED':
        throw vatErrors.periodNotEnded();
      case 'INSOLVENT_TRADER':
        throw vatErrors.insolvent();
    }
    const errors = validateReturn(body);
    if (errors.length > 0) throw vatErrors.invalidRequest(errors);
    const b = body as Record<string, unknown>;
    if (b.finalised !== true) throw vatErrors.notFinalised();
    const vatReturn = Object.fromEntries(RETURN_FIELDS.map((k) => [k, b[k]])) as unknown as VatReturn;

    let byKey = this.returns.get(vrn);
    if (byKey?.has(vatReturn.periodKey)) throw vatErrors.duplicate();
    // Only periodKeys of this user's obligations (started calendar quarters) can be filed.
    const now = this.clock();
    const period = quarterOfKey(vatReturn.periodKey);
    if (!period || period.start > today(now)) throw vatErrors.periodKeyInvalid();
    if (period.end >= today(now)) throw vatErrors.periodNotEnded();

    if (!byKey) this.returns.set(vrn, (byKey = new Map()));
    byKey.set(vatReturn.periodKey, { vatReturn, received: today(now), period });

    const net = cents(vatReturn.totalVatDue) - cents(vatReturn.vatReclaimedCurrPeriod);
    const result: SubmitResult = { processingDate: new Date(now).toISOString(), formBundleNumber: digits(12) };
    // DD when the net is a debit (and a charge reference is issued), BANK when a credit; absent when nil.
    if (net > 0) {
      result.paymentIndicator = 'DD';
      result.chargeRefNumber = chargeRef();
    } else if (net < 0) result.paymentIndicator = 'BANK';
    return result;
  }

  getReturn(vrn: string, periodKey: string, scenario: string | undefined): VatReturn {
    if (!isPeriodKey(periodKey)) throw vatErrors.periodKeyInvalid();
    if (scenario === 'DATE_RANGE_TOO_LARGE') throw vatErrors.dateRangeTooLarge();
    if (scenario === 'INSOLVENT_TRADER') throw vatErrors.insolvent();
    const sub = this.returns.get(vrn)?.get(periodKey);
    if (!sub) throw vatErrors.notFound();
    return { ...sub.vatReturn };
  }

  /** Default: a 'VAT Return Debit Charge' per submitted return with VAT to pay; scenarios: the spec's data sets. */
  liabilities(vrn: string, from: string | null, to: string | null, scenario: string | undefined): Liability[] {
    const [f, t] = this.range(from, to, scenario);
    const source =
      (scenario !== undefined ? LIABILITY_SCENARIOS[scenario] : undefined) ??
      [...(this.returns.get(vrn)?.values() ?? [])]
        .filter((s) => s.vatReturn.totalVatDue > s.vatReturn.vatReclaimedCurrPeriod)
        .map((s) => liability(s.period.start, s.period.end, s.vatReturn.netVatDue, s.vatReturn.netVatDue, s.period.due));
    const list = source.filter((l) => l.taxPeriod !== undefined && l.taxPeriod.to >= f && l.taxPeriod.to <= t);
    if (list.length === 0) throw vatErrors.notFound();
    return list;
  }

  /** Default: no payments received (404 NOT_FOUND, as the sandbox); scenarios: the spec's data sets. */
  payments(_vrn: string, from: string | null, to: string | null, scenario: string | undefined): Payment[] {
    const [f, t] = this.range(from, to, scenario);
    const list = ((scenario !== undefined ? PAYMENT_SCENARIOS[scenario] : undefined) ?? []).filter((p) => p.received !== undefined && p.received >= f && p.received <= t);
    if (list.length === 0) throw vatErrors.notFound();
    return list;
  }

  /** Liabilities/payments parameters: both dates required, 'to' not after today, at most 365 days. */
  private range(from: string | null, to: string | null, scenario: string | undefined): [string, string] {
    const f = parseDate(from);
    const t = parseDate(to);
    if (f === undefined) throw new HmrcError(400, 'DATE_FROM_INVALID', 'The provided from date is invalid');
    if (t === undefined || t > today(this.clock())) throw new HmrcError(400, 'DATE_TO_INVALID', 'The provided to date is invalid');
    const days = daysBetween(f, t);
    if (days < 0 || days > 365) throw new HmrcError(400, 'DATE_RANGE_INVALID', 'Invalid date range, must be 365 days or less');
    if (scenario === 'INSOLVENT_TRADER') throw vatErrors.insolvent();
    return [f, t];
  }
}

function digits(n: number): string {
  let s = String(randomInt(1, 10));
  while (s.length < n) s += String(randomInt(0, 10));
  return s;
}
function chargeRef(): string {
  return randomBytes(12).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(16, 'X').slice(0, 16);
}
