import { randomUUID } from 'node:crypto';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { Histogram } from 'prom-client';
import { metricsOutbox } from '@hub/db';
import {
  badInput,
  conflict,
  createOutboxRelay,
  forbidden,
  HubError,
  isUuid,
  isHubError,
  notFound,
  rateLimited,
  type EventPublisher,
  type HttpMethod,
  type HubRuntime,
  type OutboxEvent,
} from '@hub/runtime';
import { createMetricsStore, type ApiRow, type StatRow } from './store.ts';

/** Latency bucket bounds (ms) of the stored histograms; a last bucket holds everything slower. */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const FLUSH_MS = 5_000;
const STATUSES = ['ACTIVE', 'DEPRECATED', 'RETIRED'] as const;
const METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
// Never forwarded: they describe one hop (RFC 9110 §7.6.1), or the hub sets them itself.
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'content-length', 'x-hub-client']);

export interface RegisterApiInput {
  name: string;
  version: string;
  description?: string | null;
  basePath: string;
  upstreamUrl: string;
  rateLimit?: { requests: number; perSeconds: number } | null;
  timeoutMs?: number | null;
}

export interface ApiRequestInput {
  method: string;
  path: string;
  query?: Record<string, unknown> | null;
  headers?: Record<string, unknown> | null;
  body?: unknown;
}

export interface RateLimitResult {
  apiId: string;
  clientId: string;
  allowed: boolean;
  limit: number | null;
  remaining: number | null;
  retryAfterSeconds: number | null;
  resetAt: Date | null;
}

