/**
 * The NHS bench: resident lookups through the gateway, from the hub's cache and from PDS (the NHS simulator),
 * against the nhs subgraph queried directly, in one run.
 *
 *   hub       a ROLE=all process (gateway + every subgraph), NHS cache on (NHS_CACHE_FRESH_SECONDS=300)
 *   hub-nocache  the same with NHS_CACHE_FRESH_SECONDS=0: every lookup is a PDS call (plus its audit row and event)
 *   subgraph  a ROLE=nhs process queried directly (cached), to show what the gateway adds
 *
 * Latency is measured with 1 connection (what one user waits) and throughput with 50. The simulator runs in
 * the bench process with its rate limit raised out of the way (the real PDS allows 5/s per application unless
 * NHS raises it; this measures the hub, not the quota). Writes bench/results/nhs.json.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { nhsFixtureKeys, startNhsSimulator, type NhsSimulator } from '@hub/simulators';
import { registerCleanup } from './lib/cleanup.ts';
import { openBenchDatabase } from './lib/database.ts';
import { childEnv, envNumber, pause } from './lib/env.ts';
import { measure, problemsOf, type LoadSettings, type Measurement } from './lib/load.ts';
import { machineInfo, reportBackgroundCpu } from './lib/machine.ts';
import { freePort, readyzProbe, startServer, stopAll, waitReady, type ServerProcess } from './lib/processes.ts';
import { writeJson } from './lib/report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/nhs.json', import.meta.url));
const QUERY = '{ resident(nhsNumber: "9000000009") { nhsNumber demographics { version restricted gender birthDate gpPracticeOdsCode name { text } addresses { lines postalCode } } } }';
const SEED_P99_GOAL_MS = 200; // the seed: under 200 ms per API response
const CACHED_P99_GOAL_MS = 5; // the issue's aim for a cached lookup through the gateway

const seconds = envNumber('BENCH_SECONDS', 10);
const warmupSeconds = envNumber('BENCH_WARMUP_SECONDS', 2);
const latency: LoadSettings = { connections: 1, warmupSeconds, seconds };
const throughput: LoadSettings = { connections: envNumber('BENCH_CONNECTIONS', 50), warmupSeconds, seconds };

function nhsEnv(sim: NhsSimulator, freshSeconds: number): NodeJS.ProcessEnv {
  return {
    NHS_ENVIRONMENT: 'simulated',
    NHS_BASE_URL: sim.url,
    NHS_TOKEN_URL: sim.tokenUrl,
    NHS_API_KEY: nhsFixtureKeys.apiKey,
    NHS_PRIVATE_KEY: nhsFixtureKeys.privateKeyPem,
    NHS_KEY_ID: nhsFixtureKeys.kid,
    NHS_RATE_LIMIT_PER_SECOND: '100000',
    NHS_CACHE_FRESH_SECONDS: String(freshSeconds),
  };
}

interface Case {
  target: 'hub' | 'hub-nocache' | 'subgraph';
  lookup: 'cached' | 'uncached';
  connections: number;
  measurement: Measurement;
  problems: string[];
}

export async function runNhsBench(): Promise<number> {
  console.log(`care-home integration hub: NHS bench (resident lookups; ${warmupSeconds} s warm-up + ${seconds} s per case)`);
  const busy = await reportBackgroundCpu();
  const database = await openBenchDatabase();
  const dropDatabase = registerCleanup('drop the bench database', () => database.drop());
  const sim = await startNhsSimulator({
    apiKey: nhsFixtureKeys.apiKey,
    publicKeys: { [nhsFixtureKeys.kid]: nhsFixtureKeys.publicKeyPem },
    rateLimitPerSecond: 1_000_000,
  });
  const closeSim = registerCleanup('stop the NHS simulator', () => sim.close());
  try {
    console.log(`database: ${database.description}`);
    console.log(`redis: ${process.env.REDIS_URL ? 'REDIS_URL (passed through)' : 'none (in-memory)'}`);
    const base = { ...childEnv(database.url), ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) };
    const start = async (name: string, env: NodeJS.ProcessEnv): Promise<ServerProcess> => {
      const s = startServer(name, 'gateway/src/main.ts', await freePort(), { ...base, ...env });
      await waitReady(s, readyzProbe);
      console.log(`  ${name.padEnd(12)} ${s.url}/graphql (ROLE=${env.ROLE}, pid ${s.child.pid})`);
      return s;
    };
    console.log('\nstarting servers:');
    const hub = await start('hub', { ...nhsEnv(sim, 300), ROLE: 'all' });
    const nocache = await start('hub-nocache', { ...nhsEnv(sim, 0), ROLE: 'all' });
    const subgraph = await start('subgraph', { ...nhsEnv(sim, 300), ROLE: 'nhs' });

    const cases: Case[] = [];
    const run = async (target: Case['target'], lookup: Case['lookup'], server: ServerProcess, s: LoadSettings) => {
      process.stdout.write(`  ${target.padEnd(12)} ${lookup.padEnd(9)} ${String(s.connections).padStart(2)} conn ... `);
      const before = sim.stats().requests;
      const measurement = await measure(`${server.url}/graphql`, QUERY, s);
      const upstream = sim.stats().requests - before;
      const problems = problemsOf(measurement);
      if (lookup === 'uncached' && upstream < measurement.totalRequests) problems.push(`only ${upstream} PDS calls for ${measurement.totalRequests} uncached lookups`);
      console.log(`${measurement.requestsPerSecond.toFixed(0)} req/s, p50 ${measurement.latencyP50Ms} ms, p99 ${measurement.latencyP99Ms} ms${problems.length ? ` INVALID: ${problems.join('; ')}` : ''}`);
      cases.push({ target, lookup, connections: s.connections, measurement, problems });
      await pause(1_000);
    };
    console.log('\nmeasuring:');
    for (const s of [latency, throughput]) {
      await run('subgraph', 'cached', subgraph, s);
      await run('hub', 'cached', hub, s);
      await run('hub-nocache', 'uncached', nocache, s);
    }

    const pick = (t: Case['target'], c: number) => cases.find((x) => x.target === t && x.connections === c)!.measurement;
    const ratios = {
      cachedVsUncachedThroughput: pick('hub', throughput.connections).requestsPerSecond / pick('hub-nocache', throughput.connections).requestsPerSecond,
      hubVsSubgraphThroughputCached: pick('hub', throughput.connections).requestsPerSecond / pick('subgraph', throughput.connections).requestsPerSecond,
      // autocannon's percentiles are whole milliseconds; the mean is not.
      hubVsSubgraphMeanLatencyCached1Conn: pick('hub', 1).latencyMeanMs / pick('subgraph', 1).latencyMeanMs,
    };
    const goals = {
      cachedP99Under5msThroughGateway: { goalMs: CACHED_P99_GOAL_MS, p99Ms: pick('hub', 1).latencyP99Ms, met: pick('hub', 1).latencyP99Ms < CACHED_P99_GOAL_MS },
      uncachedP99Under200ms: { goalMs: SEED_P99_GOAL_MS, p99Ms: pick('hub-nocache', 1).latencyP99Ms, met: pick('hub-nocache', 1).latencyP99Ms < SEED_P99_GOAL_MS },
    };
    console.log('\nratios (this run):');
    for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(34)} ${v.toFixed(2)}x`);
    console.log('goals (1 connection):');
    for (const [k, g] of Object.entries(goals)) console.log(`  ${k.padEnd(34)} p99 ${g.p99Ms} ms (goal < ${g.goalMs} ms): ${g.met ? 'met' : 'NOT met'}`);

    const invalid = cases.some((c) => c.problems.length);
    writeJson(RESULTS_FILE, {
      bench: 'nhs',
      at: new Date().toISOString(),
      machine: { ...machineInfo(), backgroundCpuBusy: busy },
      database: database.description,
      redis: process.env.REDIS_URL ? 'redis' : 'memory',
      query: QUERY,
      cases,
      ratios,
      goals,
      valid: !invalid,
      notes: [
        'The NHS simulator runs in the bench process (shares the CPU with the load generator); its rate limit is raised out of the way.',
        'uncached: NHS_CACHE_FRESH_SECONDS=0, so every lookup is a signed-token PDS call plus an audit row and an event in Postgres.',
        `${os.cpus().length} cores shared by every process: compare ratios, not absolute numbers.`,
      ],
    });
    console.log(`\nwritten: ${RESULTS_FILE}`);
    return invalid ? 1 : 0;
  } finally {
    await stopAll();
    await closeSim();
    await dropDatabase();
  }
}
