import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { directorNi, niForPeriod } from './ni.ts';
import { ratesFor } from './rates.ts';

interface Case {
  TestIdentifier: string;
  PayFrequency: 'Weekly' | 'Annually';
  GrossPay: number;
  GrossPayYtd: number;
  Period: number;
  NiCategory: string;
  EmployeeNiContribution: number;
  EmployerNiContribution: number;
  EmployeeNiContributionYtd: number;
  EmployerNiContributionYtd: number;
  EarningsAtLEL_YTD: number;
  EarningsLELtoPT_YTD: number;
  EarningsPTtoUEL_YTD: number;
  StatusMethod: 'AlternativeMethod' | 'StandardAnnualisedEarningsMethod';
  ProRataFactor?: number;
}

const cases = JSON.parse(readFileSync(new URL('../../data/test-cases/directors-ni-2025-26.json', import.meta.url), 'utf8')) as Case[];
const p = (x: number) => Math.round(x * 100);

/**
 * One erratum in HMRC's 2025-26 directors' test data: week 52 of test 1 gives the employer figure as 58.94, the
 * employee's figure repeated. On the annual basis the employer's NICs on £52,000 are 7,050.00 (test 3 of the same
 * data, the same pay), so week 52 is 7,050.00 − 6,915.60 = 134.40; the test asserts that figure.
 */
const ERRATA: Record<string, { employer: number; employerYtd: number }> = {
  '2025-26 Directors NICs test data v1.0/1_Dir_CatA_GBP1000pw/52': { employer: 13440, employerYtd: 705000 },
};

describe("directors' NI: HMRC 2025-26 test data", () => {
  const rates = ratesFor('2025-26');
  const ytd = new Map<string, { ee: number; er: number; lel: number; lelPt: number; ptUel: number }>();
  it.each(cases.map((c) => [c.TestIdentifier, c] as const))('%s', (id, c) => {
    const group = id.slice(0, id.lastIndexOf('/'));
    const prev = ytd.get(group) ?? { ee: 0, er: 0, lel: 0, lelPt: 0, ptUel: 0 };
    const weeks = c.ProRataFactor ? Math.round(c.ProRataFactor * 52) : 52;
    const annual = c.StatusMethod === 'StandardAnnualisedEarningsMethod';
    const r = directorNi(rates, {
      category: c.NiCategory,
      frequency: 'WEEKLY',
      method: annual ? 'ANNUAL' : 'ALTERNATIVE',
      period: c.Period,
      earnings: p(c.GrossPay),
      earningsToDate: p(c.GrossPayYtd) - p(c.GrossPay),
      employeePaidToDate: prev.ee,
      employerPaidToDate: prev.er,
      weeks,
      final: c.Period === 52,
    });
    const now = annual
      ? { ee: r.employee, er: r.employer, lel: r.atLel, lelPt: r.lelToPt, ptUel: r.ptToUel }
      : { ee: prev.ee + r.employee, er: prev.er + r.employer, lel: prev.lel + r.atLel, lelPt: prev.lelPt + r.lelToPt, ptUel: prev.ptUel + r.ptToUel };
    ytd.set(group, now);
    const erratum = ERRATA[id];
    expect(r.employee).toBe(p(c.EmployeeNiContribution));
    expect(now.ee).toBe(p(c.EmployeeNiContributionYtd));
    expect(r.employer).toBe(erratum?.employer ?? p(c.EmployerNiContribution));
    expect(now.er).toBe(erratum?.employerYtd ?? p(c.EmployerNiContributionYtd));
    expect([now.lel, now.lelPt, now.ptUel]).toEqual([p(c.EarningsAtLEL_YTD), p(c.EarningsLELtoPT_YTD), p(c.EarningsPTtoUEL_YTD)]);
  });
  it('covers every published case', () => expect(cases.length).toBe(106));
});

describe('NI per period', () => {
  const rates = ratesFor('2025-26');
  it('charges nothing below the LEL, and category rates above the thresholds', () => {
    expect(niForPeriod(rates, 'A', 'WEEKLY', 12000)).toMatchObject({ employee: 0, employer: 0 });
    // Monthly £2,000, category A: (2000 − 1048) × 8% = 76.16; (2000 − 417) × 15% = 237.45.
    expect(niForPeriod(rates, 'A', 'MONTHLY', 200000)).toMatchObject({ employee: 7616, employer: 23745 });
    // Category M (under 21): no employer NICs below the UST; C (over state pension age): no employee NICs.
    expect(niForPeriod(rates, 'M', 'MONTHLY', 200000).employer).toBe(0);
    expect(niForPeriod(rates, 'C', 'MONTHLY', 200000).employee).toBe(0);
    // Category B (reduced rate) 1.85%: (2000 − 1048) × 1.85% = 17.612 → 17.61.
    expect(niForPeriod(rates, 'B', 'MONTHLY', 200000).employee).toBe(1761);
    // Fortnightly thresholds are twice the weekly: PT 484.
    expect(niForPeriod(rates, 'A', 'FORTNIGHTLY', 100000).employee).toBe(Math.round((100000 - 48400) * 0.08));
  });
  it('rounds an exact half penny down', () => {
    // Category B, £10 above the weekly PT: 1.85% of £10 = 18.5p → 18p; £10.01 → 18.5185p → 19p.
    expect(niForPeriod(rates, 'B', 'WEEKLY', 24200 + 1000).employee).toBe(18);
    expect(niForPeriod(rates, 'B', 'WEEKLY', 24200 + 1001).employee).toBe(19);
  });
});
