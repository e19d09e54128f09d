/**
 * `npm run bench`: the hub's benches, one after another, each with its own servers and database.
 *
 *   gateway  the gateway against the subgraph it fronts and against the stock Apollo stack  (bench/gateway.ts)
 *   events   the event log: publish throughput, batched publishing, live delivery latency (bench/events.ts)
 *   nhs      resident lookups through the gateway, cached and from PDS (the NHS simulator) (bench/nhs.ts)
 *   mappings data transformation (CSV, HL7 v2 to FHIR) and API routing, gateway against subgraph (bench/mappings.ts)
 *   tenancy  one query with authentication and tenancy on, off, and on the hub from before organisations (bench/tenancy.ts)
 *   hostile  /healthz idle and under 10 MB CSV transforms and the alias bomb (bench/hostile.ts)
 *   payroll  PAYE for 10,000 employees and an FPS for 1,000 (size, IRmark, schema check), in process (bench/payroll.ts)
 *
 * `npm run bench -- --only=events` (or `--only=gateway`) runs one. See bench/README.md.
 */
import { runEventsBench } from './events.ts';
import { runGatewayBench } from './gateway.ts';
import { runHostileBench } from './hostile.ts';
import { runMappingsBench } from './mappings.ts';
import { runNhsBench } from './nhs.ts';
import { runPayrollBench } from './payroll.ts';
import { runTenancyBench } from './tenancy.ts';
import { cleanupAll } from './lib/cleanup.ts';
import { killAllNow } from './lib/processes.ts';

const BENCHES = { gateway: runGatewayBench, events: runEventsBench, nhs: runNhsBench, mappings: runMappingsBench, tenancy: runTenancyBench, hostile: runHostileBench, payroll: runPayrollBench } as const;
type BenchName = keyof typeof BENCHES;

function selected(argv: string[]): BenchName[] {
  const names = Object.keys(BENCHES) as BenchName[];
  let only: BenchName[] = names;
  for (const arg of argv) {
    const m = /^--only=(.+)$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}" (use --only=${names.join('|')})`);
    const picked = m[1]!.split(',').map((s) => s.trim());
    const unknown = picked.filter((p) => !names.includes(p as BenchName));
    if (unknown.length) throw new Error(`--only: unknown bench ${unknown.join(', ')} (one of ${names.join(', ')})`);
    only = picked as BenchName[];
  }
  return only;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers and dropping the bench databases`);
    cleanupAll().finally(() => process.exit(130));
  });
}
// Should anything still be running when the process exits for any reason, do not leave orphans behind.
process.on('exit', killAllNow);

let exitCode = 0;
try {
  const benches = selected(process.argv.slice(2));
  for (const [i, name] of benches.entries()) {
    if (i > 0) console.log(`\n${'='.repeat(100)}\n`);
    try {
      exitCode = Math.max(exitCode, await BENCHES[name]());
    } catch (err) {
      // One bench failing (a server that would not start, ...) does not keep the next from running.
      console.error(`\n${name} bench failed: ${(err as Error).stack ?? err}`);
      exitCode = 1;
      await cleanupAll();
    }
  }
} catch (err) {
  console.error(`\nbench failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(exitCode);
