import { createHash } from 'node:crypto';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  IsolatedCircuitError,
  circuitBreaker,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from 'cockatiel';
import { LRUCache } from 'lru-cache';
import { HubError, internal, upstreamError, upstreamUnavailable } from '../errors.ts';
import type { OutboundGuard } from './guard.ts';

/**
 * The one outbound HTTP client. Every connector goes through it so that the SSRF guard, timeouts, retries,
 * circuit breaking, size limits and metrics are the same everywhere and cannot be forgotten.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export interface TlsIdentity {
  cert: string;
  key: string;
  ca?: string;
}

export interface OutboundRequest {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, URLSearchParams as a form; content-type is set unless given. */
  body?: string | Buffer | URLSearchParams | object;
  /** Client certificate (mutual TLS); one connection pool per identity. */
  tls?: TlsIdentity;
  /** Per attempt. */
  timeoutMs?: number;
  /** Mark a POST/PATCH as safe to repeat (e.g. it carries an idempotency key), so it may be retried. */
  idempotent?: boolean;
  /** false: never retry this request. */
  retry?: boolean;
  /**
   * Awaited before every attempt, retries included: where a connector waits for its share of the upstream's
   * rate limit, so that a retry cannot overrun the limit that a first attempt respected.
   */
  beforeAttempt?: () => Promise<void>;
}

export interface OutboundResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** Parses the body; HubError UPSTREAM_ERROR if it is not JSON. */
  json<T>(): T;
  /** Whole call, retries and back-off included. */
  durationMs: number;
}

export interface OutboundMetric {
  system: string;
  method: string;
  /** Origin and path only: query strings can carry secrets and would explode metric cardinality. */
  url: string;
  status: number | 'error';
  durationMs: number;
  /** 1 for the first try. */
  attempt: number;
}

export interface HttpClientOptions {
  guard: OutboundGuard;
  /** Per attempt; default 10 000. */
  timeoutMs?: number;
  /** Retries after the first attempt; default 3. */
  retries?: number;
  /** Per system; default 5 consecutive failures, half-open after 30 s. */
  breaker?: { threshold: number; halfOpenAfterMs: number };
  userAgent?: string;
  metrics?: (e: OutboundMetric) => void;
  /** Default 10 MiB. */
  maxBodyBytes?: number;
  /** A Retry-After longer than this is not waited for: the 429/503 is returned at once. Default 30 000. */
  maxRetryAfterMs?: number;
  /** Exponential back-off with decorrelated jitter; default 200 ms growing to at most 5 s. */
  backoff?: { initialDelayMs: number; maxDelayMs: number };
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface HttpClient {
  request(system: string, req: OutboundRequest): Promise<OutboundResponse>;
  breakerState(system: string): BreakerState;
  close(): Promise<void>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
// Transient transport failures worth another try; others (ENOTFOUND, TLS verification) will not heal in a second.
const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'UND_ERR_SOCKET']);
// Our own misuse of undici, not the upstream's fault.
const PROGRAMMER_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_INVALID_RETURN_VALUE']);

