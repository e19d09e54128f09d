import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_ORGANISATION, parseInternalKeys, TENANT_ID, type InternalKeys } from './tenancy.ts';

/** Every process role the hub can run. `all` is the laptop/demo shape: the gateway plus every subgraph in one process. */
export const SUBGRAPH_NAMES = ['systems', 'integrations', 'mappings', 'metrics', 'events', 'nhs', 'hmrc', 'banking', 'audit', 'care', 'regulatory', 'payroll'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];
export type Role = 'all' | 'gateway' | SubgraphName;

const roleSchema = z.enum(['all', 'gateway', ...SUBGRAPH_NAMES]);

const csv = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  ROLE: z.string().default('all'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z.string().url().optional(),
  /** PostgreSQL stops any one statement after this long (0: never): work a caller gave up on does not run on. */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  DATA_DIR: z.string().default('.data'),
  REDIS_URL: z.string().url().optional(),
  REDIS_PREFIX: z.string().default('hub:'),
  SUPERGRAPH_FILE: z.string().optional(),
  VAULT_KEYS: z.string().optional(),
  OUTBOUND_ALLOW: z.string().optional(),
  OUTBOUND_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  OUTBOUND_BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(5),
  OUTBOUND_BREAKER_HALF_OPEN_MS: z.coerce.number().int().min(100).default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  HEALTH_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(60),
  JOB_POLL_SECONDS: z.coerce.number().min(0.5).default(2),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  EVENTS_LOG_POLL_MS: z.coerce.number().int().min(50).default(1000),
  EVENTS_SUBSCRIBER_BUFFER: z.coerce.number().int().min(10).max(1_000_000).default(10_000),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(1000),
  AUTH_API_KEYS: z.string().optional(),
  AUTH_JWT_JWKS_URL: z.string().url().optional(),
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
  AUTH_REQUIRED: z.enum(['true', 'false']).optional(),
  /** The JWT claims that name the client's organisation and (optionally) the homes it is limited to. */
  AUTH_JWT_ORGANISATION_CLAIM: z.string().min(1).default('org'),
  AUTH_JWT_HOMES_CLAIM: z.string().min(1).default('homes'),
  /** Signs what the gateway sends to subgraph processes: `id:base64secret[,id:base64secret]` (the first signs). */
  INTERNAL_SIGNING_KEYS: z.string().optional(),
  /** How long after a resident's discharge the home may still read their NHS records (days). */
  CARE_DISCHARGE_WINDOW_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** Retention, in days: event payloads (redacted, the row stays), records synced from other systems, audit rows. */
  RETENTION_EVENT_PAYLOAD_DAYS: z.coerce.number().int().min(1).max(36500).default(730),
  RETENTION_SYNCED_RECORD_DAYS: z.coerce.number().int().min(1).max(36500).default(365),
  RETENTION_AUDIT_DAYS: z.coerce.number().int().min(1).max(36500).default(2922),
  NHS_ENVIRONMENT: z.enum(['simulated', 'sandbox', 'int', 'production']).optional(),
  NHS_BASE_URL: z.string().url().optional(),
  NHS_TOKEN_URL: z.string().url().optional(),
  NHS_API_KEY: z.string().min(1).optional(),
  NHS_PRIVATE_KEY: z.string().min(1).optional(),
  NHS_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  NHS_KEY_ID: z.string().min(1).optional(),
  NHS_MESH_URL: z.string().url().optional(),
  NHS_MESH_MAILBOX: z.string().min(1).optional(),
  NHS_MESH_PASSWORD: z.string().min(1).optional(),
  NHS_MESH_SHARED_KEY: z.string().min(1).optional(),
  NHS_MESH_CLIENT_CERT_FILE: z.string().min(1).optional(),
  NHS_MESH_CLIENT_KEY_FILE: z.string().min(1).optional(),
  NHS_MESH_CA_FILE: z.string().min(1).optional(),
  NHS_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(5),
  NHS_CACHE_FRESH_SECONDS: z.coerce.number().int().min(0).default(300),
  NHS_CACHE_STALE_SECONDS: z.coerce.number().int().min(0).default(86_400),
  NHS_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  HMRC_ENVIRONMENT: z.enum(['simulated', 'sandbox', 'production']).optional(),
  HMRC_BASE_URL: z.string().url().optional(),
  HMRC_CLIENT_ID: z.string().min(1).optional(),
  HMRC_CLIENT_SECRET: z.string().min(1).optional(),
  HMRC_REDIRECT_URI: z.string().url().optional(),
  HMRC_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(3),
  HMRC_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  OPEN_BANKING_BASE_URL: z.string().url().optional(),
  OPEN_BANKING_CLIENT_ID: z.string().min(1).optional(),
  OPEN_BANKING_CLIENT_SECRET: z.string().min(1).optional(),
  OPEN_BANKING_REDIRECT_URI: z.string().url().optional(),
  OPEN_BANKING_SIGNING_KEY: z.string().min(1).optional(),
  OPEN_BANKING_SIGNING_KEY_FILE: z.string().min(1).optional(),
  OPEN_BANKING_SIGNING_KID: z.string().min(1).optional(),
  OPEN_BANKING_ISSUER: z.string().min(1).optional(),
  // Regulators (the regulatory subgraph): CQC's public API and the DBS Update Service; `simulated`, `live` or `disabled`.
  CQC_ENVIRONMENT: z.enum(['simulated', 'live', 'disabled']).optional(),
  CQC_BASE_URL: z.string().url().optional(),
  CQC_SUBSCRIPTION_KEY: z.string().min(1).optional(),
  CQC_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(3600),
  CQC_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(10),
  CQC_MAX_RETRIES: z.coerce.number().int().min(0).max(20).default(6),
  DBS_ENVIRONMENT: z.enum(['simulated', 'live', 'disabled']).optional(),
  DBS_BASE_URL: z.string().url().optional(),
  DBS_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(2),
  DBS_SCHEDULE_SECONDS: z.coerce.number().int().min(1).default(3600),
  DBS_RECHECK_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Submissions to regulators sent by email: the relay (smtp://user:pass@host:port or smtps://), the sender, CQC's address. */
  REGULATORY_SMTP_URL: z.string().url().optional(),
  REGULATORY_MAIL_FROM: z.string().min(3).optional(),
  CQC_NOTIFICATION_EMAIL: z.string().email().optional(),
  // Payroll RTI (the payroll subgraph): HMRC's Transaction Engine; `simulated`, `test` (Test in Live), `live` or `disabled`.
  HMRC_RTI_ENVIRONMENT: z.enum(['simulated', 'test', 'live', 'disabled']).optional(),
  HMRC_RTI_URL: z.string().url().optional(),
  HMRC_RTI_SENDER_ID: z.string().min(1).optional(),
  HMRC_RTI_PASSWORD: z.string().min(1).optional(),
  HMRC_RTI_VENDOR_ID: z.string().regex(/^\d{4}$/).default('0000'),
  HMRC_RTI_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Folder of RTI packs (<tax year>/pack.json and HMRC's schemas); default the payroll subgraph's data/rti. */
  PAYROLL_RTI_PACKS_DIR: z.string().min(1).optional(),
  /** Connectors this deployment does not use (nhs, hmrc, banking): no simulator, no calls; their fields say so. */
  CONNECTORS_DISABLED: z.string().optional(),
  /** The worker pool for transforms, conversions, caller schemas and FHIRPath (packages/runtime/src/workers). */
  WORKER_THREADS: z.coerce.number().int().min(1).max(64).optional(),
  WORKER_TASK_TIMEOUT_MS: z.coerce.number().int().min(10).default(10_000),
  WORKER_MAX_MEMORY_MB: z.coerce.number().int().min(16).max(16_384).default(512),
  // Hostile input at the gateway (docs/security.md): limits checked before anything executes.
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(15),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(10).default(3000),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(50_000),
  GRAPHQL_COST_LIST_SIZE: z.coerce.number().int().min(1).default(20),
  GRAPHQL_COST_UPSTREAM: z.coerce.number().int().min(0).default(10),
  /** JSON: { "client-id": { "maxCost": 200000, "maxDepth": 20, ... } }, each limit optional. */
  GRAPHQL_LIMITS_BY_CLIENT: z.string().optional(),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  GRAPHQL_BATCH_LIMIT: z.coerce.number().int().min(0).max(100).default(5),
  GRAPHQL_PERSISTED_OPERATIONS_FILE: z.string().min(1).optional(),
  GRAPHQL_PERSISTED_ONLY: z.enum(['true', 'false']).optional(),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(10).default(10_000),
  CORS_ORIGINS: z.string().optional(),
  ALLOWED_HOSTS: z.string().optional(),
  WS_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  WS_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(20),
  WS_MAX_SUBSCRIPTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(100),
  SSE_MAX_STREAMS_PER_CLIENT: z.coerce.number().int().min(1).default(20),
  /** Scopes a caller without credentials gets (`read+write`, `all`, `none`); development only, or with AUTH_REQUIRED=false. */
  AUTH_ANONYMOUS_SCOPES: z.string().optional(),
  AUTH_JWT_ALGORITHMS: z.string().default('RS256'),
});

/** The connectors to external systems; in production each is configured or named in CONNECTORS_DISABLED. */
export const CONNECTORS = ['nhs', 'hmrc', 'banking', 'payroll', 'cqc', 'dbs'] as const;
export type Connector = (typeof CONNECTORS)[number];

/** The NHS environments the connector knows (APIM base URLs live in the nhs subgraph); `simulated` is the local simulator. */
export type NhsEnvironment = 'simulated' | 'sandbox' | 'int' | 'production';

export interface NhsConfig {
  /** Unset with nothing else configured: the simulator, started in process. */
  environment: NhsEnvironment;
  /** CONNECTORS_DISABLED names nhs: no simulator and no NHS call; the NHS fields answer that it is not configured. */
  disabled?: boolean;
  /** Overrides the environment's API platform base URL (e.g. a simulator run elsewhere). */
  baseUrl?: string;
  tokenUrl?: string;
  apiKey?: string;
  privateKeyPem?: string;
  keyId?: string;
  meshUrl?: string;
  meshMailbox?: string;
  meshPassword?: string;
  meshSharedKey?: string;
  /** The mailbox's client certificate for MESH's mutual TLS (PEM), with its key and the MESH CA. */
  meshTls?: { cert: string; key: string; ca?: string };
  /** Requests per second the hub allows itself towards each NHS API, across all its processes. */
  rateLimitPerSecond: number;
  /** How long a cached record is served without asking the spine. */
  cacheFreshSeconds: number;
  /** How long past that it is kept to serve, marked stale, while the spine is unreachable. */
  cacheStaleSeconds: number;
  timeoutMs: number;
}

export type HmrcEnvironment = 'simulated' | 'sandbox' | 'production';

/** A regulator's API: its simulator, the real service, or none (its fields answer that it is not configured). */
export type RegulatorEnvironment = 'simulated' | 'live' | 'disabled';

/**
 * CQC's public API and the DBS Update Service. Unset in development: the simulators, in process. Unset in
 * production: disabled (never simulated because a variable was forgotten); `live` needs CQC_SUBSCRIPTION_KEY.
 */
export interface RegulatoryConfig {
  cqc: { environment: RegulatorEnvironment; baseUrl?: string; subscriptionKey?: string; syncIntervalSeconds: number; rateLimitPerSecond: number; maxRetries: number };
  dbs: { environment: RegulatorEnvironment; baseUrl?: string; rateLimitPerSecond: number; scheduleSeconds: number; recheckDays: number };
  /** Where submissions go by email; without smtpUrl an approved submission waits, saying why. */
  submissions: { smtpUrl?: string; mailFrom: string; cqcNotificationEmail?: string };
}

/**
 * HMRC's Transaction Engine for RTI (FPS, EPS): the environment, its submission URL, and the sender's Government
 * Gateway credentials. `test` is HMRC's Test in Live service (GatewayTest 1); `simulated` the local simulator.
 */
export interface PayrollConfig {
  environment: 'simulated' | 'test' | 'live' | 'disabled';
  url?: string;
  senderId?: string;
  password?: string;
  vendorId: string;
  timeoutMs: number;
  packsDir?: string;
}

/** HMRC's APIs (Making Tax Digital VAT): where, and the hub's application credentials from the Developer Hub. */
export interface HmrcConfig {
  environment: HmrcEnvironment;
  /** CONNECTORS_DISABLED names hmrc: no simulator and no HMRC call. */
  disabled?: boolean;
  /** Overrides the environment's base URL (APIs and OAuth live under it), e.g. a simulator run elsewhere. */
  baseUrl?: string;
  clientId?: string;
  clientSecret?: string;
  /** Where HMRC sends the user back after they grant access: the hub's /api/integration/hmrc/oauth/callback. */
  redirectUri?: string;
  /** Requests per second to HMRC across every hub process (HMRC allows an application 3). */
  rateLimitPerSecond: number;
  timeoutMs: number;
}

/**
 * The care group's bank, for payments through its Open Banking API (PISP): where it is, the hub's registration with
 * it, and the key the hub signs request bodies with (detached JWS, PS256). Unset: the bank simulator, in process.
 */
export interface OpenBankingConfig {
  /** CONNECTORS_DISABLED names banking: no simulator; payments answer that no bank is configured. */
  disabled?: boolean;
  baseUrl?: string;
  clientId?: string;
  clientSecret?: string;
  redirectUri?: string;
  signingKeyPem?: string;
  signingKid?: string;
  /** The `http://openbanking.org.uk/iss` of the hub's signatures (its software statement or organisation id). */
  issuer?: string;
}

export interface HubConfig {
  env: string;
  roles: Role[];
  host: string;
  port: number;
  databaseUrl?: string;
  databaseStatementTimeoutMs: number;
  dataDir: string;
  redisUrl?: string;
  redisPrefix: string;
  supergraphFile?: string;
  /** URLs of subgraphs served by other processes, e.g. SUBGRAPH_SYSTEMS_URL. */
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  vaultKeys?: string;
  outboundAllow: string[];
  outboundTimeoutMs: number;
  /** Consecutive failures (transport errors, 5xx) of one system that open its circuit breaker. */
  outboundBreakerThreshold: number;
  /** How long an open breaker refuses calls before it lets one through to test the system. */
  outboundBreakerHalfOpenMs: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  maxBodyBytes: number;
  healthCheckIntervalSeconds: number;
  jobPollSeconds: number;
  shutdownGraceMs: number;
  /** Requests per minute per client at the gateway; 0 turns the limiter off. */
  rateLimitPerMinute: number;
  /** Processes `npm start` forks, sharing one port (node:cluster); more than one needs DATABASE_URL. */
  workers: number;
  /** How often a live subscriber also reads the log, in case the bus dropped a message. */
  eventsLogPollMs: number;
  /**
   * Live events one subscriber may have waiting while it is slow to read (its socket is not draining). Past it they
   * are dropped and the subscriber reads them from the log once it catches up: memory per subscriber stays bounded.
   */
  eventsSubscriberBuffer: number;
  /** First webhook retry delay; doubles per attempt (with full jitter), capped at 5 minutes. */
  webhookRetryBaseMs: number;
  nhs: NhsConfig;
  hmrc: HmrcConfig;
  payroll: PayrollConfig;
  openBanking: OpenBankingConfig;
  regulatory: RegulatoryConfig;
  auth: AuthSettings;
  /** Signs and checks calls between hub processes; required when any subgraph runs in another process. */
  internalKeys?: InternalKeys;
  careDischargeWindowDays: number;
  /** Worker threads for CPU-heavy and caller-programmable work: how many, how long a task may run, heap per thread. */
  workerPool: { threads?: number; timeoutMs: number; maxMemoryMb: number };
  graphql: GraphQLSettings;
  /** Each GraphQL or REST request's time budget; past it the request is answered TIMEOUT and its work aborted. */
  requestTimeoutMs: number;
  doors: DoorSettings;
  retention: { eventPayloadDays: number; syncedRecordDays: number; auditDays: number };
}

/**
 * read: queries and subscriptions; write: mutations; health: residents' NHS records; finance: VAT, bank statements
 * and payments (the last two on the fields the subgraphs mark @requiresScopes).
 */
export type Scope = 'read' | 'write' | 'health' | 'finance' | 'audit';
export const SCOPES: readonly Scope[] = ['read', 'write', 'health', 'finance', 'audit'];

/** One client app's API key, as configured: never the key itself, only its SHA-256. */
export interface ApiKeyEntry {
  client: string;
  scopes: Scope[];
  sha256: string;
  /** The organisation the client app belongs to (DEFAULT_ORGANISATION when the entry names none). */
  organisationId: string;
  /** The homes it is limited to; null: every home of its organisation. */
  homeIds: string[] | null;
}

/** Limits on one GraphQL operation, checked before it executes (gateway/src/limits.ts). */
export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
  /** The items a list field without a `first`/`last`/`limit` argument is assumed to return, for the cost. */
  listSize: number;
  /** What a field that makes its own upstream call (another subgraph, an external API) adds to the cost. */
  upstreamCost: number;
}