type Outcome = '2xx' | '3xx' | '4xx' | '5xx' | 'ERROR' | 'RATE_LIMITED';
const outcomeOf = (status: number): Outcome => (status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx');

export function createMetricsService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createMetricsStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'metrics' });
  const relay = createOutboxRelay({ name: 'metrics', db: rt.database.db, table: metricsOutbox, publisher, log });
  const routed = new Histogram({
    name: 'hub_api_route_duration_seconds',
    help: 'Requests routed to registered APIs, by API and outcome (2xx..5xx, ERROR, RATE_LIMITED)',
    labelNames: ['api', 'outcome'],
    buckets: LATENCY_BOUNDS_MS.map((b) => b / 1000),
    registers: [rt.metrics],
  });

  const announce = (type: string, a: ApiRow): OutboxEvent => ({
    organisationId: a.organisationId,
    type,
    source: 'hub.metrics',
    payload: { apiId: a.id, name: a.name, version: a.version, basePath: a.basePath, status: a.status, rateLimit: a.rateLimit },
  });

  // Tallies since the last flush, per organisation, API, minute and outcome: each flush writes them as their API's organisation.
  type Tally = StatRow & { organisationId: string };
  const tallyKey = (t: Pick<Tally, 'organisationId' | 'apiId' | 'minute' | 'outcome'>) => `${t.organisationId}|${t.apiId}|${t.minute.getTime()}|${t.outcome}`;
  let tallies = new Map<string, Tally>();
  function tally(api: ApiRow, outcome: Outcome, ms: number, at = new Date()) {
    const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
    const key = tallyKey({ organisationId: api.organisationId, apiId: api.id, minute, outcome });
    let t = tallies.get(key);
    if (!t) {
      t = { organisationId: api.organisationId, apiId: api.id, minute, outcome, requests: 0, totalMs: 0, maxMs: 0, buckets: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0) };
      tallies.set(key, t);
    }
    t.requests++;
    t.totalMs += ms;
    t.maxMs = Math.max(t.maxMs, ms);
    const b = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
    t.buckets[b === -1 ? LATENCY_BOUNDS_MS.length : b]!++;
  }
  let flushing: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (!tallies.size) return;
      const rows = [...tallies.values()];
      tallies = new Map();
      const byOrg = new Map<string, StatRow[]>();
      for (const { organisationId, ...r } of rows) (byOrg.get(organisationId) ?? byOrg.set(organisationId, []).get(organisationId)!).push(r);
      const failed: Tally[] = [];
      for (const [org, ofOrg] of byOrg) {
        try {
          await store.addStats(org, ofOrg);
        } catch (err) {
          failed.push(...ofOrg.map((r) => ({ ...r, organisationId: org })));
          log.warn({ err, organisationId: org }, 'API call statistics could not be written; they will be added at the next flush');
        }
      }
      // Put them back: the next flush adds them (a metric late is better than one lost).
      for (const r of failed) {
        const key = tallyKey(r);
        const t = tallies.get(key);
        if (!t) tallies.set(key, r);
        else {
          t.requests += r.requests;
          t.totalMs += r.totalMs;
          t.maxMs = Math.max(t.maxMs, r.maxMs);
          r.buckets.forEach((n, i) => (t.buckets[i]! += n));
        }
      }
    });
    return flushing;
  }
  let timer: NodeJS.Timeout | undefined;

  function validBasePath(p: string): string {
    if (!/^\/[a-z0-9][a-z0-9._~-]*(\/[a-z0-9][a-z0-9._~-]*)*$/i.test(p) || p.length > 200) {
      throw badInput('basePath must be a path such as /care-plans/v1 (segments of letters, digits, . _ ~ -)', { field: 'basePath' });
    }
    return p;
  }

  function validLimit(l: { requests: number; perSeconds: number } | null | undefined, field: string) {
    if (l == null) return null;
    if (!Number.isInteger(l.requests) || l.requests < 1 || l.requests > 1_000_000) throw badInput(`${field}.requests must be 1 to 1,000,000`, { field: `${field}.requests` });
    if (!Number.isInteger(l.perSeconds) || l.perSeconds < 1 || l.perSeconds > 86_400) throw badInput(`${field}.perSeconds must be 1 to 86,400`, { field: `${field}.perSeconds` });
    return { requests: l.requests, perSeconds: l.perSeconds };
  }

  /** The organisation's API; another organisation's is NOT_FOUND, like one that does not exist. */
  async function get(org: string, id: string): Promise<ApiRow> {
    const a = isUuid(id) ? await store.byId(org, id) : undefined;
    if (!a) throw notFound('API', id);
    return a;
  }

  /**
   * Takes one request from the client's allowance for the API (shared by every hub process through Redis). The
   * allowance is named by the API's organisation as well: a client id means that organisation's client, and no
   * other organisation can spend or read it.
   */
  async function consume(api: ApiRow, clientId: string): Promise<RateLimitResult> {
    const base = { apiId: api.id, clientId };
    if (!api.rateLimit) return { ...base, allowed: true, limit: null, remaining: null, retryAfterSeconds: null, resetAt: null };
    const { requests, perSeconds } = api.rateLimit;
    const limiter = rt.kv.rateLimiter(`api:${api.organisationId}:${api.id}`, requests, perSeconds);
    try {
      const r = await limiter.consume(clientId, 1);
      return { ...base, allowed: true, limit: requests, remaining: r.remainingPoints, retryAfterSeconds: null, resetAt: new Date(Date.now() + r.msBeforeNext) };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return { ...base, allowed: false, limit: requests, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(e.msBeforeNext / 1000)), resetAt: new Date(Date.now() + e.msBeforeNext) };
    }
  }

  /** The upper bound of the bucket holding the p-th call (the slowest call's time for the open-ended last bucket). */
  function percentile(buckets: number[], total: number, p: number, maxMs: number): number | null {
    if (!total) return null;
    const rank = Math.ceil(total * p);
    let seen = 0;
    for (let i = 0; i < buckets.length; i++) {
      seen += buckets[i]!;
      if (seen >= rank) return Math.min(LATENCY_BOUNDS_MS[i] ?? maxMs, maxMs);
    }
    return maxMs;
  }

  const service = {
    list: (org: string) => store.list(org),
    byIds: (org: string, ids: readonly string[]) => store.byIds(org, ids.filter((i) => isUuid(i))),
    async byId(org: string, id: string) {
      return isUuid(id) ? ((await store.byId(org, id)) ?? null) : null;
    },

    async register(org: string, input: RegisterApiInput): Promise<ApiRow> {
      const name = input.name.trim();
      if (!name || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/.test(input.version)) throw badInput('version must be 1 to 50 letters, digits, . _ or -, such as v1 or 2024-05', { field: 'version' });
      let upstream: URL;
      try {
        upstream = new URL(input.upstreamUrl);
      } catch {
        throw badInput('upstreamUrl is not a valid URL', { field: 'upstreamUrl' });
      }
      if (upstream.search || upstream.hash || upstream.username || upstream.password) throw badInput('upstreamUrl must not carry a query, a fragment or credentials', { field: 'upstreamUrl' });
      rt.guard.assertUrlAllowed(upstream.toString());
      const timeoutMs = input.timeoutMs ?? 10_000;
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw badInput('timeoutMs must be 100 to 60,000', { field: 'timeoutMs' });
      if (input.description != null && input.description.length > 2_000) throw badInput('description must be at most 2,000 characters', { field: 'description' });
      const r = await store.insert(
        org,
        {
          id: randomUUID(),
          name,
          version: input.version,
          description: input.description ?? null,
          basePath: validBasePath(input.basePath),
          upstreamUrl: upstream.toString().replace(/\/$/, ''),
          rateLimit: validLimit(input.rateLimit, 'rateLimit'),
          timeoutMs,
        },
        (a) => announce('api.registered', a),
      );
      if ('taken' in r) {
        throw r.taken.includes('base_path')
          ? conflict(`another API is already served at ${input.basePath}`, { field: 'basePath' })
          : conflict(`${name} ${input.version} is already registered`, { field: 'version' });
      }
      relay.kick();
      return r;
    },

    async configureRateLimit(org: string, apiId: string, limit: { requests: number; perSeconds: number } | null): Promise<ApiRow> {
      await get(org, apiId);
      const r = await store.update(org, apiId, { rateLimit: validLimit(limit, 'limit') }, (a) => announce('api.rate_limit_configured', a));
      if (!r) throw notFound('API', apiId);
      relay.kick();
      return r;
    },

    async setStatus(org: string, apiId: string, status: string): Promise<ApiRow> {
      if (!STATUSES.includes(status as (typeof STATUSES)[number])) throw badInput(`status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
      await get(org, apiId);
      const r = await store.update(org, apiId, { status }, (a) => announce(`api.${status.toLowerCase()}`, a));
      if (!r) throw notFound('API', apiId);
      relay.kick();
      return r;
    },

    /** Takes one request of the allowance of one of the organisation's clients, for one of the organisation's APIs. */
    async applyRateLimit(org: string, clientId: string, endpoint: string): Promise<RateLimitResult> {
      if (!clientId.trim() || clientId.length > 200) throw badInput('clientId must be 1 to 200 characters', { field: 'clientId' });
      // The endpoint is an API id, or a path under an API's base path (the longest base path wins).
      let api: ApiRow | undefined;
      if (isUuid(endpoint)) api = await store.byId(org, endpoint);
      else if (endpoint.startsWith('/')) {
        const path = endpoint.split('?')[0]!;
        api = (await store.list(org)).filter((a) => path === a.basePath || path.startsWith(`${a.basePath}/`)).sort((a, b) => b.basePath.length - a.basePath.length)[0];
      } else throw badInput('endpoint must be an API id or a path such as /care-plans/v1/plans', { field: 'endpoint' });
      if (!api) throw notFound('API for endpoint', endpoint);
      const r = await consume(api, clientId);
      if (!r.allowed) tally(api, 'RATE_LIMITED', 0);
      return r;
    },

    /**
     * Sends a request to a registered API: the caller's rate limit first, then the upstream through the hub's one
     * outbound client (allow-list, timeouts, retries of idempotent methods, a breaker per API). An upstream that
     * answers, whatever the status, is a response; one that does not is UPSTREAM_UNAVAILABLE.
     */
    async route(org: string, apiId: string, req: ApiRequestInput, clientId: string) {
      const api = await get(org, apiId);
      if (api.status === 'RETIRED') throw forbidden(`${api.name} ${api.version} is retired; use a newer version`, { apiId });
      const method = req.method.toUpperCase() as HttpMethod;
      if (!METHODS.includes(method)) throw badInput(`method must be one of ${METHODS.join(', ')}`, { field: 'method' });
      if (!req.path.startsWith('/') || req.path.startsWith('//') || /(^|\/)\.\.?(\/|$)|[?#\\]|%2e|%2f/i.test(req.path)) {
        throw badInput('path must be an absolute path under the API (no query, fragment, dot segments or encoded slashes); put parameters in query', { field: 'path' });
      }
      const url = new URL(api.upstreamUrl + req.path);
      for (const [k, v] of Object.entries(req.query ?? {})) {
        for (const one of Array.isArray(v) ? v : [v]) {
          if (typeof one === 'object' && one !== null) throw badInput(`query.${k} must be text, a number or a list of them`, { field: `query.${k}` });
          url.searchParams.append(k, String(one));
        }
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) {
        if (typeof v !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k) || /[\r\n]/.test(v)) throw badInput(`headers.${k} must be a valid header with a text value`, { field: `headers.${k}` });
        if (!HOP_HEADERS.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
      }

      const limit = await consume(api, clientId);
      if (!limit.allowed) {
        tally(api, 'RATE_LIMITED', 0);
        routed.observe({ api: api.name, outcome: 'RATE_LIMITED' }, 0);
        throw rateLimited(`more than ${limit.limit} requests in ${api.rateLimit!.perSeconds} s to ${api.name} ${api.version} from ${clientId}`, {
          apiId,
          retryAfterSeconds: limit.retryAfterSeconds,
        });
      }

      const started = performance.now();
      try {
        const res = await rt.http.request(`api:${api.id}`, {
          method,
          url: url.toString(),
          headers,
          body: req.body === undefined || req.body === null ? undefined : (req.body as object | string),
          timeoutMs: api.timeoutMs,
        });
        const ms = performance.now() - started;
        tally(api, outcomeOf(res.status), ms);
        routed.observe({ api: api.name, outcome: outcomeOf(res.status) }, ms / 1000);
        let body: unknown = null;
        if (/\bjson\b/i.test(res.headers['content-type'] ?? '') && res.body) {
          try {
            body = JSON.parse(res.body);
          } catch {
            body = null; // bodyText still has it as sent
          }
        }
        return {
          status: res.status,
          headers: res.headers,
          body,
          bodyText: res.body,
          durationMs: ms,
          deprecated: api.status === 'DEPRECATED',
          rateLimit: limit,
        };
      } catch (err) {
        const ms = performance.now() - started;
        tally(api, 'ERROR', ms);
        routed.observe({ api: api.name, outcome: 'ERROR' }, ms / 1000);
        if (isHubError(err)) throw err;
        throw new HubError('UPSTREAM_UNAVAILABLE', `${api.name} did not answer`, { apiId }, { cause: err });
      }
    },

    /** Calls, errors and latency of one API over a time range, per minute and in total. */
    async apiMetrics(org: string, apiId: string, range: { from?: Date | null; to?: Date | null }) {
      const api = await get(org, apiId);
      const to = range.to ?? new Date();
      const from = range.from ?? new Date(to.getTime() - 60 * 60_000);
      if (from >= to) throw badInput('timeRange.from must be before timeRange.to', { field: 'timeRange' });
      if (to.getTime() - from.getTime() > 31 * 86_400_000) throw badInput('timeRange may span at most 31 days', { field: 'timeRange' });
      await flush();
      const rows = await store.stats(org, api.id, new Date(Math.floor(from.getTime() / 60_000) * 60_000), to);
      const empty = () => ({ requests: 0, errors: 0, rateLimited: 0, totalMs: 0, maxMs: 0, buckets: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0) as number[], outcomes: new Map<string, number>() });
      const total = empty();
      const series = new Map<number, ReturnType<typeof empty>>();
      for (const r of rows) {
        for (const agg of [total, series.get(r.minute.getTime()) ?? series.set(r.minute.getTime(), empty()).get(r.minute.getTime())!]) {
          agg.requests += r.requests;
          agg.outcomes.set(r.outcome, (agg.outcomes.get(r.outcome) ?? 0) + r.requests);
          if (r.outcome === 'RATE_LIMITED') {
            agg.rateLimited += r.requests;
            continue; // refused by the hub: no upstream latency to count
          }
          if (r.outcome === '5xx' || r.outcome === 'ERROR') agg.errors += r.requests;
          agg.totalMs += r.totalMs;
          agg.maxMs = Math.max(agg.maxMs, r.maxMs);
          r.buckets.forEach((n, i) => (agg.buckets[i]! += n));
        }
      }
      const shape = (a: ReturnType<typeof empty>) => {
        const timed = a.requests - a.rateLimited;
        return {
          requests: a.requests,
          errors: a.errors,
          rateLimited: a.rateLimited,
          errorRate: timed ? a.errors / timed : 0,
          averageLatencyMs: timed ? a.totalMs / timed : null,
          p50LatencyMs: percentile(a.buckets, timed, 0.5, a.maxMs),
          p95LatencyMs: percentile(a.buckets, timed, 0.95, a.maxMs),
          p99LatencyMs: percentile(a.buckets, timed, 0.99, a.maxMs),
          maxLatencyMs: timed ? a.maxMs : null,
          byOutcome: [...a.outcomes].map(([outcome, count]) => ({ outcome, count })).sort((x, y) => x.outcome.localeCompare(y.outcome)),
        };
      };
      return {
        api,
        from,
        to,
        ...shape(total),
        series: [...series].sort((a, b) => a[0] - b[0]).map(([minute, a]) => ({ minute: new Date(minute), ...shape(a) })),
      };
    },

    async start() {
      relay.start();
      timer = setInterval(() => void flush(), FLUSH_MS).unref();
    },
    async stop() {
      clearInterval(timer);
      await flush();
      await relay.stop();
    },
  };
  return service;
}

export type MetricsService = ReturnType<typeof createMetricsService>;
