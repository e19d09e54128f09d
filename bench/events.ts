/**
 * The events bench: the hub's event log (subgraphs/events) through the gateway, in one run.
 *
 *   (a) single    publishEvent, one event per request, by 50 concurrent clients (autocannon)
 *   (b) batched   publishEvents with 1,000 events per request, by a few concurrent clients (autocannon)
 *   (c) delivery  publish -> live graphql-ws subscriber latency while ~100,000 events/minute flow
 *
 * against a ROLE=all hub child process on a fresh PostgreSQL database, once with the Redis Streams fan-out
 * (REDIS_URL, a unique REDIS_PREFIX) and once without (in-process bus). Writes bench/results/events.json.
 * Run by bench/run.ts (`npm run bench -- --only=events`); see bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './lib/cleanup.ts';
import { openBenchDatabase } from './lib/database.ts';
import { PUBLISH_MANY, SUBSCRIPTION, deliveryProblems, measureDelivery, type DeliveryMeasurement } from './lib/delivery.ts';
import { childEnv, envNumber, pause } from './lib/env.ts';
import { postGraphQL } from './lib/graphql.ts';
import { checkLog, logProblems, type LogCheck } from './lib/eventlog.ts';
import { backgroundCpuBusy, cpuBetween, cpuSample, formatCpu, machineInfo, reportBackgroundCpu, type CpuSample } from './lib/machine.ts';
import { HOST, freePort, readyzProbe, startServer, stopServer, waitReady, type ServerProcess } from './lib/processes.ts';
import { measurePublish, publishProblems, type Acknowledged, type PublishMeasurement } from './lib/publish.ts';
import { deletePrefix, probeRedis } from './lib/redis.ts';
import { writeJson } from './lib/report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/events.json', import.meta.url));

const SINGLE_TYPE = 'bench.single';
const BATCH_TYPE = 'bench.batch';
const BATCH_SIZE = 1000; // the hub's maximum per publishEvents

const SINGLE_PAYLOAD = { resident: 'R-0001', kind: 'observation', value: 37.2 };

const OPERATIONS = {
  // The payload goes in a variable: as an inline object literal it fails (see INLINE_PAYLOAD below).
  single: `mutation PublishSingle($payload: JSON!) { publishEvent(input: {type: "${SINGLE_TYPE}", source: "bench", payload: $payload}) { event { sequence } } }`,
  batched: PUBLISH_MANY,
  subscription: SUBSCRIPTION,
};

/**
 * The same publish with the payload as an inline object literal. graphql-scalars' JSON scalar parses object
 * literals into null-prototype objects, which drizzle's insert cannot take (it reads `.constructor` of the
 * prototype): the hub answers INTERNAL. The bench checks this once per run and reports it under `hubIssues`.
 */
const INLINE_PAYLOAD = `mutation { publishEvent(input: {type: "${SINGLE_TYPE}", source: "bench", payload: {resident: "R-0001", kind: "observation", value: 37.2}}) { event { sequence } } }`;

/** 1,000 small events, one request body sent again and again. */
const BATCH_INPUTS = Array.from({ length: BATCH_SIZE }, (_, n) => ({
  type: BATCH_TYPE,
  source: 'bench',
  payload: { resident: `R-${String(n % 50).padStart(4, '0')}`, kind: 'observation', value: n },
}));

const GOALS = {
  singlePerMinute: 100_000,
  batchedPerMinute: 1_000_000,
  deliveryP99Ms: 50,
  /** The delivery goal holds only if the flow it is measured under was kept up (within 10%). */
  flowShare: 0.9,
};

