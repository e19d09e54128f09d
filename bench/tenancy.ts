/**
 * The cost of authentication and tenancy, in one run: the same hub topology (one ROLE=all process, WORKERS=1), the
 * same transport (HTTP on loopback), the same query and the same answer, three ways:
 *
 *   pre-tenancy  the hub as it was before organisations (git ref BENCH_PRE_TENANCY_REF, default 1d45995), auth off:
 *                no principal, no organisation filter in the stores, no audit
 *   auth-off     this hub, authentication off: every caller is the default organisation (the store filter still runs)
 *   auth-on      this hub with an API key (SHA-256 lookup, principal, organisation filter), and a second organisation
 *                holding as many records again, so the filter has rows to skip
 *
 * Each hub has its own fresh database (their schemas differ). The pre-tenancy hub runs from a git worktree with its
 * own `npm ci`; without git history (a shallow copy) that target is skipped and the run says so.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './lib/cleanup.ts';
import { openBenchDatabase, type BenchDatabase } from './lib/database.ts';
import { childEnv, envNumber, pause } from './lib/env.ts';
import { mustQuery } from './lib/graphql.ts';
import { measure, problemsOf, type LoadSettings, type Measurement } from './lib/load.ts';
import { machineInfo, reportBackgroundCpu } from './lib/machine.ts';
import { HOST, REPO_ROOT, freePort, readyzProbe, startServer, stopAll, waitReady, type ServerProcess } from './lib/processes.ts';
import { writeJson } from './lib/report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/tenancy.json', import.meta.url));
const QUERY = '{ externalSystems { id name type status endpoint } }';
const SYSTEMS = 20;
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const PRE_TENANCY_REF = process.env.BENCH_PRE_TENANCY_REF ?? '1d45995';
const settings: LoadSettings = {
  connections: envNumber('BENCH_CONNECTIONS', 50),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
  seconds: envNumber('BENCH_SECONDS', 10),
};

type Target = 'pre-tenancy' | 'auth-off' | 'auth-on';

function key(client: string, org: string) {
  const k = `hub_${randomBytes(24).toString('base64url')}`;
  return { key: k, entry: `${client}:read+write:${createHash('sha256').update(k).digest('hex')}:${org}` };
}

/** A worktree of the hub before organisations, installed, or the reason there is none. */
function preTenancyTree(): { dir: string } | { skipped: string } {
  const dir = join(os.tmpdir(), `hub-bench-pre-tenancy-${PRE_TENANCY_REF}`);
  try {
    if (!existsSync(join(dir, 'package.json'))) {
      execFileSync('git', ['worktree', 'add', '--force', '--detach', dir, PRE_TENANCY_REF], { cwd: REPO_ROOT, stdio: 'pipe' });
    }
    if (!existsSync(join(dir, 'node_modules'))) {
      console.log(`  installing the pre-tenancy hub (${PRE_TENANCY_REF}) in ${dir} ...`);
      execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
    }
    return { dir };
  } catch (err) {
    return { skipped: `the hub at ${PRE_TENANCY_REF} could not be prepared: ${(err as Error).message.split('\n')[0]}` };
  }
}

async function seed(endpoint: string, headers: Record<string, string>, prefix: string): Promise<void> {
  for (let i = 1; i <= SYSTEMS; i++) {
    const n = String(i).padStart(2, '0');
    await mustQuery(endpoint, 'mutation($i: RegisterExternalSystemInput!) { registerExternalSystem(input: $i) { id } }', {
      i: { name: `${prefix} system ${n}`, type: 'GENERIC_REST', endpoint: 'http://127.0.0.1:9/x', authentication: { kind: 'NONE' } },
    }, headers);
  }
}

async function startHub(name: string, env: NodeJS.ProcessEnv, cwd?: string): Promise<ServerProcess> {
  const hub = startServer(name, 'gateway/src/main.ts', await freePort(), { ...env, ROLE: 'all', WORKERS: '1' }, [], cwd);
  await waitReady(hub, readyzProbe);
  console.log(`  ${name.padEnd(12)} ${hub.url}/graphql (ROLE=all, WORKERS=1, pid ${hub.child.pid}${cwd ? `, from ${cwd}` : ''})`);
  return hub;
}