/** Upstream answered 429 or 5xx: thrown inside the policies so they can react, returned to the caller at the end. */
class FailedResponse extends Error {
  constructor(
    readonly response: OutboundResponse,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${response.status}`);
  }
}

/** Network error or timeout, before it becomes a HubError UPSTREAM_UNAVAILABLE. */
class TransportFailure extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
    cause?: unknown,
  ) {
    super(reason, { cause });
  }
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

// Wraps the exponential back-off so a server's Retry-After, when present, replaces the computed delay.
function honourRetryAfter(inner: IBackoffFactory<unknown>): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return {
    next(ctx) {
      const step = inner.next(ctx);
      const hinted = 'error' in ctx.result && ctx.result.error instanceof FailedResponse ? ctx.result.error.retryAfterMs : undefined;
      return { duration: hinted ?? step.duration, next: (c) => honourRetryAfter(step).next(c) };
    },
  };
}

function errorCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function classify(e: unknown, signal: AbortSignal): unknown {
  if (e instanceof HubError || e instanceof TransportFailure || e instanceof FailedResponse) return e;
  const hub = (e as { cause?: unknown } | undefined)?.cause;
  if (hub instanceof HubError) return hub; // e.g. the guard's refusal from lookup(), wrapped by undici
  if (signal.aborted) return new TransportFailure('timeout', true, e);
  const code = errorCode(e);
  if (code && TIMEOUT_CODES.has(code)) return new TransportFailure('timeout', true, e);
  if (code && !PROGRAMMER_CODES.has(code)) return new TransportFailure(code, RETRY_CODES.has(code), e);
  return internal('outbound request failed', undefined, e);
}

const flattenHeaders = (h: Record<string, string | string[] | undefined>) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

function encodeBody(body: OutboundRequest['body'], headers: Record<string, string>): string | Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    return body.toString();
  }
  headers['content-type'] ??= 'application/json';
  return JSON.stringify(body);
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 3;
  const breakerOpts = opts.breaker ?? { threshold: 5, halfOpenAfterMs: 30_000 };
  const maxBodyBytes = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
  const backoffOpts = opts.backoff ?? { initialDelayMs: 200, maxDelayMs: 5_000 };
  const userAgent = opts.userAgent ?? 'care-home-integration-hub';

  const agentFor = (tls?: TlsIdentity) =>
    new Agent({ connect: { lookup: opts.guard.lookup, timeout: timeoutMs, ...(tls ? { cert: tls.cert, key: tls.key, ca: tls.ca } : {}) } });
  const plainAgent = agentFor();
  // One pool per client certificate; keyed by a hash so PEM text is not kept twice in memory as map keys.
  const tlsAgents = new LRUCache<string, Agent>({
    max: 100,
    dispose: (agent, _key, reason) => {
      if (reason === 'evict') void agent.close().catch(() => undefined);
    },
  });
  const dispatcherFor = (tls?: TlsIdentity): Dispatcher => {
    if (!tls) return plainAgent;
    const key = createHash('sha256').update(`${tls.cert}\0${tls.key}\0${tls.ca ?? ''}`).digest('hex');
    let agent = tlsAgents.get(key);
    if (!agent) tlsAgents.set(key, (agent = agentFor(tls)));
    return agent;
  };

  const breakers = new Map<string, { policy: CircuitBreakerPolicy; openedAt: number }>();
  const breakerFor = (system: string) => {
    let b = breakers.get(system);
    if (!b) {
      const policy = circuitBreaker(
        // Only the upstream being down counts; 4xx, refusals and oversize bodies say nothing about its health.
        handleWhen((e) => e instanceof TransportFailure || (e instanceof FailedResponse && e.response.status >= 500)),
        { halfOpenAfter: breakerOpts.halfOpenAfterMs, breaker: new ConsecutiveBreaker(breakerOpts.threshold) },
      );
      const entry = { policy, openedAt: 0 };
      policy.onBreak(() => (entry.openedAt = Date.now()));
      breakers.set(system, (b = entry));
    }
    return b;
  };

  const report = (e: OutboundMetric) => {
    try {
      opts.metrics?.(e);
    } catch {
      // a broken metrics sink must not break integrations
    }
  };

  async function attemptOnce(system: string, req: OutboundRequest, url: URL, attempt: number): Promise<OutboundResponse> {
    await req.beforeAttempt?.();
    const started = performance.now();
    const perAttempt = req.timeoutMs ?? timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new TransportFailure('timeout', true)), perAttempt);
    let status: number | 'error' = 'error';
    try {
      const headers: Record<string, string> = { 'user-agent': userAgent };
      for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
      const body = encodeBody(req.body, headers);
      const res = await undiciRequest(url, {
        method: req.method,
        headers,
        body,
        dispatcher: dispatcherFor(req.tls),
        signal: ac.signal,
        headersTimeout: perAttempt,
        bodyTimeout: perAttempt,
      });
      const tooLarge = () =>
        upstreamError(system, `response body exceeds the ${maxBodyBytes}-byte limit`, { status: res.statusCode, limitBytes: maxBodyBytes });
      if (Number(res.headers['content-length'] ?? 0) > maxBodyBytes) {
        res.body.destroy();
        throw tooLarge();
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBodyBytes) {
          res.body.destroy();
          throw tooLarge();
        }
        chunks.push(chunk);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const responseHeaders = flattenHeaders(res.headers);
      status = res.statusCode;
      const response: OutboundResponse = {
        status,
        headers: responseHeaders,
        body: text,
        json<T>(): T {
          try {
            return JSON.parse(text) as T;
          } catch {
            throw upstreamError(system, 'response is not valid JSON', { status: res.statusCode });
          }
        },
        durationMs: performance.now() - started,
      };
      if (status === 429 || status >= 500) throw new FailedResponse(response, parseRetryAfter(responseHeaders['retry-after']));
      return response;
    } catch (e) {
      throw classify(e, ac.signal);
    } finally {
      clearTimeout(timer);
      report({ system, method: req.method, url: url.origin + url.pathname, status, durationMs: performance.now() - started, attempt });
    }
  }

  async function request(system: string, req: OutboundRequest): Promise<OutboundResponse> {
    const started = performance.now();
    const url = opts.guard.assertUrlAllowed(req.url);
    const { policy } = breakerFor(system);
    const once = (attempt: number) => policy.execute(() => attemptOnce(system, req, url, attempt));
    const mayRetry = retries > 0 && req.retry !== false && (req.idempotent === true || IDEMPOTENT.has(req.method));
    const total = (r: OutboundResponse): OutboundResponse => ({ ...r, durationMs: performance.now() - started });
    try {
      if (!mayRetry) return total(await once(1));
      const retryPolicy = retry(
        handleWhen(
          (e) =>
            // Once this failure opened the breaker, hand the caller the real failure rather than 'circuit open'.
            policy.state !== CircuitState.Open &&
            ((e instanceof TransportFailure && e.retryable) ||
              (e instanceof FailedResponse && RETRY_STATUS.has(e.response.status) && (e.retryAfterMs ?? 0) <= maxRetryAfterMs)),
        ),
        {
          maxAttempts: retries,
          backoff: honourRetryAfter(new ExponentialBackoff({ initialDelay: backoffOpts.initialDelayMs, maxDelay: backoffOpts.maxDelayMs })),
        },
      );
      return total(await retryPolicy.execute(({ attempt }) => once(attempt + 1)));
    } catch (e) {
      // Non-2xx is data for the caller (it knows what a 404 or 409 means for its system), not an exception.
      if (e instanceof FailedResponse) return total(e.response);
      if (e instanceof BrokenCircuitError || e instanceof IsolatedCircuitError) throw upstreamUnavailable(system, 'circuit open');
      if (e instanceof TransportFailure) throw upstreamUnavailable(system, e.reason, { host: url.host }, e.cause);
      throw e;
    }
  }

  function breakerState(system: string): BreakerState {
    const b = breakers.get(system);
    if (!b) return 'closed';
    switch (b.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
        // cockatiel only moves to half-open on the next call; report what that call would meet.
        return Date.now() - b.openedAt >= breakerOpts.halfOpenAfterMs ? 'half-open' : 'open';
      default:
        return 'open';
    }
  }

  async function close() {
    const agents = [plainAgent, ...tlsAgents.values()];
    tlsAgents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  return { request, breakerState, close };
}
