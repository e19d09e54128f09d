import type { TaxYearRates } from './rates.ts';

/**
 * Pension contributions. Under a net pay arrangement the employee's contribution comes off pay before tax (not before
 * NI). Under relief at source it comes off net pay at 80% (the scheme claims the basic-rate 20% from HMRC), and taxable
 * pay is unchanged. Percentages in basis points of pensionable pay; amounts rounded to the nearest penny.
 */
export type PensionScheme = 'NET_PAY' | 'RELIEF_AT_SOURCE';

export interface Pension {
  scheme: PensionScheme;
  employeeBp: number;
  employerBp: number;
}

export interface PensionResult {
  /** The employee's gross contribution. */
  employeeGross: number;
  /** What comes off the employee's pay: the gross contribution (net pay) or it less basic-rate relief (relief at source). */
  deducted: number;
  /** Taken off taxable pay (net pay arrangement only). */
  beforeTax: number;
  employer: number;
}

const pct = (pay: number, bp: number) => Math.round((pay * bp) / 10_000);

export function pensionContributions(rates: TaxYearRates, pension: Pension | null | undefined, pensionablePay: number): PensionResult {
  if (!pension) return { employeeGross: 0, deducted: 0, beforeTax: 0, employer: 0 };
  const employeeGross = pct(pensionablePay, pension.employeeBp);
  const employer = pct(pensionablePay, pension.employerBp);
  if (pension.scheme === 'NET_PAY') return { employeeGross, deducted: employeeGross, beforeTax: employeeGross, employer };
  const deducted = employeeGross - pct(employeeGross, rates.pensionBasicRateBp);
  return { employeeGross, deducted, beforeTax: 0, employer };
}
