import { existsSync, readFileSync } from 'node:fs';

/**
 * PAYE rates and thresholds of one tax year, read from `data/paye-rates-<year>.json` (HMRC's figures as Payetools
 * publishes them, MIT). A tax year is data: a year with no file is refused, naming the file it needs.
 */
export type PayFrequency = 'WEEKLY' | 'FORTNIGHTLY' | 'FOUR_WEEKLY' | 'MONTHLY';
export type Region = 'rUK' | 'SCOTLAND' | 'WALES';

export interface TaxBand {
  /** Cumulative annual taxable pay this band reaches, whole pounds; null for the top band. */
  to: number | null;
  /** Rate in basis points (0.2 → 2000, 0.0185 → 185). */
  rateBp: number;
}

export interface PeriodAmounts {
  perWeek: number;
  perMonth?: number;
  perYear: number;
}

export interface NiEmployeeRates {
  ptToUelBp: number;
  aboveUelBp: number;
}
export interface NiEmployerRates {
  stToFustBp: number;
  fustToUstBp: number;
  aboveUstBp: number;
}

export interface TaxYearRates {
  /** "2025-26". */
  taxYear: string;
  incomeTax: Record<Region, TaxBand[]>;
  ni: {
    lel: PeriodAmounts;
    pt: PeriodAmounts;
    st: PeriodAmounts;
    fust: PeriodAmounts;
    izust: PeriodAmounts;
    ust: PeriodAmounts;
    aust: PeriodAmounts;
    vust: PeriodAmounts;
    uel: PeriodAmounts;
    employee: Record<string, NiEmployeeRates>;
    employer: Record<string, NiEmployerRates>;
  };
  studentLoans: Record<'PLAN_1' | 'PLAN_2' | 'PLAN_4' | 'POSTGRADUATE', { threshold: PeriodAmounts; rateBp: number }>;
  pensionBasicRateBp: number;
}

export class TaxYearNotSupported extends Error {
  constructor(
    readonly taxYear: string,
    readonly needs: string[],
  ) {
    super(`tax year ${taxYear} has no rates on this hub: add ${needs.join(', ')}`);
  }
}

const DATA = new URL('../../data/', import.meta.url);
const bp = (r: number) => Math.round(r * 10_000);

/** "2025-26" from a date: the tax year runs 6 April to 5 April. */
export function taxYearOf(date: string | Date): string {
  const d = typeof date === 'string' ? new Date(`${date.slice(0, 10)}T12:00:00Z`) : date;
  const y = d.getUTCFullYear();
  const start = d.getUTCMonth() > 3 || (d.getUTCMonth() === 3 && d.getUTCDate() >= 6) ? y : y - 1;
  return `${start}-${String((start + 1) % 100).padStart(2, '0')}`;
}

export function ratesFileName(taxYear: string): string {
  return `paye-rates-${taxYear}.json`;
}

interface RawThreshold { thresholdName: string; perWeek: number; perMonth?: number; perYear: number }