const settings = {
  seconds: envNumber('BENCH_SECONDS', 10),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
  singleConnections: envNumber('BENCH_CONNECTIONS', 50),
  batchConnections: envNumber('BENCH_EVENTS_BATCH_CONNECTIONS', 4),
  batchSize: BATCH_SIZE,
  flowEventsPerMinute: envNumber('BENCH_EVENTS_FLOW_PER_MINUTE', 100_000),
  /** One latency-marked event every tick; a filler batch every 5 ticks (50 ms). */
  tickMs: 10,
  batchEveryTicks: 5,
  redisUrl: process.env.BENCH_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  /** `bus[:workers]`, comma-separated: one hub (and database) per entry. The default: WORKERS=1 (the hub's default) with and without Redis, and WORKERS=2 with Redis. An entry without workers takes BENCH_HUB_WORKERS, else one per core. */
  runs: parseRuns(process.env.BENCH_EVENTS_RUNS ?? 'redis:1,redis:2,memory:1', envNumber('BENCH_HUB_WORKERS', machineInfo().cpus)),
  cases: (process.env.BENCH_EVENTS_CASES ?? 'single,batched,delivery').split(',').map((s) => s.trim()) as Case[],
  /** e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": node arguments for the hub processes only (profiling). */
  hubNodeArgs: (process.env.BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean),
};

type Bus = 'redis' | 'memory';
type Case = 'single' | 'batched' | 'delivery';

