/**
 * The hub as a real operating-system process, started the way `npm start` starts it: signals, graceful shutdown,
 * a restart on the same data, and what its logs may never contain. Everything else in test/hub drives startHub()
 * in-process; only here do main.ts's signal handlers, process exit codes and the real log output get exercised.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import postgres from 'postgres';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator, type GenericRestSimulatorOptions } from '@hub/simulators';
import { ConnectDocument, RegisterSystemDocument, SystemDocument, type RegisterExternalSystemInput } from '../generated/graphql.ts';
import { backend, eventually, type GraphQLResult } from '../support/hub.ts';
import { freePort } from '../support/net.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const GRACE_MS = 10_000;
/** tsx compiling the workspace, then PGlite (or PostgreSQL) and the migrations: a child takes seconds to be ready. */
const START_TIMEOUT_MS = 90_000;

// ---------------------------------------------------------------------------------------------------------------
// Storage a hub process keeps between runs: a PGlite folder, or a fresh PostgreSQL database plus a Redis prefix.

interface Store {
  env: Record<string, string>;
  drop(): Promise<void>;
}

async function createStore(): Promise<Store> {
  const tag = randomBytes(6).toString('hex');
  // The vault key belongs to the data: a restart must be able to open what the first run sealed.
  const env: Record<string, string> = { VAULT_KEYS: `test:${randomBytes(32).toString('base64')}` };
  if (backend === 'services') {
    const dbName = `hub_proc_${tag}`;
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    await admin.end();
    const u = new URL(ADMIN_URL);
    u.pathname = `/${dbName}`;
    Object.assign(env, { DATABASE_URL: u.toString(), REDIS_URL, REDIS_PREFIX: `hubproc:${tag}:` });
    return {
      env,
      async drop() {
        const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists ${dbName} with (force)`);
        await a.end();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'hub-proc-'));
  env.DATA_DIR = dataDir;
  return { env, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------------------------
// One hub child process.

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface HubProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<Exit>;
  /** Sends `signal` and waits for the process to exit; reports how long that took. */
  stop(signal?: NodeJS.Signals): Promise<Exit & { ms: number }>;
}

const stores: Store[] = [];
const children = new Set<HubProcess>();
const sims: GenericRestSimulator[] = [];

afterAll(async () => {
  // Whatever a failed test left behind: kill it hard, then drop its data.
  for (const hub of children) {
    if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
    await hub.exited;
  }
  await Promise.all(sims.map((s) => s.close().catch(() => {})));
  await Promise.all(stores.map((s) => s.drop()));
});

async function newStore(): Promise<Store> {
  const s = await createStore();
  stores.push(s);
  return s;
}

async function simulator(o: GenericRestSimulatorOptions): Promise<GenericRestSimulator> {
  const s = await startGenericRestSimulator(o);
  sims.push(s);
  return s;
}

async function startHubProcess(store: Store): Promise<HubProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { HUB_TEST_BACKEND: _b, HUB_TEST_SERVICES: _s, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...inherited,
      ...store.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      OUTBOUND_ALLOW: '127.0.0.1',
      LOG_LEVEL: 'trace',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      JOB_POLL_SECONDS: '0.5',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const hub: HubProcess = {
    url,
    port,
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      child.kill(signal);
      const exit = await exited;
      return { ...exit, ms: Date.now() - started };
    },
  };
  children.add(hub);

  let gone: Exit | undefined;
  void exited.then((e) => (gone = e));
  await eventually(
    async () => {
      if (gone) throw new Error(`hub exited early (${JSON.stringify(gone)}):\n${out}`);
      const res = await fetch(`${url}/readyz`);
      return res.status === 200;
    },
    START_TIMEOUT_MS,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- hub output ---\n${out}`);
  });
  return hub;
}