export interface GraphQLSettings {
  limits: GraphQLLimits;
  /** Per authenticated client id: limits that replace the defaults for that client. */
  limitsByClient: Record<string, Partial<GraphQLLimits>>;
  /** Introspection and "did you mean" field suggestions (off in production unless GRAPHQL_INTROSPECTION=true). */
  introspection: boolean;
  /** Operations one batched HTTP request may carry; 0 refuses batches. */
  batchLimit: number;
  /** Trusted documents: a JSON file of id to document; `required`: nothing else is executed. */
  persistedOperations?: { file: string; required: boolean };
}

/** The HTTP and WebSocket doors of the gateway. */
export interface DoorSettings {
  /** Origins allowed to call cross-origin (CORS); empty: same origin only. */
  corsOrigins: string[];
  /** Host header values the gateway answers (`host` or `host:port`); null: any (development). */
  allowedHosts: string[] | null;
  wsMaxPayloadBytes: number;
  wsConnectionInitTimeoutMs: number;
  wsMaxConnectionsPerClient: number;
  wsMaxSubscriptionsPerClient: number;
  sseMaxStreamsPerClient: number;
}

/** Who may call the gateway: API keys, JWTs from the operator's identity provider, or (not required) anyone. */
export interface AuthSettings {
  /** A request without valid credentials is refused (401). */
  required: boolean;
  apiKeys: ApiKeyEntry[];
  jwt?: { jwksUrl: string; issuer: string; audience: string; organisationClaim: string; homesClaim: string; algorithms: string[] };
  /** What a caller without credentials may do (when they are not required): nothing unless configured. */
  anonymousScopes: Scope[];
}