function parseRuns(text: string, defaultWorkers: number): { bus: Bus; workers: number }[] {
  return text.split(',').map((entry) => {
    const [bus, workers] = entry.trim().split(':');
    if (bus !== 'redis' && bus !== 'memory') throw new Error(`BENCH_EVENTS_RUNS: "${entry}" is not redis[:workers] or memory[:workers]`);
    const n = workers === undefined ? defaultWorkers : Number(workers);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_EVENTS_RUNS: "${entry}" needs a positive whole number of workers`);
    return { bus, workers: n };
  });
}

interface RunResult {
  bus: Bus;
  redis: { url: string; prefix: string; version: string } | null;
  hubWorkers: number;
  backgroundCpuBusyBeforeRun: number;
  database: string;
  single: PublishMeasurement | null;
  batched: PublishMeasurement | null;
  delivery: DeliveryMeasurement | null;
  /** CPU use while measuring, in cores (1.0 = one core busy): bench (load generator), hub, postgres, redis, other. */
  cpuCores: Record<string, Record<string, number>>;
  /** The hub's event-loop delay while measuring, per case (one-worker runs only). */
  hubEventLoopDelayMs: Record<string, Record<string, number>>;
  /** The hub's group commit while measuring, per case (one-worker runs only). */
  groupCommit: Record<string, ReturnType<typeof groupCommitBetween>>;
  log: LogCheck | null;
  /** Hub bugs the run ran into that do not invalidate its numbers (the bench works around them). */
  hubIssues: string[];
  /** What to keep in mind reading this run's numbers. */
  notes: string[];
  goals: ReturnType<typeof evaluateGoals>;
  valid: boolean;
  problems: string[];
}

const describeRun = (bus: Bus, workers: number) =>
  `${bus === 'redis' ? `with Redis (${settings.redisUrl})` : 'without Redis (in-process bus)'}, ${workers} hub worker${workers === 1 ? '' : 's'}`;

const fmt = (n: number) => Math.round(n).toLocaleString('en-GB');

function evaluateGoals(single: PublishMeasurement | null, batched: PublishMeasurement | null, delivery: DeliveryMeasurement | null) {
  const p99 = delivery?.deliveryMs?.p99;
  const flowKept = !!delivery && delivery.achievedEventsPerMinute >= GOALS.flowShare * delivery.targetEventsPerMinute;
  return {
    singleAtLeast100kPerMinute: {
      description: `(a) single publishes >= ${fmt(GOALS.singlePerMinute)} events/minute`,
      pass: !!single && single.eventsPerMinute >= GOALS.singlePerMinute,
      detail: single ? `${fmt(single.eventsPerMinute)} events/minute` : 'not measured',
    },
    batchedAtLeast1MPerMinute: {
      description: `(b) batched publishes >= ${fmt(GOALS.batchedPerMinute)} events/minute`,
      pass: !!batched && batched.eventsPerMinute >= GOALS.batchedPerMinute,
      detail: batched ? `${fmt(batched.eventsPerMinute)} events/minute` : 'not measured',
    },
    deliveryP99Under50ms: {
      description: `(c) delivery p99 < ${GOALS.deliveryP99Ms} ms while ~${fmt(settings.flowEventsPerMinute)} events/minute flow`,
      pass: p99 !== undefined && p99 < GOALS.deliveryP99Ms && flowKept,
      detail: delivery
        ? `p99 ${p99 ?? 'n/a'} ms at ${fmt(delivery.achievedEventsPerMinute)} events/minute${flowKept ? '' : ` (below ${GOALS.flowShare * 100}% of the target flow)`}`
        : 'not measured',
    },
  };
}

async function startHub(bus: Bus, workers: number, databaseUrl: string, redisPrefix: string | undefined): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = {
    ...childEnv(databaseUrl),
    ROLE: 'all',
    WORKERS: String(workers),
    ...(bus === 'redis' ? { REDIS_URL: settings.redisUrl, REDIS_PREFIX: redisPrefix } : {}),
  };
  const hub = startServer(`hub-${bus}`, 'gateway/src/main.ts', await freePort(), env, settings.hubNodeArgs);
  await waitReady(hub, readyzProbe);
  console.log(`  hub          ${hub.url}/graphql (ROLE=all, WORKERS=${workers}, ${bus === 'redis' ? `REDIS_URL, REDIS_PREFIX=${redisPrefix}` : 'no REDIS_URL: in-process bus'}, pid ${hub.child.pid})`);
  return hub;
}

/** prom-client samples the event loop every 10 ms, and its figures include that interval. */
const PROM_CLIENT_LOOP_RESOLUTION_MS = 10;

/** The hub's /metrics text (with several workers, one worker's, at random). */
async function hubMetrics(hub: ServerProcess): Promise<string> {
  const res = await fetch(`${hub.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return res.text();
}

/** The hub's own event-loop delay (prom-client's default metrics; reading them resets the window), ms beyond the sampling interval. */
function eventLoopLag(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const q of ['p50', 'p99', 'max']) {
    const m = new RegExp(`^nodejs_eventloop_lag_${q}_seconds(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    if (m) out[`${q}Ms`] = Math.max(0, Math.round((Number(m[1]) * 1000 - PROM_CLIENT_LOOP_RESOLUTION_MS) * 10) / 10);
  }
  return out;
}

/** The group commit's cumulative figures (subgraphs/events/src/service.ts): sums and counts of its histograms. */
function appendTotals(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ['hub_events_append_wait_seconds', 'hub_events_append_duration_seconds', 'hub_events_append_batch_events']) {
    for (const part of ['sum', 'count']) {
      const m = new RegExp(`^${name}_${part} ([0-9.e+-]+)$`, 'm').exec(text);
      out[`${name}_${part}`] = m ? Number(m[1]) : NaN;
    }
  }
  return out;
}

/** What the group commit did between two readings: commits, events per commit, mean wait for a turn and mean commit time. */
function groupCommitBetween(a: Record<string, number>, b: Record<string, number>) {
  const d = (k: string) => b[k]! - a[k]!;
  const commits = d('hub_events_append_duration_seconds_count');
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    commits,
    eventsPerCommit: commits ? round(d('hub_events_append_batch_events_sum') / commits) : 0,
    commitMeanMs: commits ? round((d('hub_events_append_duration_seconds_sum') / commits) * 1000) : 0,
    waitMeanMs: d('hub_events_append_wait_seconds_count') ? round((d('hub_events_append_wait_seconds_sum') / d('hub_events_append_wait_seconds_count')) * 1000) : 0,
  };
}

/**
 * Around a measured window: CPU use per process group, and with one hub worker the hub's event-loop delay and
 * what its group commit did (with several, each /metrics scrape reaches one worker at random, so the window could
 * not be told apart).
 */
function measuredWindow(result: RunResult, name: string, hub: ServerProcess) {
  let start: CpuSample | undefined;
  let totals: Record<string, number> | undefined;
  const one = result.hubWorkers === 1;
  return {
    async start() {
      if (one) totals = appendTotals(await hubMetrics(hub).catch(() => ''));
      start = cpuSample({ hub: hub.child.pid });
    },
    async end() {
      if (start) result.cpuCores[name] = cpuBetween(start, cpuSample({ hub: hub.child.pid }));
      if (one) {
        const text = await hubMetrics(hub).catch(() => '');
        if (text) {
          result.hubEventLoopDelayMs[name] = eventLoopLag(text);
          if (totals) result.groupCommit[name] = groupCommitBetween(totals, appendTotals(text));
        }
      }
    },
  };
}

interface CaseContext {
  hub: ServerProcess;
  endpoint: string;
  result: RunResult;
  /** What the hub acknowledged, per event type, for the log check. */
  ack: Record<string, Acknowledged>;
}

const acknowledged = (ack: Record<string, Acknowledged>, type: string) => (ack[type] ??= { firsts: [], lasts: [], events: 0 });

/** (a) One event per request, 50 clients. */
async function runSingle({ hub, endpoint, result, ack }: CaseContext): Promise<void> {
  process.stdout.write(`  (a) single    ${settings.singleConnections} clients, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s ... `);
  const m = await measurePublish(
    {
      endpoint,
      query: OPERATIONS.single,
      variables: { payload: SINGLE_PAYLOAD },
      field: 'publishEvent',
      batchSize: 1,
      connections: settings.singleConnections,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      measured: measuredWindow(result, 'single', hub),
    },
    acknowledged(ack, SINGLE_TYPE),
  );
  result.single = m;
  console.log(`${fmt(m.eventsPerMinute)} events/min, p50 ${m.latencyP50Ms} ms, p99 ${m.latencyP99Ms} ms`);
}

/** (b) 1,000 events per request, a few clients. */
async function runBatched({ hub, endpoint, result, ack }: CaseContext): Promise<void> {
  process.stdout.write(`  (b) batched   ${settings.batchConnections} clients x ${settings.batchSize} events, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s ... `);
  const m = await measurePublish(
    {
      endpoint,
      query: PUBLISH_MANY,
      variables: { inputs: BATCH_INPUTS },
      field: 'publishEvents',
      batchSize: settings.batchSize,
      connections: settings.batchConnections,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      measured: measuredWindow(result, 'batched', hub),
    },
    acknowledged(ack, BATCH_TYPE),
  );
  result.batched = m;
  console.log(`${fmt(m.eventsPerMinute)} events/min, p50 ${m.latencyP50Ms} ms, p99 ${m.latencyP99Ms} ms per batch`);
}

/** (c) Publish-to-subscriber latency under a steady flow. */
async function runDelivery({ hub, result, ack }: CaseContext): Promise<void> {
  process.stdout.write(`  (c) delivery  ~${fmt(settings.flowEventsPerMinute)} events/min, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s ... `);
  const d = await measureDelivery(
    {
      httpUrl: hub.url,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      targetEventsPerMinute: settings.flowEventsPerMinute,
      tickMs: settings.tickMs,
      batchEveryTicks: settings.batchEveryTicks,
      measured: measuredWindow(result, 'delivery', hub),
    },
    ack,
  );
  result.delivery = d;
  console.log(`p50 ${d.deliveryMs?.p50 ?? 'n/a'} ms, p99 ${d.deliveryMs?.p99 ?? 'n/a'} ms at ${fmt(d.achievedEventsPerMinute)} events/min`);
}

const CASES: Record<Case, (c: CaseContext) => Promise<void>> = { single: runSingle, batched: runBatched, delivery: runDelivery };

/** While `work` runs, collects what `pattern` (its first group, if any) matches in the hub's log: the cause behind a masked INTERNAL error. */
async function hubLogMatches<T>(hub: ServerProcess, pattern: RegExp, work: () => Promise<T>): Promise<{ value: T; matches: string[] }> {
  const matches = new Set<string>();
  const listener = (line: string) => {
    const m = pattern.exec(line);
    const hit = m?.[1] ?? m?.[0];
    if (hit) matches.add(hit);
  };
  hub.lineListeners.add(listener);
  try {
    const value = await work();
    await pause(500); // the log line may trail the response
    return { value, matches: [...matches] };
  } finally {
    hub.lineListeners.delete(listener);
  }
}

function reportIssue(result: RunResult, issue: string, causes: string[]): void {
  const text = causes.length ? `${issue} (hub log: ${causes.join('; ')})` : issue;
  result.hubIssues.push(text);
  console.log(`  hub issue: ${text}`);
}

/** The publish in the form the API documents, the payload an inline object literal: does the hub take it? */
async function checkInlinePayload({ hub, endpoint, result }: CaseContext): Promise<void> {
  const { value: reply, matches } = await hubLogMatches(hub, /"message":"([^"]*)"/, () => postGraphQL(endpoint, INLINE_PAYLOAD));
  if (reply.status === 200 && !reply.body.errors?.length) return;
  reportIssue(result, `publishEvent with an inline object literal as payload fails: HTTP ${reply.status} ${JSON.stringify(reply.body.errors?.[0] ?? reply.text.slice(0, 200))}`, matches);
}

/**
 * The group commit merges concurrent publishes into one transaction of up to 5,000 events, inserted with one
 * multi-row INSERT of 14 parameters per row; PostgreSQL takes at most 65,535 (postgres-js 65,534). Eight
 * concurrent batches of 1,000 make the hub merge more than 4,681 rows: does every one of them succeed?
 */
async function checkMergedBatches({ hub, endpoint, result }: CaseContext): Promise<void> {
  const inputs = BATCH_INPUTS.map((e) => ({ ...e, type: 'bench.probe' }));
  const { value: replies, matches } = await hubLogMatches(hub, /MAX_PARAMETERS_EXCEEDED[^"\\]*/, () =>
    Promise.all(Array.from({ length: 8 }, () => postGraphQL(endpoint, PUBLISH_MANY, { inputs }))),
  );
  const failed = replies.filter((r) => r.status !== 200 || r.body.errors?.length);
  if (!failed.length) return;
  reportIssue(result, `${failed.length} of 8 concurrent publishEvents batches of 1,000 failed: ${JSON.stringify(failed[0]!.body.errors?.[0] ?? failed[0]!.text.slice(0, 200))}`, matches);
}

/** One hub, one fresh database (and Redis prefix): the cases, then the log check. */
async function runOne(bus: Bus, workers: number, redisVersion: string | undefined): Promise<RunResult> {
  console.log(`\n--- ${describeRun(bus, workers)} ---`);
  const busy = await backgroundCpuBusy();
  console.log(`background CPU use before this run: ${Math.round(busy * 100)}%`);
  const database = await openBenchDatabase();
  const dropDatabase = registerCleanup('drop the bench database', () => database.drop());
  const redisPrefix = bus === 'redis' ? `hub_bench_${randomBytes(4).toString('hex')}:` : undefined;
  const dropRedisKeys = registerCleanup('delete the bench Redis keys', async () => {
    if (redisPrefix) await deletePrefix(settings.redisUrl, redisPrefix);
  });
  console.log(`database: ${database.description}`);

  const result: RunResult = {
    bus,
    redis: bus === 'redis' ? { url: settings.redisUrl, prefix: redisPrefix!, version: redisVersion ?? 'unknown' } : null,
    hubWorkers: workers,
    backgroundCpuBusyBeforeRun: busy,
    database: database.description,
    single: null,
    batched: null,
    delivery: null,
    cpuCores: {},
    hubEventLoopDelayMs: {},
    groupCommit: {},
    log: null,
    hubIssues: [],
    notes:
      bus === 'memory' && workers > 1
        ? [
            "without Redis each worker's bus is local: a subscriber sees events committed by another worker only when its own worker commits a later event " +
              '(it then reads the gap from the log) or at its log poll (EVENTS_LOG_POLL_MS, default 1 s); see deliveryAfterAckMs',
          ]
        : [],
    goals: evaluateGoals(null, null, null),
    valid: false,
    problems: [],
  };
  let hub: ServerProcess | undefined;
  try {
    hub = await startHub(bus, workers, database.url, redisPrefix);
    const context: CaseContext = { hub, endpoint: `${hub.url}/graphql`, result, ack: {} };
    await checkInlinePayload(context);
    await checkMergedBatches(context);
    for (const name of settings.cases) await CASES[name](context);

    result.log = await checkLog(database.url, context.ack);
    result.problems = [
      ...(hub.hasExited ? ['the hub exited during the run'] : []),
      ...(result.single ? publishProblems(result.single).map((p) => `(a) single: ${p}`) : []),
      ...(result.batched ? publishProblems(result.batched).map((p) => `(b) batched: ${p}`) : []),
      ...(result.delivery ? deliveryProblems(result.delivery).map((p) => `(c) delivery: ${p}`) : []),
      ...logProblems(result.log).map((p) => `log: ${p}`),
    ];
  } catch (err) {
    result.problems.push(`the run failed: ${(err as Error).message}`);
    console.error(`\n  ${bus} run failed: ${(err as Error).stack ?? err}`);
  } finally {
    if (hub) await stopServer(hub);
    await dropDatabase();
    await dropRedisKeys();
  }
  result.goals = evaluateGoals(result.single, result.batched, result.delivery);
  result.valid = result.problems.length === 0;
  return result;
}

function printRun(r: RunResult): void {
  const rows: string[][] = [];
  const pub = (name: string, m: PublishMeasurement | null) =>
    m && rows.push([name, fmt(m.eventsPerMinute), m.requestsPerSecond.toFixed(1), String(m.latencyP50Ms), String(m.latencyP99Ms), String(m.totalRequests), String(m.non2xx), String(m.errors)]);
  pub(`(a) single x${r.single?.connections ?? ''}`, r.single);
  pub(`(b) batched ${r.batched?.connections ?? ''}x${r.batched?.batchSize ?? ''}`, r.batched);
  const d = r.delivery;
  if (d) {
    const l = d.latencyEvents;
    rows.push([
      '(c) delivery',
      fmt(d.achievedEventsPerMinute),
      '',
      String(d.deliveryMs?.p50 ?? 'n/a'),
      String(d.deliveryMs?.p99 ?? 'n/a'),
      String(l.acknowledged),
      '',
      String(l.publishFailures + d.flowBatches.publishFailures + d.subscriptionErrors.length),
    ]);
  }
  const header = ['case', 'events/min', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non2xx', 'errors'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${describeRun(r.bus, r.hubWorkers)}:`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  if (d) {
    const l = d.latencyEvents;
    console.log(
      `(c) latency events: ${l.acknowledged} acknowledged, ${l.received} received, ${l.missing} missing, ${l.duplicates} duplicates, ${l.outOfOrder} out of order; ` +
        `publish ack p50/p99 ${d.publishAckMs?.p50 ?? 'n/a'}/${d.publishAckMs?.p99 ?? 'n/a'} ms, delivery after ack p50/p99 ${d.deliveryAfterAckMs?.p50 ?? 'n/a'}/${d.deliveryAfterAckMs?.p99 ?? 'n/a'} ms, filler batch (${d.pacing.batchSize}) ack p50/p99 ${d.batchAckMs?.p50 ?? 'n/a'}/${d.batchAckMs?.p99 ?? 'n/a'} ms, ` +
        `bench event-loop delay p99 ${d.benchEventLoopDelayP99Ms} ms`,
    );
  }
  if (r.log) {
    console.log(
      `log: ${fmt(r.log.rows)} events, sequences ${r.log.minSequence}..${r.log.maxSequence}, ${r.log.gapFree ? 'gap-free' : 'NOT gap-free'}; ` +
        `every acknowledged event in it: ${Object.values(r.log.byType).every((t) => t.acknowledgedInLog === t.acknowledged) ? 'yes' : 'NO'}; events per transaction: ` +
        Object.entries(r.log.byType)
          .map(([type, t]) => `${type} ${t.rowsPerTransaction}`)
          .join(', '),
    );
  }
  for (const [phase, cpu] of Object.entries(r.cpuCores)) {
    const lag = r.hubEventLoopDelayMs[phase];
    const gc = r.groupCommit[phase];
    console.log(
      `cpu (cores) during ${phase}: ${formatCpu(cpu)}${lag ? `; hub event-loop delay p50/p99/max ${lag.p50Ms}/${lag.p99Ms}/${lag.maxMs} ms` : ''}` +
        (gc ? `; group commit: ${gc.commits} commits of ${gc.eventsPerCommit} events, mean ${gc.commitMeanMs} ms each, mean wait for a turn ${gc.waitMeanMs} ms` : ''),
    );
  }
  for (const note of r.notes) console.log(`note: ${note}`);
  for (const g of Object.values(r.goals)) console.log(`  [${g.pass ? 'PASS' : 'FAIL'}] ${g.description}: ${g.detail}`);
}

/** Runs the events bench and writes bench/results/events.json; resolves with the exit code (1: invalid run). */
export async function runEventsBench(): Promise<number> {
  const machine = machineInfo();
  console.log(
    `care-home integration hub: events bench ((a) ${settings.singleConnections} clients, (b) ${settings.batchConnections} clients x ${settings.batchSize} events, ` +
      `(c) ~${fmt(settings.flowEventsPerMinute)} events/min; ${settings.warmupSeconds} s warm-up + ${settings.seconds} s each)`,
  );
  console.log(`machine: ${machine.cpus} CPU cores (${machine.cpuModel ?? 'unknown'}), node ${machine.node}`);
  console.log(`note: the load generator, the hub, PostgreSQL and Redis share these ${machine.cpus} cores.`);
  const unknownCase = settings.cases.filter((c) => !(c in CASES));
  if (unknownCase.length) throw new Error(`BENCH_EVENTS_CASES: unknown ${unknownCase.join(', ')} (single, batched, delivery)`);
  const busy = await reportBackgroundCpu();

  const runs: RunResult[] = [];
  const skipped: string[] = [];
  let redisVersion: string | undefined;
  for (const { bus, workers } of settings.runs) {
    if (bus === 'redis' && !redisVersion) {
      const probe = await probeRedis(settings.redisUrl);
      if ('error' in probe) {
        skipped.push(`${describeRun(bus, workers)}: ${settings.redisUrl} did not answer (${probe.error})`);
        console.log(`\n--- ${describeRun(bus, workers)}: skipped, ${settings.redisUrl} did not answer (${probe.error}) ---`);
        continue;
      }
      redisVersion = probe.version;
    }
    const run = await runOne(bus, workers, redisVersion);
    printRun(run);
    runs.push(run);
  }

  const problems = runs.flatMap((r) => r.problems.map((p) => `${r.bus}, ${r.hubWorkers} workers: ${p}`));
  writeJson(RESULTS_FILE, {
    timestamp: new Date().toISOString(),
    machine: {
      ...machine,
      note: `the load generator (this process), the hub's worker processes, PostgreSQL and Redis share ${machine.cpus} cores`,
      backgroundCpuBusyBeforeStart: busy,
    },
    settings: { ...settings, host: HOST },
    operations: { ...OPERATIONS, singleVariables: { payload: SINGLE_PAYLOAD }, inlinePayloadCheck: INLINE_PAYLOAD },
    goals: GOALS,
    runs,
    hubIssues: [...new Set(runs.flatMap((r) => r.hubIssues))],
    skipped,
    valid: runs.length > 0 && problems.length === 0,
    problems,
  });
  console.log(`\nwrote ${RESULTS_FILE}`);
  if (!runs.length || problems.length) {
    console.error(`\nBENCH INVALID:\n  ${(problems.length ? problems : ['nothing was measured']).join('\n  ')}`);
    return 1;
  }
  return 0;
}
