/**
 * `npm run bench`: the hub's gateway against the subgraph it fronts and against the stock Apollo stack, in one run.
 *
 *   A  subgraph  a ROLE=systems process, queried directly (the single-subgraph query only)
 *   B  hub       a ROLE=all process: gateway + every subgraph in one process (gateway/src/main.ts)
 *   C  baseline  @apollo/server + @apollo/gateway (bench/baseline.ts) over HTTP to five ROLE=<subgraph> processes
 *
 * Every server is a child process; the load generator (autocannon) stays here. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { openBenchDatabase, type BenchDatabase } from './lib/database.ts';
import { mustQuery } from './lib/graphql.ts';
import { measure, problemsOf, type LoadSettings } from './lib/load.ts';
import { HOST, freePort, killAllNow, readyzProbe, startServer, stopAll, waitReady, type ServerProcess } from './lib/processes.ts';
import { computeRatios, evaluateGoals, printRatiosAndGoals, printTable, writeJson, type CaseResult, type QueryName, type TargetName } from './lib/report.ts';
import { SEED_INTEGRATIONS_PER_SYSTEM, SEED_SYSTEMS, seed } from './seed.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/gateway.json', import.meta.url));
const SUBGRAPHS = ['systems', 'integrations', 'mappings', 'metrics', 'events'] as const;

const QUERIES: Record<QueryName, string> = {
  single: '{ externalSystems { id name type status endpoint } }',
  join: '{ integrations { id name status externalSystem { id name status } } }',
};

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

const settings: LoadSettings = {
  connections: envNumber('BENCH_CONNECTIONS', 50),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
  seconds: envNumber('BENCH_SECONDS', 10),
};

/** Hub settings the caller's shell might carry (SUPERGRAPH_FILE, a rate limit, subgraph URLs) that would change what is measured. */
const HUB_ENV_KEYS = /^(ROLE|HOST|PORT|DATABASE_URL|DATA_DIR|REDIS_URL|SUPERGRAPH_FILE|VAULT_KEYS|OUTBOUND_ALLOW|LOG_LEVEL|RATE_LIMIT_PER_MINUTE|SHUTDOWN_GRACE_MS|SUBGRAPH_[A-Z]+_URL)$/;

/** The environment every child shares; callers add ROLE (and the baseline its subgraph URLs). */
function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !HUB_ENV_KEYS.test(k)));
  return {
    ...inherited,
    // Production mode for both stacks: Apollo Server and yoga drop their development extras (stack traces, etc.).
    NODE_ENV: process.env.NODE_ENV ?? 'production',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    // One key for every process: a credential sealed by one subgraph process must open in the others.
    VAULT_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    OUTBOUND_ALLOW: '127.0.0.1,localhost',
    // Teardown should not wait the default 10 s per process for connections autocannon has already closed.
    SHUTDOWN_GRACE_MS: '2000',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
}

/** One after another: the first process applies the migrations, the rest find them applied. */
async function startSubgraphs(env: NodeJS.ProcessEnv): Promise<Record<(typeof SUBGRAPHS)[number], ServerProcess>> {
  const started: Partial<Record<(typeof SUBGRAPHS)[number], ServerProcess>> = {};
  for (const name of SUBGRAPHS) {
    const server = startServer(name, 'gateway/src/main.ts', await freePort(), { ...env, ROLE: name });
    await waitReady(server, readyzProbe);
    console.log(`  ${name.padEnd(12)} ${server.url}/graphql (ROLE=${name}, pid ${server.child.pid})`);
    started[name] = server;
  }
  return started as Record<(typeof SUBGRAPHS)[number], ServerProcess>;
}

async function startHubProcess(env: NodeJS.ProcessEnv, name: string, workers: number): Promise<ServerProcess> {
  const hub = startServer(name, 'gateway/src/main.ts', await freePort(), { ...env, ROLE: 'all', WORKERS: String(workers) });
  await waitReady(hub, readyzProbe);
  console.log(`  ${name.padEnd(12)} ${hub.url}/graphql (ROLE=all, WORKERS=${workers}, pid ${hub.child.pid})`);
  return hub;
}

