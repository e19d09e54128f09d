import { periodThresholdPence, type PayFrequency, type TaxYearRates } from './rates.ts';

export type LoanPlan = 'PLAN_1' | 'PLAN_2' | 'PLAN_4' | 'POSTGRADUATE';

/**
 * Student and postgraduate loan deductions: 9% (postgraduate 6%) of the period's NI-able earnings above the plan's
 * period threshold, rounded down to the whole pound; not cumulative. An employee may repay one undergraduate plan and
 * a postgraduate loan at once.
 */
export function loanDeduction(rates: TaxYearRates, plan: LoanPlan, frequency: PayFrequency, earnings: number): number {
  const p = rates.studentLoans[plan];
  const over = earnings - periodThresholdPence(p.threshold, frequency);
  if (over <= 0) return 0;
  return Math.floor((over * p.rateBp) / 1_000_000) * 100;
}
