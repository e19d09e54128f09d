import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import postgres from 'postgres';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createLogger, loadConfig, type HubConfig, type Logger } from '@hub/runtime';
import { startHub, type Hub } from '@hub/gateway';

export const backend = (process.env.HUB_TEST_BACKEND ?? 'embedded') as 'embedded' | 'services';
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface GraphQLResult<T> {
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
}

/** One signing key for every hub process of a test run, as a split deployment shares one. */
export const TEST_INTERNAL_KEYS = `test:${randomBytes(32).toString('base64')}`;

/** A client app of one organisation, for tests that need several: its API key and the AUTH_API_KEYS entry. */
export interface TestClient {
  client: string;
  organisationId: string;
  key: string;
  entry: string;
  headers: Record<string, string>;
}

/** Makes a client app's API key: `testClient('care-a', 'org-a', 'read+write+health')`, optionally limited to homes. */
export function testClient(client: string, organisationId: string, scopes = 'read+write+health+finance+audit', homes?: string[]): TestClient {
  const key = `hub_${randomBytes(24).toString('base64url')}`;
  const sha = createHash('sha256').update(key).digest('hex');
  return { client, organisationId, key, entry: `${client}:${scopes}:${sha}:${organisationId}${homes ? `:${homes.join(',')}` : ''}`, headers: { authorization: `Bearer ${key}` } };
}

/** AUTH_API_KEYS for these clients. */
export const apiKeys = (...clients: TestClient[]) => clients.map((c) => c.entry).join(';');

export interface TestHub {
  url: string;
  hub: Hub;
  config: HubConfig;
  gql<T, V>(doc: TypedDocumentNode<T, V>, variables?: V): Promise<GraphQLResult<T>>;
  /** Like gql, as a client app (its API key). */
  gqlAs<T, V>(client: TestClient, doc: TypedDocumentNode<T, V>, variables?: V): Promise<GraphQLResult<T>>;
  /** Like gql, but fails the test on any error and returns the data. */
  ok<T, V>(doc: TypedDocumentNode<T, V>, variables?: V): Promise<T>;
  raw(body: string, headers?: Record<string, string>, path?: string): Promise<Response>;
  rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Stops the hub and starts it again on the same database, optionally with changed configuration. */
  restart(env?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/**
 * A hub for one test file: its own database (a fresh PostgreSQL database, or a PGlite folder), its own
 * Redis key prefix, a vault key, and an outbound allow-list for the local simulators only.
 */
export async function startTestHub(extra: Record<string, string> = {}, opts: { log?: Logger } = {}): Promise<TestHub> {
  const tag = randomBytes(6).toString('hex');
  let dataDir: string | undefined;
  let dbName: string | undefined;
  const base: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent',
    VAULT_KEYS: `test:${randomBytes(32).toString('base64')}`,
    OUTBOUND_ALLOW: '127.0.0.1,localhost',
    JOB_POLL_SECONDS: '0.5',
    HEALTH_CHECK_INTERVAL_SECONDS: '3600',
    SHUTDOWN_GRACE_MS: '2000',
    INTERNAL_SIGNING_KEYS: TEST_INTERNAL_KEYS,
  };
  if (backend === 'services' && extra.DATABASE_URL) {
    // A second process of the same deployment: it shares the first one's database and Redis prefix.
    base.REDIS_URL = REDIS_URL;
  } else if (backend === 'services') {
    dbName = `hub_test_${tag}`;
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    await admin.end();
    const u = new URL(ADMIN_URL);
    u.pathname = `/${dbName}`;
    base.DATABASE_URL = u.toString();
    base.REDIS_URL = REDIS_URL;
    base.REDIS_PREFIX = `hubtest:${tag}:`;
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'hub-test-'));
    base.DATA_DIR = dataDir;
  }
  const config = loadConfig({ ...base, ...extra } as NodeJS.ProcessEnv);
  const log = opts.log ?? createLogger(config.logLevel);
  let hub = await startHub(config, log);

  const t: TestHub = {
    get url() {
      return hub.url;
    },
    get hub() {
      return hub;
    },
    config,
    async gql(doc, variables) {
      const res = await fetch(`${hub.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: print(doc), variables }),
      });
      return (await res.json()) as never;
    },
    async gqlAs(client, doc, variables) {
      const res = await fetch(`${hub.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...client.headers },
        body: JSON.stringify({ query: print(doc), variables }),
      });
      return (await res.json()) as never;
    },
    async ok(doc, variables) {
      const r = await t.gql(doc, variables);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data!;
    },
    raw(body, headers = {}, path = '/graphql') {
      return fetch(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    },
    async rest(method, path, body) {
      const res = await fetch(`${hub.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text: the assertion will show it
      }
      return { status: res.status, body: parsed as any };
    },
    async restart(env = {}) {
      await hub.close();
      hub = await startHub(loadConfig({ ...base, ...extra, ...env } as NodeJS.ProcessEnv), log);
    },
    async close() {
      await hub.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (dbName) {
        const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop database if exists ${dbName} with (force)`);
        await admin.end();
      }
    },
  };
  return t;
}

/** Polls until `probe` returns a value, or fails after `ms`. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, ms = 20_000, every = 200): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
