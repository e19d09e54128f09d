import { periodThresholdPence, type PayFrequency, type PeriodAmounts, type TaxYearRates } from './rates.ts';

/**
 * National Insurance by HMRC's exact percentage method, per category letter. Earnings below the Lower Earnings Limit
 * pay none; employee (primary) NICs are due on earnings above the Primary Threshold (the main rate to the Upper
 * Earnings Limit, the additional rate above); employer (secondary) NICs above the Secondary Threshold, at the rates
 * of the category between the thresholds that category uses (freeport / investment zone, apprentice, under-21,
 * veterans). Each total is rounded to the nearest penny, an exact half penny down.
 */
export const NI_CATEGORIES = ['A', 'B', 'C', 'D', 'E', 'F', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'S', 'V', 'Z', 'X'] as const;
export type NiCategory = (typeof NI_CATEGORIES)[number];

export interface NiThresholds {
  lel: number;
  pt: number;
  st: number;
  fust: number;
  ust: number;
  uel: number;
}

export interface NiResult {
  employee: number;
  employer: number;
  /** Earnings at the LEL, from LEL to PT, from PT to UEL (pence; HMRC reports them in whole pounds). */
  atLel: number;
  lelToPt: number;
  ptToUel: number;
}

/** Pence × basis points (1e-6 £) to pence: nearest, a half penny down. */
function roundHalfDown(x: number): number {
  const whole = Math.floor(x / 10_000);
  return x - whole * 10_000 > 5_000 ? whole + 1 : whole;
}

const FREEPORT = new Set(['F', 'I', 'L', 'S']);
const INVESTMENT_ZONE = new Set(['D', 'E', 'K', 'N']);

function upperSecondary(category: string, pick: (t: PeriodAmounts) => number, rates: TaxYearRates): { fust: number; ust: number } {
  const n = rates.ni;
  const fust = pick(INVESTMENT_ZONE.has(category) ? n.izust : n.fust);
  const ust = pick(category === 'H' ? n.aust : category === 'V' ? n.vust : category === 'M' || category === 'Z' ? n.ust : n.uel);
  return { fust, ust };
}

export function periodThresholds(rates: TaxYearRates, category: string, frequency: PayFrequency): NiThresholds {
  const pick = (t: PeriodAmounts) => periodThresholdPence(t, frequency);
  const n = rates.ni;
  return { lel: pick(n.lel), pt: pick(n.pt), st: pick(n.st), uel: pick(n.uel), ...upperSecondary(category, pick, rates) };
}

/** Annual thresholds, pro rata for a director appointed in the year (weeks of the annual earnings period / 52, rounded up to the pound). */
export function annualThresholds(rates: TaxYearRates, category: string, weeks = 52): NiThresholds {
  const pick = (t: PeriodAmounts) => (weeks >= 52 ? t.perYear * 100 : Math.ceil((t.perYear * weeks) / 52) * 100);
  const n = rates.ni;
  return { lel: pick(n.lel), pt: pick(n.pt), st: pick(n.st), uel: pick(n.uel), ...upperSecondary(category, pick, rates) };
}

const over = (e: number, from: number, to = Infinity) => Math.max(0, Math.min(e, to) - from);

/** NICs on earnings `e` (pence) against thresholds `t`. */
export function niOn(rates: TaxYearRates, category: string, e: number, t: NiThresholds): NiResult {
  const cat = category.toUpperCase();
  if (cat === 'X') return { employee: 0, employer: 0, atLel: 0, lelToPt: 0, ptToUel: 0 };
  const ee = rates.ni.employee[cat];
  const er = rates.ni.employer[cat];
  if (!ee || !er) throw new Error(`NI category ${category} has no rates in ${rates.taxYear}`);
  if (e < t.lel) return { employee: 0, employer: 0, atLel: 0, lelToPt: 0, ptToUel: 0 };
  const employee = roundHalfDown(over(e, t.pt, t.uel) * ee.ptToUelBp + over(e, t.uel) * ee.aboveUelBp);
  const employer = roundHalfDown(over(e, t.st, t.fust) * er.stToFustBp + over(e, Math.max(t.st, t.fust), t.ust) * er.fustToUstBp + over(e, Math.max(t.st, t.ust)) * er.aboveUstBp);
  return { employee, employer, atLel: t.lel, lelToPt: over(e, t.lel, t.pt), ptToUel: over(e, t.pt, t.uel) };
}

/** An employee's NICs for one pay period. */
export function niForPeriod(rates: TaxYearRates, category: string, frequency: PayFrequency, earnings: number): NiResult {
  return niOn(rates, category, earnings, periodThresholds(rates, category, frequency));
}

export interface DirectorNiInput {
  category: string;
  frequency: PayFrequency;
  /** 'ANNUAL': the standard annual earnings period; 'ALTERNATIVE': per period, squared up annually in the last period. */
  method: 'ANNUAL' | 'ALTERNATIVE';
  period: number;
  earnings: number;
  /** Earnings of earlier periods of the year as a director, pence. */
  earningsToDate: number;
  employeePaidToDate: number;
  employerPaidToDate: number;
  /** Weeks of the annual earnings period (52, or fewer for a director appointed in the year). */
  weeks?: number;
  /** The last payment of the year (or as a director): the alternative method squares up on the annual basis. */
  final?: boolean;
}

/** A director's NICs for one payment: on the annual earnings period, or the alternative arrangement. */
export function directorNi(rates: TaxYearRates, d: DirectorNiInput): NiResult {
  const annual = () => {
    const r = niOn(rates, d.category, d.earningsToDate + d.earnings, annualThresholds(rates, d.category, d.weeks ?? 52));
    return { ...r, employee: r.employee - d.employeePaidToDate, employer: r.employer - d.employerPaidToDate };
  };
  if (d.method === 'ANNUAL') return annual();
  const periodic = niForPeriod(rates, d.category, d.frequency, d.earnings);
  if (!d.final) return periodic;
  const a = annual();
  return { ...periodic, employee: a.employee, employer: a.employer };
}