/**
 * AUTH_API_KEYS: entries separated by `;` or new lines, each `client:scopes:sha256-of-key[:organisation[:home,home]]`
 * (scopes `read`, `write`, `health`, `finance`, `audit` joined by `+`). An entry without an organisation belongs to the
 * default one (a hub from before organisations). Several entries may name one client: that is how a key is rotated.
 */
function parseApiKeys(raw: string | undefined): ApiKeyEntry[] {
  const seen = new Set<string>();
  return (raw ?? '')
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const bad = (why: string) => new Error(`invalid configuration:\n  AUTH_API_KEYS: entry ${i + 1} ${why} (expected client:read+write+health+finance+audit:<64 hex digits of the key's SHA-256>[:organisation[:home,home]])`);
      const [client, scopes, sha256, organisation, homes, ...rest] = entry.split(':');
      if (rest.length || !client || !scopes || !sha256) throw bad('is not client:scopes:sha256');
      if (organisation !== undefined && !TENANT_ID.test(organisation)) throw bad('has an organisation id other than 1 to 64 lower-case letters, digits, . _ - (starting with a letter or digit)');
      const homeIds = homes === undefined ? null : homes.split(',');
      if (homeIds && !homeIds.every((h) => TENANT_ID.test(h))) throw bad('has a home id other than 1 to 64 lower-case letters, digits, . _ -');
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(client)) throw bad('has a client name other than 1 to 100 letters, digits, . _ -');
      const list = scopes.split('+');
      if (!list.every((s) => (SCOPES as readonly string[]).includes(s))) throw bad(`has scopes other than ${SCOPES.join(', ')}`);
      if (!/^[0-9a-f]{64}$/i.test(sha256)) throw bad('has a hash that is not 64 hex digits');
      if (seen.has(sha256.toLowerCase())) throw bad('repeats a key of another entry');
      seen.add(sha256.toLowerCase());
      return { client, scopes: list as Scope[], sha256: sha256.toLowerCase(), organisationId: organisation ?? DEFAULT_ORGANISATION, homeIds };
    });
}

