import { incomeTax } from './income-tax.ts';
import { directorNi, niForPeriod, type NiResult } from './ni.ts';
import { pensionContributions, type Pension } from './pension.ts';
import type { PayFrequency, TaxYearRates } from './rates.ts';
import { loanDeduction, type LoanPlan } from './student-loan.ts';
import { parseTaxCode } from './tax-code.ts';

/** What an employee has been paid and had deducted earlier in the tax year (pence). */
export interface YearToDate {
  grossPay: number;
  taxablePay: number;
  tax: number;
  niablePay: number;
  employeeNi: number;
  employerNi: number;
  studentLoan: number;
  postgraduateLoan: number;
  pensionEmployee: number;
  pensionEmployer: number;
}

export const ZERO_YTD: YearToDate = { grossPay: 0, taxablePay: 0, tax: 0, niablePay: 0, employeeNi: 0, employerNi: 0, studentLoan: 0, postgraduateLoan: 0, pensionEmployee: 0, pensionEmployer: 0 };

export interface PayInput {
  frequency: PayFrequency;
  period: number;
  taxCode: string;
  week1Month1?: boolean;
  niCategory: string;
  director?: { method: 'ANNUAL' | 'ALTERNATIVE'; weeks?: number; final?: boolean } | null;
  /** Gross pay of the period, pence. */
  gross: number;
  pension?: Pension | null;
  studentLoanPlan?: Exclude<LoanPlan, 'POSTGRADUATE'> | null;
  postgraduateLoan?: boolean;
  ytd: YearToDate;
}

export interface Payslip {
  gross: number;
  pensionEmployee: number;
  pensionEmployer: number;
  taxablePay: number;
  tax: number;
  employeeNi: number;
  employerNi: number;
  ni: NiResult;
  studentLoan: number;
  postgraduateLoan: number;
  net: number;
  /** Year to date after this period. */
  ytd: YearToDate;
}

/** Gross to net for one employee and period. */
export function calculatePay(rates: TaxYearRates, i: PayInput): Payslip {
  const pension = pensionContributions(rates, i.pension, i.gross);
  const taxablePay = i.gross - pension.beforeTax;
  const code = parseTaxCode(i.taxCode, i.week1Month1 ?? false);
  const tax = incomeTax(rates, { code, frequency: i.frequency, period: i.period, taxablePay, taxablePayToDate: i.ytd.taxablePay, taxPaidToDate: i.ytd.tax });
  const ni = i.director
    ? directorNi(rates, {
        category: i.niCategory,
        frequency: i.frequency,
        method: i.director.method,
        period: i.period,
        earnings: i.gross,
        earningsToDate: i.ytd.niablePay,
        employeePaidToDate: i.ytd.employeeNi,
        employerPaidToDate: i.ytd.employerNi,
        weeks: i.director.weeks,
        final: i.director.final,
      })
    : niForPeriod(rates, i.niCategory, i.frequency, i.gross);
  const studentLoan = i.studentLoanPlan ? loanDeduction(rates, i.studentLoanPlan, i.frequency, i.gross) : 0;
  const postgraduateLoan = i.postgraduateLoan ? loanDeduction(rates, 'POSTGRADUATE', i.frequency, i.gross) : 0;
  const net = i.gross - pension.deducted - tax.tax - ni.employee - studentLoan - postgraduateLoan;
  const y = i.ytd;
  return {
    gross: i.gross,
    pensionEmployee: pension.deducted,
    pensionEmployer: pension.employer,
    taxablePay,
    tax: tax.tax,
    employeeNi: ni.employee,
    employerNi: ni.employer,
    ni,
    studentLoan,
    postgraduateLoan,
    net,
    ytd: {
      grossPay: y.grossPay + i.gross,
      taxablePay: y.taxablePay + taxablePay,
      tax: y.tax + tax.tax,
      niablePay: y.niablePay + i.gross,
      employeeNi: y.employeeNi + ni.employee,
      employerNi: y.employerNi + ni.employer,
      studentLoan: y.studentLoan + studentLoan,
      postgraduateLoan: y.postgraduateLoan + postgraduateLoan,
      pensionEmployee: y.pensionEmployee + pension.deducted,
      pensionEmployer: y.pensionEmployer + pension.employer,
    },
  };
}