export async function runTenancyBench(): Promise<number> {
  console.log(`care-home integration hub: authentication and tenancy bench (${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s per case)`);
  const busy = await reportBackgroundCpu();
  const databases: BenchDatabase[] = [];
  const drop = registerCleanup('drop the tenancy bench databases', async () => {
    for (const d of databases) await d.drop();
  });
  try {
    const tree = preTenancyTree();
    const home = key('bench-app', 'default');
    const other = key('other-app', 'other-group');
    const targets: Array<{ target: Target; endpoint?: string; headers: Record<string, string>; note?: string }> = [];
    console.log('\nstarting servers:');
    if ('dir' in tree) {
      const db = await openBenchDatabase();
      databases.push(db);
      const hub = await startHub('pre-tenancy', childEnv(db.url), tree.dir);
      await seed(`${hub.url}/graphql`, {}, 'Bench');
      targets.push({ target: 'pre-tenancy', endpoint: `${hub.url}/graphql`, headers: {} });
    } else {
      console.log(`  pre-tenancy  skipped: ${tree.skipped}`);
      targets.push({ target: 'pre-tenancy', headers: {}, note: tree.skipped });
    }
    {
      const db = await openBenchDatabase();
      databases.push(db);
      const hub = await startHub('auth-off', childEnv(db.url));
      await seed(`${hub.url}/graphql`, {}, 'Bench');
      targets.push({ target: 'auth-off', endpoint: `${hub.url}/graphql`, headers: {} });
    }
    {
      const db = await openBenchDatabase();
      databases.push(db);
      const hub = await startHub('auth-on', { ...childEnv(db.url), AUTH_REQUIRED: 'true', AUTH_ANONYMOUS_SCOPES: '', AUTH_API_KEYS: `${home.entry};${other.entry}` });
      await seed(`${hub.url}/graphql`, { authorization: `Bearer ${home.key}` }, 'Bench');
      await seed(`${hub.url}/graphql`, { authorization: `Bearer ${other.key}` }, 'Other group');
      targets.push({ target: 'auth-on', endpoint: `${hub.url}/graphql`, headers: { authorization: `Bearer ${home.key}` } });
    }
    // Every target must give the same answer (names; ids differ by database): a fast wrong answer is no result.
    const names = new Set<string>();
    for (const t of targets.filter((x) => x.endpoint)) {
      const data = await mustQuery<{ externalSystems: Array<{ name: string }> }>(t.endpoint!, QUERY, undefined, t.headers);
      const list = data.externalSystems.map((s) => s.name).sort().join('|');
      if (data.externalSystems.length !== SYSTEMS) throw new Error(`${t.target}: expected ${SYSTEMS} systems, got ${data.externalSystems.length}`);
      names.add(list);
    }
    if (names.size !== 1) throw new Error('the targets answer the query differently');

    // Rounds interleave the targets (A B C, A B C, ...), so a slow spell of the shared machine falls on all of them;
    // each target's result is its median round by requests per second.
    console.log(`\nmeasuring (${ROUNDS} interleaved rounds, the median of each target reported):`);
    const trials = new Map<Target, Measurement[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets.filter((x) => x.endpoint)) {
        process.stdout.write(`  round ${round} ${t.target.padEnd(12)} ${settings.warmupSeconds} s warm-up + ${settings.seconds} s ... `);
        const m = await measure(t.endpoint!, QUERY, settings, undefined, t.headers);
        console.log(`${m.requestsPerSecond.toFixed(1)} req/s, p50 ${m.latencyP50Ms} ms, p99 ${m.latencyP99Ms} ms`);
        trials.set(t.target, [...(trials.get(t.target) ?? []), m]);
        await pause(1_000);
      }
    }
    const median = (ms: Measurement[]) => [...ms].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(ms.length / 2)]!;
    const results: Array<{ target: Target; measurement: Measurement | null; rounds?: number[]; note?: string }> = targets.map((t) =>
      t.endpoint ? { target: t.target, measurement: median(trials.get(t.target)!), rounds: trials.get(t.target)!.map((m) => m.requestsPerSecond) } : { target: t.target, measurement: null, note: t.note },
    );
    const rps = (t: Target) => results.find((r) => r.target === t)?.measurement?.requestsPerSecond ?? null;
    const ratio = (a: Target, b: Target) => (rps(a) && rps(b) ? rps(a)! / rps(b)! : null);
    const ratios = { authOnVsAuthOff: ratio('auth-on', 'auth-off'), authOnVsPreTenancy: ratio('auth-on', 'pre-tenancy'), authOffVsPreTenancy: ratio('auth-off', 'pre-tenancy') };
    const goal = ratios.authOnVsAuthOff;
    const goals = [{ goal: 'auth + tenancy on costs under 10% of requests per second', ratio: goal, met: goal !== null && goal >= 0.9 }];
    console.log(`\nauth-on / auth-off ${ratios.authOnVsAuthOff?.toFixed(3) ?? 'n/a'}; auth-on / pre-tenancy ${ratios.authOnVsPreTenancy?.toFixed(3) ?? 'n/a'}; auth-off / pre-tenancy ${ratios.authOffVsPreTenancy?.toFixed(3) ?? 'n/a'}`);
    console.log(`goal (under 10% fewer requests a second with them on): ${goals[0]!.met ? 'met' : 'NOT met'}`);
    const problems = results.flatMap((r) => (r.measurement ? problemsOf(r.measurement).map((p) => `${r.target}: ${p}`) : []));
    writeJson(RESULTS_FILE, {
      timestamp: new Date().toISOString(),
      machine: { ...machineInfo(), note: `load generator and the hub share ${os.cpus().length} cores`, backgroundCpuBusyBeforeStart: busy },
      database: databases[0] ? { kind: 'postgres', version: databases[0].serverVersion } : null,
      redis: process.env.REDIS_URL ? 'redis (REDIS_URL)' : 'none',
      settings: { ...settings, rounds: ROUNDS, host: HOST, preTenancyRef: PRE_TENANCY_REF },
      query: QUERY,
      results: results.map((r) => ({ target: r.target, ...(r.measurement ? { rounds: r.rounds, requestsPerSecond: r.measurement.requestsPerSecond, latencyP50Ms: r.measurement.latencyP50Ms, latencyP99Ms: r.measurement.latencyP99Ms, detail: r.measurement } : { requestsPerSecond: null, note: r.note }) })),
      ratios,
      goals,
      valid: problems.length === 0,
      problems,
    });
    console.log(`wrote ${RESULTS_FILE}`);
    return problems.length ? 1 : 0;
  } finally {
    await stopAll();
    await drop();
  }
}
