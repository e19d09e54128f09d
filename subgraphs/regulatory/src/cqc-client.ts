import { setTimeout as sleep } from 'node:timers/promises';
import { parseRetryAfter, rateLimited, upstreamError, upstreamUnavailable, type HttpClient, type OutboundResponse } from '@hub/runtime';

/** The CQC public API v1 (https://api.service.cqc.org.uk/public/v1), behind Azure API Management. */
export const CQC_LIVE_BASE_URL = 'https://api.service.cqc.org.uk/public/v1';
const SYSTEM = 'cqc';

export type CqcRecord = Record<string, unknown>;

export interface CqcClientOptions {
  http: HttpClient;
  baseUrl: string;
  subscriptionKey: string;
  /** Attempts after the first one for a 429 or 503 (each waits its Retry-After); past them the call fails RATE_LIMITED. */
  maxRetries: number;
  /** A Retry-After longer than this is not waited for (default 60 s): the call fails RATE_LIMITED at once. */
  maxRetryAfterMs?: number;
  /** Items per page of a list (the API's `perPage`); default 1000. */
  perPage?: number;
  timeoutMs?: number;
  /** Awaited before every attempt: the hub's own share of CQC's rate limit. */
  beforeAttempt?: () => Promise<void>;
  /** How the client waits out a Retry-After (tests pass their own). */
  wait?: (ms: number) => Promise<void>;
}

/** What one client has asked CQC, for the sync's report. */
export interface CqcCallCounts {
  requests: number;
  throttled: number;
}

interface Page {
  total?: number;
  page?: number;
  totalPages?: number;
  [key: string]: unknown;
}

/** The ISO 8601 form the change feed takes: whole seconds, UTC (2019-03-10T06:00:00Z). */
export const cqcTimestamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A client of the CQC API: the subscription key on every request, CQC's paging (`page`, `perPage`, `totalPages`)
 * followed to the end, and API Management's throttling (429 with Retry-After) waited out a bounded number of times.
 * The shared outbound client does the transport (SSRF guard, timeouts, breaker, metrics); its own retries are off
 * here so that the number of waits is this client's to bound.
 */
export function createCqcClient(o: CqcClientOptions) {
  const maxRetryAfterMs = o.maxRetryAfterMs ?? 60_000;
  const perPage = o.perPage ?? 1000;
  const wait = o.wait ?? ((ms: number) => sleep(ms));
  const counts: CqcCallCounts = { requests: 0, throttled: 0 };

  async function get(path: string, query: Record<string, string> = {}): Promise<OutboundResponse | null> {
    const q = new URLSearchParams(query).toString();
    const url = `${o.baseUrl}${path}${q ? `?${q}` : ''}`;
    for (let attempt = 0; ; attempt++) {
      counts.requests += 1;
      const res = await o.http.request(SYSTEM, {
        method: 'GET',
        url,
        headers: { accept: 'application/json', 'ocp-apim-subscription-key': o.subscriptionKey },
        retry: false,
        timeoutMs: o.timeoutMs,
        beforeAttempt: o.beforeAttempt,
      });
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 404) return null;
      const message = apimMessage(res);
      if (res.status === 429 || res.status === 503) {
        if (res.status === 429) counts.throttled += 1;
        const hinted = parseRetryAfter(res.headers['retry-after']);
        const delay = hinted ?? Math.min(30_000, 500 * 2 ** attempt);
        if (attempt >= o.maxRetries || delay > maxRetryAfterMs) {
          if (res.status === 503) throw upstreamUnavailable(SYSTEM, `CQC answered 503 ${attempt + 1} times: ${message}`, { status: 503 });
          throw rateLimited(`CQC is throttling the hub (429 ${attempt + 1} times, Retry-After ${res.headers['retry-after'] ?? 'none'}): ${message}`, { system: SYSTEM, retryAfterMs: delay });
        }
        await wait(delay);
        continue;
      }
      if (res.status === 401 || res.status === 403) throw upstreamError(SYSTEM, `CQC refused the hub's subscription key (HTTP ${res.status}): ${message}`, { status: res.status });
      throw upstreamError(SYSTEM, `CQC answered HTTP ${res.status} for ${path}: ${message}`, { status: res.status });
    }
  }

  async function one(path: string): Promise<CqcRecord | null> {
    const res = await get(path);
    return res ? res.json<CqcRecord>() : null;
  }

  /** Every item of a paged list, page after page until `totalPages`. */
  async function all<T>(path: string, key: string, query: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const res = await get(path, { ...query, page: String(page), perPage: String(perPage) });
      if (!res) return items;
      const body = res.json<Page>();
      const got = body[key];
      if (!Array.isArray(got)) throw upstreamError(SYSTEM, `CQC's ${path} answered without a "${key}" list`);
      items.push(...(got as T[]));
      const totalPages = Number(body.totalPages ?? 1);
      if (page >= totalPages || got.length === 0) return items;
    }
  }

  return {
    counts: () => ({ ...counts }),
    location: (locationId: string) => one(`/locations/${encodeURIComponent(locationId)}`),
    provider: (providerId: string) => one(`/providers/${encodeURIComponent(providerId)}`),
    /** The ids of locations that changed in [from, to): CQC's change feed. */
    changedLocations: (from: Date, to: Date) => all<string>('/changes/location', 'changes', { startTimestamp: cqcTimestamp(from), endTimestamp: cqcTimestamp(to) }),
    changedProviders: (from: Date, to: Date) => all<string>('/changes/provider', 'changes', { startTimestamp: cqcTimestamp(from), endTimestamp: cqcTimestamp(to) }),
  };
}

export type CqcClient = ReturnType<typeof createCqcClient>;

/** API Management's `{ statusCode, message }` error body (or the text, cut short). */
function apimMessage(res: OutboundResponse): string {
  try {
    const b = JSON.parse(res.body) as { message?: unknown };
    if (typeof b.message === 'string') return b.message;
  } catch {
    // not JSON
  }
  return res.body.slice(0, 200) || `HTTP ${res.status}`;
}
