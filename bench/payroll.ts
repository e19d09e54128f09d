/**
 * Payroll: PAYE for 10,000 employees (time per employee: tax, NI, loans, pension) and an FPS for 1,000 employees
 * (its size; the time to write it with its IRmark, and to check it against the schema with libxml2). In process, no
 * servers: the calculator and the writer are pure modules of the payroll subgraph.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { calculatePay, ZERO_YTD } from '../subgraphs/payroll/src/paye/payslip.ts';
import { ratesFor } from '../subgraphs/payroll/src/paye/rates.ts';
import { TEST_EMPLOYER, TEST_SENDER, testEmployee } from '../subgraphs/payroll/src/rti/fixtures.ts';
import { irmark } from '../subgraphs/payroll/src/rti/irmark.ts';
import { loadPack } from '../subgraphs/payroll/src/rti/packs.ts';
import { validateMessage } from '../subgraphs/payroll/src/rti/validate.ts';
import { buildFps } from '../subgraphs/payroll/src/rti/writer.ts';
import { envNumber } from './lib/env.ts';
import { machineInfo } from './lib/machine.ts';
import { writeJson } from './lib/report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/payroll.json', import.meta.url));
const CODES = ['1257L', 'S1257L', 'C1257L', 'K475', 'BR', 'D0', '0T', 'NT', '1257L M1', 'SD1'];
const CATEGORIES = ['A', 'B', 'C', 'H', 'M', 'Z', 'J'];

export async function runPayrollBench(): Promise<number> {
  const employees = envNumber('BENCH_PAYROLL_EMPLOYEES', 10_000);
  const fpsEmployees = envNumber('BENCH_FPS_EMPLOYEES', 1_000);
  const rates = ratesFor('2025-26');
  const inputs = Array.from({ length: employees }, (_, i) => ({
    frequency: (i % 4 === 0 ? 'WEEKLY' : 'MONTHLY') as 'WEEKLY' | 'MONTHLY',
    period: 1 + (i % 12),
    taxCode: CODES[i % CODES.length]!,
    niCategory: CATEGORIES[i % CATEGORIES.length]!,
    gross: 50_000 + ((i * 7919) % 900_000),
    pension: i % 3 === 0 ? { scheme: 'NET_PAY' as const, employeeBp: 500, employerBp: 300 } : i % 3 === 1 ? { scheme: 'RELIEF_AT_SOURCE' as const, employeeBp: 500, employerBp: 300 } : null,
    studentLoanPlan: i % 5 === 0 ? ('PLAN_2' as const) : null,
    postgraduateLoan: i % 11 === 0,
    ytd: { ...ZERO_YTD, taxablePay: (i % 12) * 200_000, tax: (i % 12) * 25_000 },
  }));
  // Warm up, then measure.
  for (const i of inputs.slice(0, 500)) calculatePay(rates, i);
  let t = performance.now();
  let net = 0;
  for (const i of inputs) net += calculatePay(rates, i).net;
  const payMs = performance.now() - t;

  const pack = loadPack('2014-15');
  const people = Array.from({ length: fpsEmployees }, (_, i) => testEmployee(i, { payId: `E${i + 1}` }));
  buildFps(pack, { employer: TEST_EMPLOYER, sender: TEST_SENDER, employees: people.slice(0, 10) });
  t = performance.now();
  const xml = buildFps(pack, { employer: TEST_EMPLOYER, sender: TEST_SENDER, employees: people });
  const buildMs = performance.now() - t;
  t = performance.now();
  irmark(xml);
  const irmarkMs = performance.now() - t;
  t = performance.now();
  const problems = await validateMessage(xml, pack, 'fps');
  const validateMs = performance.now() - t;

  const result = {
    machine: machineInfo(),
    pay: { employees, totalMs: Math.round(payMs), microsecondsPerEmployee: Math.round((payMs * 1000) / employees), checksum: net },
    fps: { employees: fpsEmployees, bytes: Buffer.byteLength(xml), buildMsIncludingIrmark: Math.round(buildMs), irmarkMs: Math.round(irmarkMs), schemaValidationMs: Math.round(validateMs), valid: problems.length === 0 },
  };
  console.log('payroll bench');
  console.log(`  PAYE for ${employees} employees: ${result.pay.totalMs} ms, ${result.pay.microsecondsPerEmployee} µs per employee`);
  console.log(`  FPS for ${fpsEmployees} employees: ${(result.fps.bytes / 1024).toFixed(0)} KiB; written with IRmark in ${result.fps.buildMsIncludingIrmark} ms (IRmark alone ${result.fps.irmarkMs} ms); schema check ${result.fps.schemaValidationMs} ms, ${problems.length ? `INVALID: ${problems[0]!.message}` : 'valid'}`);
  writeJson(RESULTS_FILE, result);
  return problems.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(await runPayrollBench());
