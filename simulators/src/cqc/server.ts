import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CONTROL_PREFIX, FaultInjector, faultControlRoutes } from '../faults.ts';
import { listen, readBody, sendJson } from '../http.ts';
import { RateLimiter } from '../rate-limit.ts';
import { demoRegister, locationRecord, type CqcRecord, type SimLocation, type SimProvider } from './register.ts';

export interface CqcSimulatorOptions {
  host?: string;
  port?: number;
  /** The one subscription key the simulated API Management gateway accepts (header Ocp-Apim-Subscription-Key). */
  subscriptionKey: string;
  /** Extra synthetic locations beyond the demo provider's three (for the bench: 10 000). */
  syntheticLocations?: number;
  /** Requests per second before 429 with Retry-After; default: unlimited. */
  rateLimitPerSecond?: number;
}

export interface CqcSimulatorStats {
  /** Every API request (control paths excluded), answered or refused. */
  requests: number;
  byPath: Record<string, number>;
  /** GET /locations/{id} per location id, answered 200. */
  locationReads: Record<string, number>;
  /** Pages of the change feed answered. */
  changeFeedPages: number;
  /** Requests answered 429. */
  throttled: number;
  /** Requests refused 401 (no or a wrong subscription key). */
  unauthorised: number;
}

export interface CqcSimulator {
  url: string;
  stats(): CqcSimulatorStats;
  resetStats(): void;
  /** Changes a location (a shallow merge of top-level fields) and records the change for the change feed. */
  changeLocation(locationId: string, patch: CqcRecord, at?: number): void;
  /** Re-rates a location: every key question and the overall rating, with a new report date. */
  rateLocation(locationId: string, rating: string, at?: number): void;
  /** Adds a location (under a provider, which lists it). */
  addLocation(locationId: string, providerId: string, name?: string, at?: number): void;
  /** The next `count` API requests are answered 429 with `Retry-After: retryAfterSeconds`. */
  throttle(count: number, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

/** Azure API Management's error body, which fronts the CQC API: `{ statusCode, message }`. */
class ApimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MAX_PER_PAGE = 10_000;
const DEFAULT_PER_PAGE = 1000;
/** ISO 8601 date-times as the change feed takes them: 2019-03-10T06:00:00Z (fractions and offsets allowed). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function paging(q: URLSearchParams): { page: number; perPage: number } {
  const read = (name: string, fallback: number) => {
    const v = q.get(name);
    if (v === null || v === '') return fallback;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new ApimError(400, `${name} must be a positive whole number`);
    return Number(v);
  };
  const page = read('page', 1);
  const perPage = read('perPage', DEFAULT_PER_PAGE);
  if (perPage > MAX_PER_PAGE) throw new ApimError(400, `perPage must be at most ${MAX_PER_PAGE}`);
  return { page, perPage };
}

/** A page of a list as the CQC API answers it: `total`, the page links, and the items under `key`. */
function page<T>(path: string, query: URLSearchParams, key: string, all: T[]): Record<string, unknown> {
  const { page: n, perPage } = paging(query);
  const totalPages = Math.max(1, Math.ceil(all.length / perPage));
  const uri = (p: number) => {
    const q = new URLSearchParams(query);
    q.set('page', String(p));
    q.set('perPage', String(perPage));
    return `${path}?${q}`;
  };
  return {
    total: all.length,
    firstPageUri: uri(1),
    page: n,
    ...(n > 1 ? { previousPageUri: uri(Math.min(n - 1, totalPages)) } : {}),
    ...(n < totalPages ? { nextPageUri: uri(n + 1) } : {}),
    lastPageUri: uri(totalPages),
    perPage,
    totalPages,
    [key]: all.slice((n - 1) * perPage, n * perPage),
  };
}

function timestamp(q: URLSearchParams, name: string): number {
  const v = q.get(name);
  if (!v) throw new ApimError(400, `${name} is required (ISO 8601, e.g. 2019-03-10T06:00:00Z)`);
  const t = Date.parse(v);
  if (!TIMESTAMP.test(v) || Number.isNaN(t)) throw new ApimError(400, `${name} "${v}" is not an ISO 8601 date-time (e.g. 2019-03-10T06:00:00Z)`);
  return t;
}

/**
 * The CQC public API v1 (https://api.service.cqc.org.uk/public/v1) as it answers: providers, locations, inspection
 * areas and the change feeds, paged with `page`/`perPage`, behind an API Management gateway that checks the
 * `Ocp-Apim-Subscription-Key` header first (401) and throttles (429 with `Retry-After`), with its `{statusCode,
 * message}` error bodies. Control paths under /__ (faults, throttling) are never counted or throttled.
 */
export async function startCqcSimulator(o: CqcSimulatorOptions): Promise<CqcSimulator> {
  if (!o.subscriptionKey) throw new Error('subscriptionKey is required');
  const register = demoRegister(o.syntheticLocations ?? 0);
  const locations = new Map<string, SimLocation>(register.locations.map((l) => [l.record.locationId, l]));
  const providers = new Map<string, SimProvider>(register.providers.map((p) => [p.record.providerId, p]));
  const limiter = o.rateLimitPerSecond ? new RateLimiter(o.rateLimitPerSecond) : undefined;
  const faults = new FaultInjector();
  let throttle = { remaining: 0, retryAfterSeconds: 1 };
  const fresh = (): CqcSimulatorStats => ({ requests: 0, byPath: {}, locationReads: {}, changeFeedPages: 0, throttled: 0, unauthorised: 0 });
  let stats = fresh();

  const summary = (l: SimLocation) => ({ locationId: l.record.locationId, locationName: l.record.name, postalCode: l.record.postalCode });
  const changedBetween = (all: Iterable<{ changedAt: number }>, from: number, to: number) => [...all].filter((x) => x.changedAt >= from && x.changedAt < to);
  const location = (id: string) => {
    const l = locations.get(id);
    if (!l) throw new ApimError(404, `No Location found for ${id}`);
    return l;
  };

  function routeApi(path: string, q: URLSearchParams): unknown {
    let m: RegExpExecArray | null;
    if (path === '/locations') return page(path, q, 'locations', [...locations.values()].map(summary));
    if ((m = /^\/locations\/([^/]+)$/.exec(path))) {
      const l = location(decodeURIComponent(m[1]!));
      stats.locationReads[l.record.locationId] = (stats.locationReads[l.record.locationId] ?? 0) + 1;
      return l.record;
    }
    if (path === '/providers') return page(path, q, 'providers', [...providers.values()].map((p) => ({ providerId: p.record.providerId, providerName: p.record.name })));
    if ((m = /^\/providers\/([^/]+)$/.exec(path))) {
      const p = providers.get(decodeURIComponent(m[1]!));
      if (!p) throw new ApimError(404, `No Provider found for ${decodeURIComponent(m[1]!)}`);
      return p.record;
    }
    if ((m = /^\/providers\/([^/]+)\/locations$/.exec(path))) {
      const p = providers.get(decodeURIComponent(m[1]!));
      if (!p) throw new ApimError(404, `No Provider found for ${decodeURIComponent(m[1]!)}`);
      return page(path, q, 'locations', p.record.locationIds.map((id) => summary(location(id))));
    }
    if (path === '/inspection-areas') {
      return { inspectionAreas: [{ inspectionAreaId: 'IA-S1', inspectionAreaName: 'Safe', inspectionAreaType: 'Key question', status: 'Active', endDate: null, supersededBy: [], inspectionCategories: [] }] };
    }
    if (path === '/changes/location' || path === '/changes/provider') {
      const from = timestamp(q, 'startTimestamp');
      const to = timestamp(q, 'endTimestamp');
      if (to < from) throw new ApimError(400, 'endTimestamp must not be before startTimestamp');
      stats.changeFeedPages += 1;
      const ids =
        path === '/changes/location'
          ? changedBetween(locations.values(), from, to).map((l) => (l as SimLocation).record.locationId)
          : changedBetween(providers.values(), from, to).map((p) => (p as SimProvider).record.providerId);
      return page(path, q, 'changes', ids.sort());
    }
    throw new ApimError(404, 'Resource not found');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://cqc.invalid');
    const path = url.pathname.replace(/^\/public\/v1(?=\/)/, '');
    if (path.startsWith(CONTROL_PREFIX)) return control(req, res, path);
    stats.requests += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    const fault = faults.take(path);
    if (fault?.drop) return void req.socket.destroy();
    if (fault?.status) throw new ApimError(fault.status, `injected fault: HTTP ${fault.status}`);
    // API Management: the subscription key first, then throttling, then the API behind it.
    const key = req.headers['ocp-apim-subscription-key'];
    if (key === undefined || key === '') {
      stats.unauthorised += 1;
      throw new ApimError(401, 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.');
    }
    if (key !== o.subscriptionKey) {
      stats.unauthorised += 1;
      throw new ApimError(401, 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.');
    }
    const wait = throttle.remaining > 0 ? (throttle.remaining--, throttle.retryAfterSeconds) : limiter?.check();
    if (wait !== undefined) {
      stats.throttled += 1;
      throw new ApimError(429, `Rate limit is exceeded. Try again in ${wait} seconds.`, { 'Retry-After': String(wait) });
    }
    if (req.method !== 'GET') throw new ApimError(405, 'Method not allowed', { Allow: 'GET' });
    let body: unknown;
    try {
      body = routeApi(path, url.searchParams);
    } catch (err) {
      if (err instanceof URIError) throw new ApimError(400, 'malformed path segment');
      throw err;
    }
    sendJson(req, res, 200, body);
  }

  const faultRoutes = faultControlRoutes(faults);
  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const routes = faultRoutes[path];
    if (routes?.[req.method ?? '']) return routes[req.method!]!(req, res);
    const body = req.method === 'POST' ? (JSON.parse((await readBody(req)) || '{}') as Record<string, any>) : {};
    if (path === '/__cqc/stats') return sendJson(req, res, 200, stats);
    if (path === '/__cqc/throttle' && req.method === 'POST') {
      sim.throttle(Number(body.count ?? 1), Number(body.retryAfterSeconds ?? 1));
      return sendJson(req, res, 200, { throttle });
    }
    const m = /^\/__cqc\/locations\/([^/]+)\/rating$/.exec(path);
    if (m && req.method === 'POST') {
      sim.rateLocation(decodeURIComponent(m[1]!), String(body.rating));
      return sendJson(req, res, 200, location(decodeURIComponent(m[1]!)).record);
    }
    throw new ApimError(404, `no such control path ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof ApimError ? err : new ApimError(500, 'Internal server error');
      sendJson(req, res, e.status, { statusCode: e.status, message: e.message }, e.headers);
    });
  });
  const url = `http://${await listen(server, o.host, o.port)}`;

  const sim: CqcSimulator = {
    url,
    stats: () => structuredClone(stats),
    resetStats: () => void (stats = fresh()),
    changeLocation(id, patch, at = Date.now()) {
      const l = location(id);
      l.record = { ...l.record, ...patch, locationId: l.record.locationId, providerId: (patch.providerId as string | undefined) ?? l.record.providerId };
      l.changedAt = at;
    },
    rateLocation(id, rating, at = Date.now()) {
      const l = location(id);
      const reportDate = new Date(at).toISOString().slice(0, 10);
      const current = l.record.currentRatings as { overall: { reportLinkId: string; keyQuestionRatings: Array<{ name: string }> } };
      const linkId = current.overall.reportLinkId;
      sim.changeLocation(
        id,
        {
          currentRatings: {
            overall: { rating, reportDate, reportLinkId: linkId, keyQuestionRatings: current.overall.keyQuestionRatings.map((k) => ({ ...k, rating, reportDate, reportLinkId: linkId })) },
            reportDate,
          },
          lastInspection: { date: reportDate },
          lastReport: { publicationDate: reportDate },
        },
        at,
      );
    },
    addLocation(id, providerId, name, at = Date.now()) {
      if (locations.has(id)) throw new Error(`location ${id} exists`);
      locations.set(id, { record: locationRecord(id, providerId, locations.size, name), changedAt: at });
      const p = providers.get(providerId);
      if (p) {
        p.record.locationIds.push(id);
        p.changedAt = at;
      }
    },
    throttle(count, retryAfterSeconds = 1) {
      throttle = { remaining: Math.max(0, Math.floor(count)), retryAfterSeconds: Math.max(0, Math.floor(retryAfterSeconds)) };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return sim;
}
