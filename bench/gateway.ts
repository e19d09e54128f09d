/**
 * The gateway bench: the hub's gateway against the subgraph it fronts and against the stock Apollo stack, in one run.
 *
 *   A  subgraph  a ROLE=systems process, queried directly (the single-subgraph query only)
 *   B  hub       a ROLE=all process: gateway + every subgraph in one process (gateway/src/main.ts)
 *   C  baseline  @apollo/server + @apollo/gateway (bench/baseline.ts) over HTTP to five ROLE=<subgraph> processes
 *
 * Every server is a child process; the load generator (autocannon) stays here. Run by bench/run.ts; see bench/README.md.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './lib/cleanup.ts';
import { openBenchDatabase, type BenchDatabase } from './lib/database.ts';
import { childEnv as sharedChildEnv, envNumber, pause } from './lib/env.ts';
import { mustQuery } from './lib/graphql.ts';
import { measure, problemsOf, type LoadSettings } from './lib/load.ts';
import { machineInfo, reportBackgroundCpu } from './lib/machine.ts';
import { HOST, freePort, readyzProbe, startServer, stopAll, waitReady, type ServerProcess } from './lib/processes.ts';
import { computeRatios, evaluateGoals, printRatiosAndGoals, printTable, writeJson, type CaseResult, type QueryName, type TargetName } from './lib/report.ts';
import { SEED_INTEGRATIONS_PER_SYSTEM, SEED_SYSTEMS, seed } from './seed.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/gateway.json', import.meta.url));
const SUBGRAPHS = ['systems', 'integrations', 'mappings', 'metrics', 'events'] as const;

const QUERIES: Record<QueryName, string> = {
  single: '{ externalSystems { id name type status endpoint } }',
  join: '{ integrations { id name status externalSystem { id name status } } }',
};

const settings: LoadSettings = {
  connections: envNumber('BENCH_CONNECTIONS', 50),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
  seconds: envNumber('BENCH_SECONDS', 10),
};

/** The environment every child shares, with the caller's REDIS_URL passed through; callers add ROLE (and the baseline its subgraph URLs). */
function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return { ...sharedChildEnv(databaseUrl), ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) };
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

/** Runs the gateway bench and writes bench/results/gateway.json; resolves with the exit code (1: invalid run). */
export async function runGatewayBench(): Promise<number> {
  const cpus = os.cpus();
  console.log(`care-home integration hub: gateway bench (${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s per case)`);
  console.log(`machine: ${cpus.length} CPU cores (${cpus[0]?.model.trim() ?? 'unknown'}), node ${process.version}`);
  console.log(`note: the load generator and every server share these ${cpus.length} cores, so absolute numbers understate a real deployment; compare the ratios.`);
  const busy = await reportBackgroundCpu();

  const database = await openBenchDatabase();
  const dropDatabase = registerCleanup('drop the bench database', () => database.drop());
  try {
    return await measureAll(database, busy);
  } finally {
    // Stop this bench's servers and drop its database before another bench starts.
    await stopAll();
    await dropDatabase();
  }
}

async function measureAll(database: BenchDatabase, busy: number): Promise<number> {
  const cpus = os.cpus();
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
      ...machineInfo(),
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
