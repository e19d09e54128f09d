import { FREQUENCY, type PayFrequency, type TaxBand, type TaxYearRates } from './rates.ts';
import type { TaxCode } from './tax-code.ts';

/**
 * Income tax by HMRC's exact percentage method (Specification for PAYE Tax Table Routines):
 * - the pay adjustment (free pay, or additional pay for K codes) per period: the code number's part up to 500 is
 *   (r × 10 + 9) / 52 or / 12, and each further 500 adds £5,000 / 52 or / 12, each rounded up to the penny; to date
 *   it is the period figure times the period number;
 * - taxable pay to date = pay to date − free pay to date (+ additional pay), rounded down to the pound;
 * - the band limits and the tax of the full bands, pro rata to date, are taken to 4 decimal places (rounded down),
 *   the tax to date is rounded down to the penny;
 * - week 1 / month 1 codes use period 1's figures on the period's pay alone;
 * - the regulatory limit: the tax of a period never exceeds half the period's taxable pay.
 * Amounts are integer pence; band arithmetic is in ten-thousandths of a pound, never binary fractions.
 */
export interface IncomeTaxInput {
  code: TaxCode;
  frequency: PayFrequency;
  /** 1-based tax period in the frequency (month 1..12, week 1..52 or 53, fortnight 1..26 or 27, four-week 1..13 or 14). */
  period: number;
  /** Taxable pay of this period, pence. */
  taxablePay: number;
  /** Taxable pay of earlier periods of the year with this employer, pence (ignored on week 1 / month 1). */
  taxablePayToDate: number;
  /** Tax deducted in earlier periods, pence. */
  taxPaidToDate: number;
}

export interface IncomeTaxResult {
  /** Tax for this period, pence: negative is a refund. */
  tax: number;
  /** Tax due to date after this period, pence. */
  taxToDate: number;
  /** Free pay to date (negative: K codes' additional pay), pence. */
  freePay: number;
  /** Taxable pay after free pay, whole pounds. */
  taxableAfterAllowance: number;
  /** Tax the regulatory limit held back this period, pence. */
  heldBack: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Free pay (pence) of one period for a code number: HMRC's Table A rule. */
export function periodPayAdjustment(codeNumber: number, unit: 52 | 12): number {
  if (codeNumber <= 0) return 0;
  const q = codeNumber > 500 ? Math.floor((codeNumber - 1) / 500) : 0;
  const r = codeNumber - q * 500;
  return q * ceilDiv(500_000, unit) + ceilDiv((r * 10 + 9) * 100, unit);
}

/** Tax (pence) on taxable pay T (whole pounds) over `n` of `unit` periods. */
export function bandTax(bands: TaxBand[], T: number, n: number, unit: number): number {
  if (T <= 0) return 0;
  let below = 0; // cumulative band width below, 1/10000 £
  let taxBelow = 0; // cumulative tax of full bands below, 1/10000 £
  let annualWidth = 0; // annual cumulative width, £
  let annualTax = 0; // annual cumulative tax, 1/10000 £
  for (const b of bands) {
    if (b.to !== null) {
      const width = b.to - annualWidth;
      annualWidth = b.to;
      annualTax += width * b.rateBp;
      const limit = Math.floor((annualWidth * 10_000 * n) / unit); // 4 dp, rounded down
      if (T > Math.ceil(limit / 10_000)) {
        below = limit;
        taxBelow = Math.floor((annualTax * n) / unit);
        continue;
      }
    }
    // T falls in this band: the full bands below plus this band's share, rounded down to the penny.
    const scaled = taxBelow * 10_000 + (T * 10_000 - below) * b.rateBp; // 1e-8 £
    return Math.floor(scaled / 1_000_000);
  }
  return 0;
}

/** The rate of a fixed code (BR, D0..D3) in the region's bands. */
function fixedRate(bands: TaxBand[], code: TaxCode): number {
  const basic = code.region === 'SCOTLAND' ? 1 : 0;
  const index = code.kind === 'BR' ? basic : basic + 1 + code.number;
  const band = bands[index];
  if (!band) throw new Error(`${code.text}: no such rate in this year's bands`);
  return band.rateBp;
}

export function incomeTax(rates: TaxYearRates, i: IncomeTaxInput): IncomeTaxResult {
  const f = FREQUENCY[i.frequency];
  const bands = rates.incomeTax[i.code.region];
  // Weeks 53, 54 and 56 (and any period past the year's count) are taxed on the week 1 basis.
  const beyond = i.period > f.periodsPerYear;
  const nonCumulative = i.code.nonCumulative || beyond;
  const n = (nonCumulative ? 1 : i.period) * f.unitsPerPeriod;
  const payToDate = nonCumulative ? i.taxablePay : i.taxablePayToDate + i.taxablePay;
  const paidBefore = nonCumulative ? 0 : i.taxPaidToDate;
  let taxToDate: number;
  let freePay = 0;
  let T = 0;
  if (i.code.kind === 'NT') {
    taxToDate = 0;
  } else if (i.code.kind === 'BR' || i.code.kind === 'D') {
    T = Math.floor(payToDate / 100);
    taxToDate = Math.max(0, Math.floor((T * fixedRate(bands, i.code)) / 100));
  } else {
    const perPeriod = periodPayAdjustment(i.code.number, f.unit);
    freePay = (i.code.kind === 'K' ? -1 : 1) * perPeriod * n;
    T = Math.max(0, Math.floor((payToDate - freePay) / 100));
    taxToDate = bandTax(bands, T, n, f.unit);
  }
  let tax = taxToDate - paidBefore;
  // The regulatory limit: no more than half the period's pay (it matters for K codes).
  const limit = Math.floor(i.taxablePay / 2);
  let heldBack = 0;
  if (tax > limit) {
    heldBack = tax - limit;
    tax = limit;
  }
  return { tax, taxToDate: i.taxPaidToDate + tax, freePay, taxableAfterAllowance: T, heldBack };
}