async function startBaseline(env: NodeJS.ProcessEnv, subgraphs: Record<string, ServerProcess>): Promise<ServerProcess> {
  const urls = Object.fromEntries(Object.entries(subgraphs).map(([name, s]) => [`SUBGRAPH_${name.toUpperCase()}_URL`, `${s.url}/graphql`]));
  const baseline = startServer('baseline', 'bench/baseline.ts', await freePort(), { ...env, ...urls });
  // Apollo Server has no /readyz; it listens only after the gateway composed, so a plain query is the readiness check.
  await waitReady(baseline, async (s) => (await mustQuery<{ __typename: string }>(`${s.url}/graphql`, '{ __typename }')).__typename === 'Query');
  console.log(`  ${'baseline'.padEnd(12)} ${baseline.url}/graphql (@apollo/server + @apollo/gateway, pid ${baseline.child.pid})`);
  return baseline;
}

interface Answers {
  externalSystems?: { id: string; name: string }[];
  integrations?: { id: string; externalSystem: { id: string; name: string } | null }[];
}

/**
 * Before measuring, every target must give the same, complete answer: a fast wrong answer is not a result.
 * (The load run then checks every single response against this answer.)
 */
async function checkAnswers(targets: { target: TargetName; query: QueryName; endpoint: string }[]): Promise<void> {
  const reference = new Map<QueryName, string>();
  for (const t of targets) {
    const data = await mustQuery<Answers>(t.endpoint, QUERIES[t.query]);
    if (t.query === 'single' && (data.externalSystems?.length ?? 0) < SEED_SYSTEMS) {
      throw new Error(`${t.target}: expected at least ${SEED_SYSTEMS} external systems, got ${data.externalSystems?.length ?? 0}`);
    }
    if (t.query === 'join') {
      const list = data.integrations ?? [];
      if (list.length < SEED_SYSTEMS * SEED_INTEGRATIONS_PER_SYSTEM) throw new Error(`${t.target}: expected at least ${SEED_SYSTEMS * SEED_INTEGRATIONS_PER_SYSTEM} integrations, got ${list.length}`);
      const unjoined = list.filter((i) => !i.externalSystem?.name);
      if (unjoined.length) throw new Error(`${t.target}: ${unjoined.length} integrations came back without their external system's name`);
    }
    const text = JSON.stringify(data);
    const seen = reference.get(t.query);
    if (seen === undefined) reference.set(t.query, text);
    else if (seen !== text) throw new Error(`${t.target} answers the ${t.query} query differently from the other targets`);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How busy the machine is before any server starts (0..1 over all cores). On a small shared box a test run or
 * build elsewhere takes cores from the servers, so the report says how quiet the machine was.
 */
async function backgroundCpuBusy(ms = 1_000): Promise<number> {
  const sample = () =>
    os.cpus().reduce(
      (acc, c) => ({ idle: acc.idle + c.times.idle, total: acc.total + Object.values(c.times).reduce((a, b) => a + b, 0) }),
      { idle: 0, total: 0 },
    );
  const before = sample();
  await pause(ms);
  const after = sample();
  const total = after.total - before.total;
  return total > 0 ? Math.round((1 - (after.idle - before.idle) / total) * 100) / 100 : 0;
}

const HUB_WORKERS = Number(process.env.BENCH_HUB_WORKERS ?? os.cpus().length);

async function runCases(targets: { target: TargetName; query: QueryName; endpoint: string }[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const query of ['single', 'join'] as const) {
    for (const target of ['subgraph', 'hub', 'hub-1-process', 'baseline'] as const) {
      const t = targets.find((x) => x.target === target && x.query === query);
      if (!t) {
        results.push({ target, query, measurement: null, note: 'n/a: the join spans two subgraphs, so no single subgraph can answer it' });
        continue;
      }
      process.stdout.write(`  ${target.padEnd(13)} ${query.padEnd(7)} ${settings.warmupSeconds} s warm-up + ${settings.seconds} s ... `);
      const measurement = await measure(t.endpoint, QUERIES[query], settings);
      console.log(`${measurement.requestsPerSecond.toFixed(1)} req/s, p99 ${measurement.latencyP99Ms} ms`);
      results.push({ target, query, measurement });
      // Let the previous target's sockets close and its garbage settle before the next one is loaded.
      await pause(1_000);
    }
  }
  return results;
}

let database: BenchDatabase | undefined;
let cleaning: Promise<void> | undefined;

/** Stops every child, then drops the database (it cannot be dropped while they hold connections). Idempotent. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    await database?.drop().catch((err) => console.error(`could not drop the bench database: ${(err as Error).message}`));
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers and dropping the bench database`);
    cleanup().finally(() => process.exit(130));
  });
}
// Should anything still be running when the process exits for any reason, do not leave orphans behind.
process.on('exit', killAllNow);

async function main(): Promise<number> {
  const cpus = os.cpus();
  console.log(`care-home integration hub: gateway bench (${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s per case)`);
  console.log(`machine: ${cpus.length} CPU cores (${cpus[0]?.model.trim() ?? 'unknown'}), node ${process.version}`);
  console.log(`note: the load generator and every server share these ${cpus.length} cores, so absolute numbers understate a real deployment; compare the ratios.`);
  const busy = await backgroundCpuBusy();
  console.log(`background CPU use before start: ${Math.round(busy * 100)}%${busy > 0.2 ? ' (other processes are competing for the cores: expect noisy numbers)' : ''}`);

  database = await openBenchDatabase();
  console.log(`database: ${database.description}`);
  console.log(`redis: ${process.env.REDIS_URL ? 'REDIS_URL (passed through)' : 'none (in-memory)'}`);
  const env = childEnv(database.url);

  console.log('\nstarting servers:');
  const subgraphs = await startSubgraphs(env);
  // The hub as deployed on this machine: one worker per core on one port (node:cluster), and the same hub in one process.
  const hub = await startHubProcess(env, 'hub', HUB_WORKERS);
  const hubOne = await startHubProcess(env, 'hub-1-process', 1);
  const seeded = await seed(`${hub.url}/graphql`);
  console.log(`  seeded ${seeded.systems} external systems and ${seeded.integrations} integrations through the hub's API`);
  const baseline = await startBaseline(env, subgraphs);

  const targets: { target: TargetName; query: QueryName; endpoint: string }[] = [
    { target: 'subgraph', query: 'single', endpoint: `${subgraphs.systems.url}/graphql` },
    { target: 'hub', query: 'single', endpoint: `${hub.url}/graphql` },
    { target: 'baseline', query: 'single', endpoint: `${baseline.url}/graphql` },
    { target: 'hub-1-process', query: 'single', endpoint: `${hubOne.url}/graphql` },
    { target: 'hub', query: 'join', endpoint: `${hub.url}/graphql` },
    { target: 'hub-1-process', query: 'join', endpoint: `${hubOne.url}/graphql` },
    { target: 'baseline', query: 'join', endpoint: `${baseline.url}/graphql` },
  ];
  await checkAnswers(targets);

  console.log('\nmeasuring:');
  const results = await runCases(targets);
  const crashed = [hub, hubOne, baseline, ...Object.values(subgraphs)].filter((s) => s.hasExited).map((s) => `${s.name} exited during the run`);
  const problems = [
    ...crashed,
    ...results.flatMap((r) => (r.measurement ? problemsOf(r.measurement).map((p) => `${r.target}/${r.query}: ${p}`) : [])),
  ];

  const ratios = computeRatios(results);
  const goals = evaluateGoals(results);
  console.log('');
  printTable(results);
  printRatiosAndGoals(ratios, goals);

  writeJson(RESULTS_FILE, {
    timestamp: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim(),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      note: `load generator and all ${Object.keys(subgraphs).length + 2} server processes share ${cpus.length} cores`,
      backgroundCpuBusyBeforeStart: busy,
    },
    database: { kind: 'postgres', version: database.serverVersion, createdByBench: database.created },
    redis: process.env.REDIS_URL ? 'redis (REDIS_URL)' : 'none',
    settings: { ...settings, host: HOST },
    seed: seeded,
    queries: QUERIES,
    results: results.map((r) => ({
      target: r.target,
      query: r.query,
      ...(r.measurement
        ? {
            requestsPerSecond: r.measurement.requestsPerSecond,
            latencyP50Ms: r.measurement.latencyP50Ms,
            latencyP99Ms: r.measurement.latencyP99Ms,
            non2xx: r.measurement.non2xx,
            errors: r.measurement.errors,
            detail: r.measurement,
          }
        : { requestsPerSecond: null, latencyP50Ms: null, latencyP99Ms: null, non2xx: null, errors: null, note: r.note }),
    })),
    ratios,
    goals,
    valid: problems.length === 0,
    problems,
  });
  console.log(`\nwrote ${RESULTS_FILE}`);

  if (problems.length) {
    console.error(`\nBENCH INVALID: not every measured response was a 200 with the right data:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  console.error(`\nbench failed: ${(err as Error).stack ?? err}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