function authSettings(e: z.infer<typeof envSchema>, gateway: boolean): AuthSettings {
  const apiKeys = parseApiKeys(e.AUTH_API_KEYS);
  const algorithms = jwtAlgorithms(e.AUTH_JWT_ALGORITHMS);
  let jwt: AuthSettings['jwt'];
  if (e.AUTH_JWT_JWKS_URL || e.AUTH_JWT_ISSUER || e.AUTH_JWT_AUDIENCE) {
    if (!e.AUTH_JWT_JWKS_URL || !e.AUTH_JWT_ISSUER || !e.AUTH_JWT_AUDIENCE) {
      throw new Error('invalid configuration:\n  AUTH_JWT_JWKS_URL, AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE: set all three to accept JWTs (a token is checked against each)');
    }
    jwt = { jwksUrl: e.AUTH_JWT_JWKS_URL, issuer: e.AUTH_JWT_ISSUER, audience: e.AUTH_JWT_AUDIENCE, organisationClaim: e.AUTH_JWT_ORGANISATION_CLAIM, homesClaim: e.AUTH_JWT_HOMES_CLAIM, algorithms };
  }
  const configured = apiKeys.length > 0 || jwt !== undefined;
  const required = e.AUTH_REQUIRED ? e.AUTH_REQUIRED === 'true' : configured;
  if (required && !configured) throw new Error('invalid configuration:\n  AUTH_REQUIRED=true: configure AUTH_API_KEYS or AUTH_JWT_JWKS_URL too');
  if (gateway && e.NODE_ENV === 'production' && !required && e.AUTH_REQUIRED !== 'false') {
    // Residents' health records behind an open door because a variable was forgotten: refuse instead.
    throw new Error('invalid configuration:\n  AUTH_API_KEYS or AUTH_JWT_JWKS_URL: required when NODE_ENV=production (or AUTH_REQUIRED=false, if something in front of the hub authenticates its callers)');
  }
  return { required, apiKeys, jwt, anonymousScopes: anonymousScopes(e, required, configured) };
}

