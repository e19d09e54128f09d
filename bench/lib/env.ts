import { randomBytes } from 'node:crypto';

/** A non-negative number from the environment, or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

/**
 * Hub settings the caller's shell might carry (SUPERGRAPH_FILE, a rate limit, subgraph URLs, a Redis prefix, a
 * worker count) that would change what is measured. Each bench sets the ones it means explicitly.
 */
const HUB_ENV_KEYS =
  /^(ROLE|HOST|PORT|DATABASE_URL|DATA_DIR|REDIS_URL|REDIS_PREFIX|WORKERS|SUPERGRAPH_FILE|VAULT_KEYS|OUTBOUND_ALLOW|LOG_LEVEL|RATE_LIMIT_PER_MINUTE|SHUTDOWN_GRACE_MS|MAX_BODY_BYTES|EVENTS_LOG_POLL_MS|SUBGRAPH_[A-Z]+_URL|NHS_[A-Z_]+|HMRC_[A-Z_]+|OPEN_BANKING_[A-Z_]+|OUTBOUND_[A-Z_]+|AUTH_[A-Z_]+|INTERNAL_SIGNING_KEYS|CARE_[A-Z_]+|CONNECTORS_DISABLED|GRAPHQL_[A-Z_]+|REQUEST_TIMEOUT_MS|CORS_ORIGINS|ALLOWED_HOSTS|WORKER_[A-Z_]+|CQC_[A-Z_]+|DBS_[A-Z_]+|REGULATORY_[A-Z_]+|PAYROLL_[A-Z_]+|DATABASE_[A-Z_]+)$/;

/** The environment every child shares; callers add ROLE (and Redis, workers, subgraph URLs as they need). */
export function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !HUB_ENV_KEYS.test(k)));
  return {
    ...inherited,
    // Production mode for both stacks: Apollo Server and yoga drop their development extras (stack traces, etc.).
    NODE_ENV: process.env.NODE_ENV ?? 'production',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    // One key for every process: a credential sealed by one subgraph process must open in the others.
    VAULT_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    // And one internal signing key: the gateway signs what it sends to the subgraph processes.
    INTERNAL_SIGNING_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    OUTBOUND_ALLOW: '127.0.0.1,localhost',
    // Teardown should not wait the default 10 s per process for connections autocannon has already closed.
    SHUTDOWN_GRACE_MS: '2000',
    // Production mode requires a named NHS environment: the benches use the in-process simulator.
    NHS_ENVIRONMENT: 'simulated',
    HMRC_ENVIRONMENT: 'simulated',
    // ... and authentication, or saying it is off: the benches measure the hub on loopback without it.
    AUTH_REQUIRED: 'false',
    AUTH_ANONYMOUS_SCOPES: 'all',
    // Production mode wants every connector configured or disabled: the benches use no bank.
    CONNECTORS_DISABLED: 'banking,payroll,cqc,dbs',
  };
}

export const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
