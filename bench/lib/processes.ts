import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: children run with it as their working directory so `--import tsx` and the workspaces resolve. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every server is bound to loopback and only loopback is ever targeted. */
export const HOST = '127.0.0.1';

/** Lines of a child's output echoed live; the rest is kept only as a tail for error messages. */
const ECHO_LINES = 20;
const TAIL_LINES = 60;
/** Longer lines (a failed INSERT logs every parameter) are echoed and kept shortened: head ... tail. */
const MAX_LINE = 1_000;

const shorten = (line: string) => (line.length <= MAX_LINE ? line : `${line.slice(0, MAX_LINE / 2)} ...[${line.length - MAX_LINE} characters]... ${line.slice(-MAX_LINE / 2)}`);

export interface ServerProcess {
  name: string;
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  child: ChildProcess;
  /** The last lines the child wrote (long ones shortened), for failure messages. */
  tail: string[];
  /** Called with every whole line the child writes, e.g. to look for a cause in its log. */
  lineListeners: Set<(line: string) => void>;
  /** Resolves with the exit code (or signal name) once the child has gone. */
  exited: Promise<string>;
  hasExited: boolean;
}

const running = new Set<ServerProcess>();

/** Asks the kernel for a free loopback port. A tiny race with other programs is acceptable for a bench. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/**
 * Starts `node --import tsx <script>`: the same TypeScript loader `tsx <script>` uses, but without tsx's
 * watcher/relay parent, so the pid we hold is the server itself and signals reach it directly. `nodeArgs` go
 * before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not take); node:cluster workers inherit them.
 */
export function startServer(name: string, script: string, port: number, env: NodeJS.ProcessEnv, nodeArgs: string[] = [], cwd = REPO_ROOT): ServerProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd,
    env: { ...env, PORT: String(port), HOST },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server: ServerProcess = {
    name,
    port,
    url: `http://${HOST}:${port}`,
    child,
    tail: [],
    lineListeners: new Set(),
    hasExited: false,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        server.hasExited = true;
        running.delete(server);
        resolve(signal ?? String(code));
      });
    }),
  };
  running.add(server);
  let echoed = 0;
  // Both streams must be drained, or a chatty child blocks on a full pipe and skews (or stalls) the run.
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      for (const listener of server.lineListeners) listener(line);
      const short = shorten(line);
      server.tail.push(short);
      if (server.tail.length > TAIL_LINES) server.tail.shift();
      if (echoed < ECHO_LINES) console.error(`  [${name}] ${short}`);
      else if (echoed === ECHO_LINES) console.error(`  [${name}] ... (further output suppressed)`);
      echoed++;
    });
  }
  child.once('error', (err) => server.tail.push(`spawn failed: ${err.message}`));
  return server;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `GET /readyz` answers 200: the hub's own readiness (database, Redis, remote subgraphs). */
export async function readyzProbe(server: ServerProcess): Promise<boolean> {
  const res = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * Polls `probe` until it passes. Fails early, with the child's last output, if the child exits, so a crash
 * on start-up (bad config, migration error) is reported as such rather than as a timeout.
 */
export async function waitReady(server: ServerProcess, probe: (s: ServerProcess) => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (server.hasExited) throw new Error(`${server.name} exited before it was ready:\n${describeTail(server)}`);
    try {
      if (await probe(server)) return;
      last = 'not ready';
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${server.name} was not ready after ${timeoutMs / 1000} s (${last}):\n${describeTail(server)}`);
}

export function describeTail(server: ServerProcess): string {
  return server.tail.length ? server.tail.map((l) => `    ${l}`).join('\n') : '    (no output)';
}

/** SIGTERM one child (the hub drains and closes its pools), SIGKILL it if it is still there after the grace period. */
export async function stopServer(server: ServerProcess, graceMs = 5_000): Promise<void> {
  if (server.hasExited) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  await server.exited;
  clearTimeout(timer);
}

/** Stops every child still running, all at once. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...running].map((s) => stopServer(s, graceMs)));
}

/** Last resort for `process.on('exit')`, where nothing asynchronous runs: kill whatever is left, by pid. */
export function killAllNow(): void {
  for (const s of running) s.child.kill('SIGKILL');
}