/** Asymmetric algorithms only: a JWKS holds public keys, and `none` or an HMAC "signed" with one must never pass. */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
function jwtAlgorithms(raw: string): string[] {
  const list = csv(raw);
  const bad = list.filter((a) => !JWT_ALGORITHMS.includes(a));
  if (!list.length || bad.length) throw new Error(`invalid configuration:\n  AUTH_JWT_ALGORITHMS: ${bad.length ? `unknown or not allowed: ${bad.join(', ')}` : 'empty'} (any of ${JWT_ALGORITHMS.join(', ')})`);
  return list;
}

/**
 * A caller without credentials gets no scopes unless AUTH_ANONYMOUS_SCOPES says so. The one default: a hub outside
 * production with no credentials configured at all (`npm start` on a laptop) lets everyone do everything.
 */
function anonymousScopes(e: z.infer<typeof envSchema>, required: boolean, configured: boolean): Scope[] {
  const raw = e.AUTH_ANONYMOUS_SCOPES?.trim();
  if (raw === undefined || raw === '') return !required && !configured && e.NODE_ENV !== 'production' ? [...SCOPES] : [];
  if (raw === 'none') return [];
  const list = raw === 'all' ? [...SCOPES] : raw.split(/[+,\s]+/).filter(Boolean);
  if (!list.every((s) => (SCOPES as readonly string[]).includes(s))) throw new Error(`invalid configuration:\n  AUTH_ANONYMOUS_SCOPES: scopes other than ${SCOPES.join(', ')} (or all, none)`);
  if (required && list.length) throw new Error('invalid configuration:\n  AUTH_ANONYMOUS_SCOPES: authentication is required, so no caller is anonymous (set AUTH_REQUIRED=false to let them in)');
  if (e.NODE_ENV === 'production' && list.length && e.AUTH_REQUIRED !== 'false') throw new Error('invalid configuration:\n  AUTH_ANONYMOUS_SCOPES: a production gateway gives anonymous callers scopes only with AUTH_REQUIRED=false');
  return list as Scope[];
}

const LIMIT_KEYS = ['maxDepth', 'maxAliases', 'maxTokens', 'maxDirectives', 'maxCost', 'listSize', 'upstreamCost'] as const;
const limitsOverride = z.object(Object.fromEntries(LIMIT_KEYS.map((k) => [k, z.number().int().min(0).optional()])) as Record<(typeof LIMIT_KEYS)[number], z.ZodOptional<z.ZodNumber>>).strict();

function graphqlSettings(e: z.infer<typeof envSchema>): GraphQLSettings {
  let limitsByClient: GraphQLSettings['limitsByClient'] = {};
  if (e.GRAPHQL_LIMITS_BY_CLIENT) {
    let json: unknown;
    try {
      json = JSON.parse(e.GRAPHQL_LIMITS_BY_CLIENT);
    } catch {
      throw new Error('invalid configuration:\n  GRAPHQL_LIMITS_BY_CLIENT: not JSON (expected {"client-id": {"maxCost": 100000}})');
    }
    const parsed = z.record(z.string(), limitsOverride).safeParse(json);
    if (!parsed.success) throw new Error(`invalid configuration:\n  GRAPHQL_LIMITS_BY_CLIENT: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')} (limits: ${LIMIT_KEYS.join(', ')})`);
    limitsByClient = parsed.data;
  }
  const production = e.NODE_ENV === 'production';
  const file = e.GRAPHQL_PERSISTED_OPERATIONS_FILE;
  if (e.GRAPHQL_PERSISTED_ONLY === 'true' && !file) throw new Error('invalid configuration:\n  GRAPHQL_PERSISTED_ONLY=true: set GRAPHQL_PERSISTED_OPERATIONS_FILE too');
  return {
    limits: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxCost: e.GRAPHQL_MAX_COST,
      listSize: e.GRAPHQL_COST_LIST_SIZE,
      upstreamCost: e.GRAPHQL_COST_UPSTREAM,
    },
    limitsByClient,
    introspection: e.GRAPHQL_INTROSPECTION ? e.GRAPHQL_INTROSPECTION === 'true' : !production,
    batchLimit: e.GRAPHQL_BATCH_LIMIT,
    // Configured trusted documents are the only ones a production gateway runs, unless told otherwise.
    persistedOperations: file ? { file, required: e.GRAPHQL_PERSISTED_ONLY ? e.GRAPHQL_PERSISTED_ONLY === 'true' : production } : undefined,
  };
}

/** Loopback names a development or production gateway always answers to (probes, a reverse proxy on the host). */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

function doorSettings(e: z.infer<typeof envSchema>): DoorSettings {
  const origins = csv(e.CORS_ORIGINS);
  for (const o of origins) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === o;
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`invalid configuration:\n  CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path, no wildcard)`);
  }
  const hosts = csv(e.ALLOWED_HOSTS).map((h) => h.toLowerCase());
  return {
    corsOrigins: origins,
    allowedHosts: hosts.includes('*') ? null : hosts.length ? [...new Set([...hosts, ...LOOPBACK_HOSTS])] : e.NODE_ENV !== 'production' ? null : LOOPBACK_HOSTS,
    wsMaxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
    wsConnectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    wsMaxConnectionsPerClient: e.WS_MAX_CONNECTIONS_PER_CLIENT,
    wsMaxSubscriptionsPerClient: e.WS_MAX_SUBSCRIPTIONS_PER_CLIENT,
    sseMaxStreamsPerClient: e.SSE_MAX_STREAMS_PER_CLIENT,
  };
}