/** Parses Payetools' reference-data layout into the calculator's shape. */
export function parseRates(taxYear: string, raw: any): TaxYearRates {
  const it = raw.incomeTax[0].taxEntries as Array<{ applicableCountries: string; taxBands: Array<{ to: number | null; rate: number }> }>;
  const bandsFor = (country: string) => {
    const e = it.find((x) => x.applicableCountries.split(' ').includes(country));
    if (!e) throw new Error(`rates ${taxYear}: no income tax bands for ${country}`);
    return e.taxBands.map((b) => ({ to: b.to, rateBp: bp(b.rate) }));
  };
  const ni = raw.nationalInsurance[0];
  const th = (name: string): PeriodAmounts => {
    const t = (ni.niThresholds as RawThreshold[]).find((x) => x.thresholdName === name);
    if (!t) throw new Error(`rates ${taxYear}: no NI threshold "${name}"`);
    return { perWeek: t.perWeek, perMonth: t.perMonth, perYear: t.perYear };
  };
  const employee: Record<string, NiEmployeeRates> = {};
  for (const r of ni.employeeRates) for (const c of r.niCategories) employee[c] = { ptToUelBp: bp(r.forEarningsAbovePTUpToAndIncludingUEL), aboveUelBp: bp(r.forEarningsAboveUEL) };
  const employer: Record<string, NiEmployerRates> = {};
  for (const r of ni.employerRates)
    for (const c of r.niCategories)
      employer[c] = { stToFustBp: bp(r.forEarningsAboveSTUpToAndIncludingFUST), fustToUstBp: bp(r.forEarningsAboveFUSTUpToAndIncludingUELOrUST), aboveUstBp: bp(r.forEarningsAboveUELOrUST) };
  const sl = raw.studentLoans[0];
  const plan = (t: { perWeek: number; perMonth: number; perYear: number }, rate: number) => ({ threshold: t, rateBp: bp(rate) });
  return {
    taxYear,
    incomeTax: { rUK: bandsFor('GB-ENG'), SCOTLAND: bandsFor('GB-SCT'), WALES: bandsFor('GB-WLS') },
    ni: {
      lel: th('Lower Earnings Limit'),
      pt: th('Primary Threshold'),
      st: th('Secondary Threshold'),
      fust: th('Freeport Upper Secondary Threshold'),
      izust: th('Investment Zone Upper Secondary Threshold'),
      ust: th('Upper Secondary Threshold'),
      aust: th('Apprentice Upper Secondary Threshold'),
      vust: th('Veterans Upper Secondary Threshold'),
      uel: th('Upper Earnings Limit'),
      employee,
      employer,
    },
    studentLoans: {
      PLAN_1: plan(sl.plan1Thresholds, sl.deductionRates.student),
      PLAN_2: plan(sl.plan2Thresholds, sl.deductionRates.student),
      PLAN_4: plan(sl.plan4Thresholds, sl.deductionRates.student),
      POSTGRADUATE: plan(sl.postGradThresholds, sl.deductionRates.postGrad),
    },
    pensionBasicRateBp: bp(raw.pensions[0].basicRateOfTaxForTaxRelief),
  };
}

const cache = new Map<string, TaxYearRates>();

/** The rates of a tax year ("2025-26"); refuses a year with no file. */
export function ratesFor(taxYear: string): TaxYearRates {
  const hit = cache.get(taxYear);
  if (hit) return hit;
  if (!/^\d{4}-\d{2}$/.test(taxYear)) throw new TaxYearNotSupported(taxYear, ['a tax year written as 2025-26']);
  const file = new URL(ratesFileName(taxYear), DATA);
  if (!existsSync(file)) throw new TaxYearNotSupported(taxYear, [`subgraphs/payroll/data/${ratesFileName(taxYear)}`]);
  const rates = parseRates(taxYear, JSON.parse(readFileSync(file, 'utf8')));
  cache.set(taxYear, rates);
  return rates;
}

/** How the weekly tables serve each frequency: a fortnight is two weeks, four weeks four (HMRC's rule). */
export const FREQUENCY: Record<PayFrequency, { periodsPerYear: number; unit: 52 | 12; unitsPerPeriod: number }> = {
  WEEKLY: { periodsPerYear: 52, unit: 52, unitsPerPeriod: 1 },
  FORTNIGHTLY: { periodsPerYear: 26, unit: 52, unitsPerPeriod: 2 },
  FOUR_WEEKLY: { periodsPerYear: 13, unit: 52, unitsPerPeriod: 4 },
  MONTHLY: { periodsPerYear: 12, unit: 12, unitsPerPeriod: 1 },
};

/** A period threshold in pence: weekly figures times the weeks of the period, or the monthly one. */
export function periodThresholdPence(t: PeriodAmounts, frequency: PayFrequency): number {
  const f = FREQUENCY[frequency];
  if (f.unit === 12) {
    if (t.perMonth === undefined) throw new Error('no monthly figure for this threshold');
    return Math.round(t.perMonth * 100);
  }
  return Math.round(t.perWeek * 100) * f.unitsPerPeriod;
}
