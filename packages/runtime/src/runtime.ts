import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createAuditTrail, type AuditTrail } from './audit.ts';
import { isInMemoryDataDir, type HubConfig } from './config.ts';
import { memoryBus, redisBus, type EventBus } from './bus.ts';
import { openDatabase, type Database } from './db.ts';
import { startJobQueue, type JobQueue } from './jobs.ts';
import { openKeyValue, type KeyValue } from './kv.ts';
import { createLogger, type Logger } from './logger.ts';
import { createAuthenticator, createHttpClient, createOutboundGuard } from './outbound/index.ts';
import { createVault, generateVaultKey, parseVaultKeys } from './vault.ts';

type HttpClient = ReturnType<typeof createHttpClient>;

/**
 * Everything a hub process shares between its parts, built once: configuration, the database, the Redis parts,
 * the job queue, the one outbound HTTP client with its guard and authenticator, the credential vault,
 * the logger and the Prometheus registry.
 */
export interface HubRuntime<TSchema extends Record<string, unknown> = any> {
  config: HubConfig;
  log: Logger;
  database: Database<TSchema>;
  kv: KeyValue;
  jobs: JobQueue;
  guard: ReturnType<typeof createOutboundGuard>;
  http: HttpClient;
  auth: ReturnType<typeof createAuthenticator>;
  vault: ReturnType<typeof createVault>;
  /** Live fan-out of committed events to every hub process (Redis Streams with REDIS_URL, in-process without). */
  bus: EventBus;
  /** The append-only, hash-chained audit trail every subgraph of this process writes to (applyAudit). */
  audit: AuditTrail;
  metrics: Registry;
  close(): Promise<void>;
}

export interface RuntimeSchema<TSchema extends Record<string, unknown>> {
  schema: TSchema;
  migrationsFolder: string;
}

export async function createRuntime<TSchema extends Record<string, unknown>>(
  config: HubConfig,
  db: RuntimeSchema<TSchema>,
  log: Logger = createLogger(config.logLevel),
): Promise<HubRuntime<TSchema>> {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const outbound = new Histogram({
    name: 'hub_outbound_request_duration_seconds',
    help: 'Calls from the hub to external systems, per system and status',
    labelNames: ['system', 'method', 'status'],
    registers: [metrics],
  });

  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, statementTimeoutMs: config.databaseStatementTimeoutMs, ...db });
  const kv = await openKeyValue({ url: config.redisUrl, prefix: config.redisPrefix });
  const jobs = await startJobQueue(database, log, config.jobPollSeconds);
  const guard = createOutboundGuard({ allow: config.outboundAllow });
  const http = createHttpClient({
    guard,
    timeoutMs: config.outboundTimeoutMs,
    breaker: { threshold: config.outboundBreakerThreshold, halfOpenAfterMs: config.outboundBreakerHalfOpenMs },
    userAgent: 'care-home-integration-hub/0.1',
    metrics: (e) => outbound.observe({ system: e.system, method: e.method, status: String(e.status) }, e.durationMs / 1000),
  });
  const auth = createAuthenticator(http);
  const vault = createVault(parseVaultKeys(config.vaultKeys ?? localVaultKey(config, log)));
  const tables = db.schema as Record<string, unknown>;
  const audit = createAuditTrail(
    database.db,
    { log: tables.auditLog, heads: tables.auditHeads },
    log,
    new Counter({ name: 'hub_audit_write_failures_total', help: 'Audit rows that could not be written (the action they record had already happened)', registers: [metrics] }),
  );
  const bus = kv.redis ? await redisBus(kv.redis, `${config.redisPrefix}events`, log) : memoryBus();

  return {
    config,
    log,
    database,
    kv,
    jobs,
    guard,
    http,
    auth,
    vault,
    bus,
    audit,
    metrics,
    async close() {
      await bus.close();
      await jobs.stop().catch((err) => log.warn({ err }, 'job queue did not stop cleanly'));
      await http.close();
      await kv.close();
      await database.close();
    },
  };
}

/**
 * Without VAULT_KEYS a development hub keeps one generated key in its data folder, so a restart can still
 * open the credentials it sealed. Production must configure keys: a key beside the data it protects is no protection.
 */
function localVaultKey(config: HubConfig, log: Logger): string {
  if (isInMemoryDataDir(config.dataDir)) return `ephemeral:${generateVaultKey()}`;
  if (config.env === 'production') throw new Error('invalid configuration:\n  VAULT_KEYS: required in production (id:base64key[,id:base64key...])');
  const file = join(config.dataDir, 'vault.key');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, `local:${generateVaultKey()}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    log.warn({ file }, 'VAULT_KEYS is not set: generated a local development key');
  }
  return readFileSync(file, 'utf8').trim();
}