/** Reads and validates the environment once; a bad value stops the process with a message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HubConfig> = {}): HubConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const roles = csv(e.ROLE).map((r) => {
    const ok = roleSchema.safeParse(r);
    if (!ok.success) throw new Error(`invalid configuration:\n  ROLE: unknown role "${r}" (one of ${roleSchema.options.join(', ')})`);
    return ok.data;
  });
  const subgraphUrls: HubConfig['subgraphUrls'] = {};
  for (const name of SUBGRAPH_NAMES) {
    const url = env[`SUBGRAPH_${name.toUpperCase()}_URL`];
    if (url) subgraphUrls[name] = url;
  }
  const disabled = connectorsDisabled(e);
  const runs = (r: Role) => roles.length === 0 || roles.includes('all') || roles.includes(r);
  if (runs('nhs') && e.NODE_ENV === 'production' && !e.NHS_ENVIRONMENT && !disabled.has('nhs')) {
    // A production hub must never serve simulated residents because a variable was forgotten.
    throw new Error('invalid configuration:\n  NHS_ENVIRONMENT: required when NODE_ENV=production (simulated, sandbox, int or production), or CONNECTORS_DISABLED=nhs');
  }
  if (runs('banking') && e.NODE_ENV === 'production' && !e.OPEN_BANKING_BASE_URL && !disabled.has('banking')) {
    // Nor send a care group's payments to a simulated bank.
    throw new Error('invalid configuration:\n  OPEN_BANKING_BASE_URL: required when NODE_ENV=production (the bank the care group pays through, with OPEN_BANKING_CLIENT_ID and the rest), or CONNECTORS_DISABLED=banking');
  }
  const configuredAs: Record<Connector, unknown> = {
    nhs: e.NHS_ENVIRONMENT || e.NHS_BASE_URL,
    hmrc: e.HMRC_ENVIRONMENT || e.HMRC_BASE_URL,
    banking: e.OPEN_BANKING_BASE_URL,
    payroll: e.HMRC_RTI_ENVIRONMENT && e.HMRC_RTI_ENVIRONMENT !== 'disabled',
    cqc: e.CQC_ENVIRONMENT && e.CQC_ENVIRONMENT !== 'disabled',
    dbs: e.DBS_ENVIRONMENT && e.DBS_ENVIRONMENT !== 'disabled',
  };
  const contradicted = [...disabled].filter((c) => configuredAs[c]);
  if (contradicted.length) {
    throw new Error(`invalid configuration:\n  CONNECTORS_DISABLED: ${contradicted.join(', ')} is both disabled and configured; remove it from CONNECTORS_DISABLED or its settings`);
  }
  if (e.WORKERS > 1 && !e.DATABASE_URL) {
    throw new Error('invalid configuration:\n  WORKERS: more than one worker needs DATABASE_URL (embedded PGlite belongs to one process)');
  }
  return {
    env: e.NODE_ENV,
    roles: roles.length ? roles : ['all'],
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    supergraphFile: e.SUPERGRAPH_FILE,
    subgraphUrls,
    vaultKeys: e.VAULT_KEYS,
    outboundAllow: csv(e.OUTBOUND_ALLOW),
    outboundTimeoutMs: e.OUTBOUND_TIMEOUT_MS,
    outboundBreakerThreshold: e.OUTBOUND_BREAKER_THRESHOLD,
    outboundBreakerHalfOpenMs: e.OUTBOUND_BREAKER_HALF_OPEN_MS,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    healthCheckIntervalSeconds: e.HEALTH_CHECK_INTERVAL_SECONDS,
    jobPollSeconds: e.JOB_POLL_SECONDS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    workers: e.WORKERS,
    eventsLogPollMs: e.EVENTS_LOG_POLL_MS,
    eventsSubscriberBuffer: e.EVENTS_SUBSCRIBER_BUFFER,
    webhookRetryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
    nhs: { ...nhsConfig(e), ...(disabled.has('nhs') ? { disabled: true } : {}) },
    hmrc: { ...hmrcConfig(e, runs('hmrc'), disabled.has('hmrc')), ...(disabled.has('hmrc') ? { disabled: true } : {}) },
    payroll: payrollConfig(e, runs('payroll'), disabled.has('payroll')),
    openBanking: { ...openBankingConfig(e), ...(disabled.has('banking') ? { disabled: true } : {}) },
    regulatory: regulatoryConfig(e, runs('regulatory'), disabled),
    auth: authSettings(e, roles.length === 0 || roles.includes('all') || roles.includes('gateway')),
    internalKeys: internalKeys(e, roles, subgraphUrls),
    careDischargeWindowDays: e.CARE_DISCHARGE_WINDOW_DAYS,
    workerPool: { threads: e.WORKER_THREADS, timeoutMs: e.WORKER_TASK_TIMEOUT_MS, maxMemoryMb: e.WORKER_MAX_MEMORY_MB },
    graphql: graphqlSettings(e),
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    doors: doorSettings(e),
    retention: { eventPayloadDays: e.RETENTION_EVENT_PAYLOAD_DAYS, syncedRecordDays: e.RETENTION_SYNCED_RECORD_DAYS, auditDays: e.RETENTION_AUDIT_DAYS },
    ...overrides,
  };
}

/**
 * A hub split over processes signs every call between them: a subgraph process believes only what a token signed
 * with INTERNAL_SIGNING_KEYS says about the caller. One process running everything needs no key.
 */
function internalKeys(e: z.infer<typeof envSchema>, roles: Role[], urls: Partial<Record<SubgraphName, string>>): InternalKeys | undefined {
  if (e.INTERNAL_SIGNING_KEYS) return parseInternalKeys(e.INTERNAL_SIGNING_KEYS);
  const split = (roles.length > 0 && !roles.includes('all')) || Object.keys(urls).length > 0 || e.SUPERGRAPH_FILE !== undefined;
  if (split) throw new Error('invalid configuration:\n  INTERNAL_SIGNING_KEYS: required when the hub runs over several processes (ROLE other than all, or SUBGRAPH_*_URL set); the same key in every process (npm run auth:key -- --internal makes one)');
  return undefined;
}