async function gql<T, V>(hub: HubProcess, doc: TypedDocumentNode<T, V>, variables: V): Promise<{ status: number; body: GraphQLResult<T> }> {
  const res = await fetch(`${hub.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResult<T> };
}

async function ok<T, V>(hub: HubProcess, doc: TypedDocumentNode<T, V>, variables: V): Promise<T> {
  const { body } = await gql(hub, doc, variables);
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Resolves with the error code of a fresh TCP connection attempt, or 'connected' if the port still accepts. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const systemInput = (over: Partial<RegisterExternalSystemInput>): RegisterExternalSystemInput => ({
  name: `proc-${randomBytes(4).toString('hex')}`,
  type: 'GENERIC_REST',
  endpoint: 'http://127.0.0.1:9',
  authentication: { kind: 'NONE' },
  ...over,
});

// ---------------------------------------------------------------------------------------------------------------

describe('the hub as a process (npm start)', () => {
  it('SIGTERM: finishes the request in flight, stops accepting, exits 0 within the grace period', { timeout: 180_000 }, async () => {
    const sim = await simulator({ auth: { kind: 'API_KEY', key: 'k-process-test' } });
    const hub = await startHubProcess(await newStore());

    const { registerExternalSystem: sys } = await ok(hub, RegisterSystemDocument, {
      input: systemInput({ endpoint: sim.url, authentication: { kind: 'API_KEY' } }),
    });
    expect(sys.authentication.hasCredentials).toBe(false);

    // A slow handshake keeps the connect mutation in flight while the signal arrives.
    sim.setFaults({ latencyMs: 1500 });
    const inFlight = gql(hub, ConnectDocument, { id: sys.id, credentials: { apiKey: 'k-process-test' } });
    inFlight.catch(() => {}); // asserted below; never an unhandled rejection meanwhile
    await sleep(300);
    const stopping = hub.stop('SIGTERM');

    // New connections are refused as soon as the server stops listening; the request in flight is not cut off.
    const refused = await eventually(async () => (await tryConnect(hub.port)) === 'ECONNREFUSED', 3_000, 50).catch(() => false);
    expect(refused, `still accepting connections after SIGTERM\n${hub.output()}`).toBe(true);

    const { status, body } = await inFlight;
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.connectToSystem).toMatchObject({ connected: true, status: 'CONNECTED', httpStatus: 200 });
    expect(body.data!.connectToSystem.latencyMs).toBeGreaterThanOrEqual(1000); // it really waited for the slow handshake

    const exit = await stopping;
    expect(exit, hub.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms, `exited ${exit.ms} ms after SIGTERM, not within the ${GRACE_MS} ms grace period\n${hub.output()}`).toBeLessThan(GRACE_MS);
    expect(hub.output()).toContain('shutting down');
  });

  it('SIGINT: an idle hub exits 0 promptly', { timeout: 180_000 }, async () => {
    const hub = await startHubProcess(await newStore());
    const exit = await hub.stop('SIGINT');
    expect(exit, hub.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms, hub.output()).toBeLessThan(5_000);
    expect(hub.output()).toMatch(/"signal":"SIGINT".*shutting down/);
    expect(await tryConnect(hub.port)).toBe('ECONNREFUSED');
  });

  it('restart after a clean stop: the system registered before is there, credentials included', { timeout: 240_000 }, async () => {
    const store = await newStore();
    const sim = await simulator({ auth: { kind: 'API_KEY', key: 'k-restart' } });
    const first = await startHubProcess(store);
    const { registerExternalSystem: sys } = await ok(first, RegisterSystemDocument, {
      input: systemInput({ name: 'Restart Care Records', endpoint: sim.url, authentication: { kind: 'API_KEY' } }),
    });
    const { connectToSystem } = await ok(first, ConnectDocument, { id: sys.id, credentials: { apiKey: 'k-restart' } });
    expect(connectToSystem.connected).toBe(true);
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0, signal: null });

    const second = await startHubProcess(store);
    const { externalSystem } = await ok(second, SystemDocument, { id: sys.id });
    expect(externalSystem).toMatchObject({
      id: sys.id,
      name: 'Restart Care Records',
      endpoint: sim.url,
      status: 'CONNECTED',
      lastConnected: connectToSystem.checkedAt,
      authentication: { kind: 'API_KEY', hasCredentials: true },
    });
    expect(externalSystem!.healthHistory.map((h) => [h.trigger, h.ok])).toEqual([['CONNECT', true]]);
    expect(await second.stop('SIGTERM')).toMatchObject({ code: 0, signal: null });
  });

  it('secrets never reach the logs, even at LOG_LEVEL=trace', { timeout: 180_000 }, async () => {
    const username = 'carehome-logcheck';
    const password = 'Right-Pa55-7fQx2Lm9';
    const wrongPassword = 'Wrong-Pa55-3kTz8Rv1';
    const sim = await simulator({ auth: { kind: 'BASIC', username, password } });
    const hub = await startHubProcess(await newStore());

    const { registerExternalSystem: sys } = await ok(hub, RegisterSystemDocument, {
      input: systemInput({ endpoint: sim.url, authentication: { kind: 'BASIC' } }),
    });
    const bad = await ok(hub, ConnectDocument, { id: sys.id, credentials: { username, password: wrongPassword } });
    expect(bad.connectToSystem).toMatchObject({ connected: false, status: 'AUTH_FAILED' });
    const good = await ok(hub, ConnectDocument, { id: sys.id, credentials: { username, password } });
    expect(good.connectToSystem).toMatchObject({ connected: true, status: 'CONNECTED' });

    // Failed registrations that carry the secret: in the endpoint URL, and in a field that does not exist.
    const inUrl = await gql(hub, RegisterSystemDocument, {
      input: systemInput({ endpoint: sim.url.replace('http://', `http://${username}:${password}@`), authentication: { kind: 'BASIC' } }),
    });
    expect(inUrl.body.errors?.[0]?.extensions?.code).toBe('OUTBOUND_REFUSED');
    const misplaced = await gql(hub, RegisterSystemDocument, {
      input: systemInput({ endpoint: sim.url, authentication: { kind: 'BASIC', password } as never }),
    });
    expect(misplaced.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    expect(await hub.stop('SIGTERM')).toMatchObject({ code: 0, signal: null });
    const log = hub.output();
    // The log did capture the activity (so the absence below means something) ...
    expect(log).toContain('connect handshake');
    expect(log).toContain(sys.id);
    // ... and no form of either password.
    for (const secret of [
      password,
      wrongPassword,
      Buffer.from(`${username}:${password}`).toString('base64'),
      Buffer.from(`${username}:${wrongPassword}`).toString('base64'),
      encodeURIComponent(password),
    ]) {
      expect(log, `the hub's output contains ${secret}`).not.toContain(secret);
    }
  });
});
