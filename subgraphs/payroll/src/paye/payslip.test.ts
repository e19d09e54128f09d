import { describe, expect, it } from 'vitest';
import { calculatePay, ZERO_YTD } from './payslip.ts';
import { ratesFor } from './rates.ts';
import { loanDeduction } from './student-loan.ts';

const rates = ratesFor('2025-26');

describe('gross to net', () => {
  it('monthly £2,500, 1257L, category A, plan 2 loan, 5% net pay pension', () => {
    const s = calculatePay(rates, {
      frequency: 'MONTHLY', period: 1, taxCode: '1257L', niCategory: 'A', gross: 250000,
      pension: { scheme: 'NET_PAY', employeeBp: 500, employerBp: 300 }, studentLoanPlan: 'PLAN_2', ytd: ZERO_YTD,
    });
    expect(s.pensionEmployee).toBe(12500);
    expect(s.taxablePay).toBe(237500);
    // floor(2375 − 1048.26) = 1326 × 20% = 265.20
    expect(s.tax).toBe(26520);
    // (2500 − 1048) × 8% = 116.16
    expect(s.employeeNi).toBe(11616);
    // 9% × (2500 − 2372.50) = 11.475 → £11
    expect(s.studentLoan).toBe(1100);
    expect(s.net).toBe(250000 - 12500 - 26520 - 11616 - 1100);
    expect(s.ytd.tax).toBe(26520);
  });
  it('relief at source comes off net pay at 80%, taxable pay unchanged', () => {
    const s = calculatePay(rates, {
      frequency: 'WEEKLY', period: 1, taxCode: '1257L', niCategory: 'A', gross: 60000,
      pension: { scheme: 'RELIEF_AT_SOURCE', employeeBp: 500, employerBp: 300 }, ytd: ZERO_YTD,
    });
    expect(s.taxablePay).toBe(60000);
    expect(s.pensionEmployee).toBe(2400);
    expect(s.pensionEmployer).toBe(1800);
  });
  it('loans: weekly and four-weekly thresholds, postgraduate 6%', () => {
    expect(loanDeduction(rates, 'PLAN_1', 'WEEKLY', 60000)).toBe(800); // 9% × 98.75 = 8.89 → £8
    expect(loanDeduction(rates, 'PLAN_1', 'FOUR_WEEKLY', 240000)).toBe(3500); // 9% × (2400 − 2005) = 35.55 → £35
    expect(loanDeduction(rates, 'POSTGRADUATE', 'MONTHLY', 200000)).toBe(1500); // 6% × 250 = 15
    expect(loanDeduction(rates, 'PLAN_4', 'MONTHLY', 100000)).toBe(0);
  });
});