/** DATA_DIR `memory://` (or anything starting `memory:`) keeps the embedded database and the vault key in memory, never on disk. */
export const isInMemoryDataDir = (dataDir: string): boolean => dataDir.startsWith('memory:');

export function runsRole(config: HubConfig, role: Role): boolean {
  return config.roles.includes('all') || config.roles.includes(role);
}

function nhsConfig(e: z.infer<typeof envSchema>): NhsConfig {
  const readPem = (name: string, file: string | undefined): string | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`invalid configuration:\n  ${name}: cannot read ${file} (${(err as Error).message})`);
    }
  };
  const privateKeyPem = e.NHS_PRIVATE_KEY ?? readPem('NHS_PRIVATE_KEY_FILE', e.NHS_PRIVATE_KEY_FILE);
  const environment = e.NHS_ENVIRONMENT ?? (e.NHS_BASE_URL || e.NHS_API_KEY ? 'int' : 'simulated');
  if (environment === 'int' || environment === 'production') {
    const missing = [
      ['NHS_API_KEY', e.NHS_API_KEY],
      ['NHS_PRIVATE_KEY or NHS_PRIVATE_KEY_FILE', privateKeyPem],
      ['NHS_KEY_ID', e.NHS_KEY_ID],
    ].filter(([, v]) => !v);
    if (missing.length) {
      throw new Error(`invalid configuration:\n${missing.map(([n]) => `  ${n}: required when NHS_ENVIRONMENT=${environment} (application-restricted signed-JWT access)`).join('\n')}`);
    }
  }
  const meshCert = readPem('NHS_MESH_CLIENT_CERT_FILE', e.NHS_MESH_CLIENT_CERT_FILE);
  const meshKey = readPem('NHS_MESH_CLIENT_KEY_FILE', e.NHS_MESH_CLIENT_KEY_FILE);
  if (!!meshCert !== !!meshKey) throw new Error('invalid configuration:\n  NHS_MESH_CLIENT_CERT_FILE, NHS_MESH_CLIENT_KEY_FILE: give both or neither');
  return {
    environment,
    baseUrl: e.NHS_BASE_URL?.replace(/\/$/, ''),
    tokenUrl: e.NHS_TOKEN_URL,
    apiKey: e.NHS_API_KEY,
    privateKeyPem,
    keyId: e.NHS_KEY_ID,
    meshUrl: e.NHS_MESH_URL?.replace(/\/$/, ''),
    meshMailbox: e.NHS_MESH_MAILBOX,
    meshPassword: e.NHS_MESH_PASSWORD,
    meshSharedKey: e.NHS_MESH_SHARED_KEY,
    meshTls: meshCert && meshKey ? { cert: meshCert, key: meshKey, ca: readPem('NHS_MESH_CA_FILE', e.NHS_MESH_CA_FILE) } : undefined,
    rateLimitPerSecond: e.NHS_RATE_LIMIT_PER_SECOND,
    cacheFreshSeconds: e.NHS_CACHE_FRESH_SECONDS,
    cacheStaleSeconds: e.NHS_CACHE_STALE_SECONDS,
    timeoutMs: e.NHS_TIMEOUT_MS,
  };
}

function connectorsDisabled(e: z.infer<typeof envSchema>): Set<Connector> {
  const names = csv(e.CONNECTORS_DISABLED);
  const unknown = names.filter((n) => !(CONNECTORS as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`invalid configuration:\n  CONNECTORS_DISABLED: unknown connector ${unknown.map((n) => `"${n}"`).join(', ')} (one or more of ${CONNECTORS.join(', ')})`);
  return new Set(names as Connector[]);
}

function hmrcConfig(e: z.infer<typeof envSchema>, runs: boolean, disabled: boolean): HmrcConfig {
  const environment = e.HMRC_ENVIRONMENT ?? (e.HMRC_CLIENT_ID ? 'sandbox' : 'simulated');
  if (runs && environment !== 'simulated') {
    const missing = (['HMRC_CLIENT_ID', 'HMRC_CLIENT_SECRET', 'HMRC_REDIRECT_URI'] as const).filter((k) => !e[k]);
    if (missing.length) throw new Error(`invalid configuration:\n${missing.map((k) => `  ${k}: required when HMRC_ENVIRONMENT=${environment}`).join('\n')}`);
  }
  if (runs && e.NODE_ENV === 'production' && !e.HMRC_ENVIRONMENT && !disabled) {
    // As for NHS: a production hub must not file VAT returns with a simulator because a variable was forgotten.
    throw new Error('invalid configuration:\n  HMRC_ENVIRONMENT: required when NODE_ENV=production (simulated, sandbox or production), or CONNECTORS_DISABLED=hmrc');
  }
  return {
    environment,
    baseUrl: e.HMRC_BASE_URL,
    clientId: e.HMRC_CLIENT_ID,
    clientSecret: e.HMRC_CLIENT_SECRET,
    redirectUri: e.HMRC_REDIRECT_URI,
    rateLimitPerSecond: e.HMRC_RATE_LIMIT_PER_SECOND,
    timeoutMs: e.HMRC_TIMEOUT_MS,
  };
}

/**
 * HMRC_RTI_*: as for every connector, production never files with the simulator because a variable was forgotten:
 * there it is configured, `disabled`, or named in CONNECTORS_DISABLED (runs still calculate; submitting says filing
 * is not configured).
 */
function payrollConfig(e: z.infer<typeof envSchema>, runs: boolean, disabled: boolean): PayrollConfig {
  if (runs && e.NODE_ENV === 'production' && !e.HMRC_RTI_ENVIRONMENT && !disabled) {
    throw new Error('invalid configuration:\n  HMRC_RTI_ENVIRONMENT: required when NODE_ENV=production (simulated, test, live or disabled), or CONNECTORS_DISABLED=payroll');
  }
  const environment = e.HMRC_RTI_ENVIRONMENT ?? (disabled || e.NODE_ENV === 'production' ? 'disabled' : 'simulated');
  if (runs && (environment === 'test' || environment === 'live')) {
    const missing = (['HMRC_RTI_SENDER_ID', 'HMRC_RTI_PASSWORD'] as const).filter((k) => !e[k]);
    if (missing.length) throw new Error(`invalid configuration:\n${missing.map((k) => `  ${k}: required when HMRC_RTI_ENVIRONMENT=${environment}`).join('\n')}`);
  }
  return { environment, url: e.HMRC_RTI_URL, senderId: e.HMRC_RTI_SENDER_ID, password: e.HMRC_RTI_PASSWORD, vendorId: e.HMRC_RTI_VENDOR_ID, timeoutMs: e.HMRC_RTI_TIMEOUT_MS, packsDir: e.PAYROLL_RTI_PACKS_DIR };
}

function openBankingConfig(e: z.infer<typeof envSchema>): OpenBankingConfig {
  let signingKeyPem = e.OPEN_BANKING_SIGNING_KEY;
  if (!signingKeyPem && e.OPEN_BANKING_SIGNING_KEY_FILE) {
    try {
      signingKeyPem = readFileSync(e.OPEN_BANKING_SIGNING_KEY_FILE, 'utf8');
    } catch (err) {
      throw new Error(`invalid configuration:\n  OPEN_BANKING_SIGNING_KEY_FILE: cannot read ${e.OPEN_BANKING_SIGNING_KEY_FILE} (${(err as Error).message})`);
    }
  }
  if (e.OPEN_BANKING_BASE_URL) {
    const missing = (['OPEN_BANKING_CLIENT_ID', 'OPEN_BANKING_CLIENT_SECRET', 'OPEN_BANKING_REDIRECT_URI', 'OPEN_BANKING_SIGNING_KID', 'OPEN_BANKING_ISSUER'] as const).filter((k) => !e[k]);
    if (!signingKeyPem) missing.push('OPEN_BANKING_SIGNING_KEY' as never);
    if (missing.length) throw new Error(`invalid configuration:\n${missing.map((k) => `  ${k}: required with OPEN_BANKING_BASE_URL`).join('\n')}`);
  }
  return {
    baseUrl: e.OPEN_BANKING_BASE_URL,
    clientId: e.OPEN_BANKING_CLIENT_ID,
    clientSecret: e.OPEN_BANKING_CLIENT_SECRET,
    redirectUri: e.OPEN_BANKING_REDIRECT_URI,
    signingKeyPem,
    signingKid: e.OPEN_BANKING_SIGNING_KID,
    issuer: e.OPEN_BANKING_ISSUER,
  };
}

function regulatoryConfig(e: z.infer<typeof envSchema>, runs: boolean, disabled: ReadonlySet<Connector>): RegulatoryConfig {
  // In production each regulator is configured, `disabled`, or named in CONNECTORS_DISABLED: never simulated by omission.
  for (const [name, env, configured] of [['cqc', e.CQC_ENVIRONMENT, !!e.CQC_SUBSCRIPTION_KEY], ['dbs', e.DBS_ENVIRONMENT, !!e.DBS_BASE_URL]] as const) {
    if (runs && e.NODE_ENV === 'production' && !env && !configured && !disabled.has(name)) {
      throw new Error(`invalid configuration:\n  ${name.toUpperCase()}_ENVIRONMENT: required when NODE_ENV=production (simulated, live or disabled), or CONNECTORS_DISABLED=${name}`);
    }
  }
  const fallback = (name: Connector, configured: boolean): RegulatorEnvironment => (configured ? 'live' : disabled.has(name) || e.NODE_ENV === 'production' ? 'disabled' : 'simulated');
  const cqc = e.CQC_ENVIRONMENT ?? fallback('cqc', !!e.CQC_SUBSCRIPTION_KEY);
  if (cqc === 'live' && !e.CQC_SUBSCRIPTION_KEY) throw new Error('invalid configuration:\n  CQC_SUBSCRIPTION_KEY: required when CQC_ENVIRONMENT=live (from the CQC API portal)');
  if (cqc === 'simulated' && e.CQC_BASE_URL && !e.CQC_SUBSCRIPTION_KEY) throw new Error('invalid configuration:\n  CQC_SUBSCRIPTION_KEY: required with CQC_BASE_URL (the simulator run elsewhere checks it)');
  const dbs = e.DBS_ENVIRONMENT ?? fallback('dbs', !!e.DBS_BASE_URL);
  return {
    cqc: { environment: cqc, baseUrl: e.CQC_BASE_URL?.replace(/\/$/, ''), subscriptionKey: e.CQC_SUBSCRIPTION_KEY, syncIntervalSeconds: e.CQC_SYNC_INTERVAL_SECONDS, rateLimitPerSecond: e.CQC_RATE_LIMIT_PER_SECOND, maxRetries: e.CQC_MAX_RETRIES },
    dbs: { environment: dbs, baseUrl: e.DBS_BASE_URL?.replace(/\/$/, ''), rateLimitPerSecond: e.DBS_RATE_LIMIT_PER_SECOND, scheduleSeconds: e.DBS_SCHEDULE_SECONDS, recheckDays: e.DBS_RECHECK_DAYS },
    submissions: { smtpUrl: e.REGULATORY_SMTP_URL, mailFrom: e.REGULATORY_MAIL_FROM ?? 'care-home-hub@localhost', cqcNotificationEmail: e.CQC_NOTIFICATION_EMAIL },
  };
}
