import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { authenticate } from './auth.ts';
import { CONTROL_PREFIX, FaultInjector, faultControlRoutes } from './faults.ts';
import { HttpError, listen, sendError, sendJson, statusCode } from './http.ts';
import { createTokenEndpoint, type TokenEndpoint } from './oauth.ts';
import { RateLimiter } from './rate-limit.ts';
import { prepareRecords } from './records.ts';
import { ResidentCollection } from './residents.ts';
import { tlsFixtures } from './tls.ts';
import { TokenStore } from './tokens.ts';
import type { GenericRestSimulator, GenericRestSimulatorOptions, SimAuth } from './types.ts';

const TOKEN_PATH = '/oauth2/token';
const DEFAULT_TOKEN_TTL_SECONDS = 300;

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
interface Route {
  authenticated: boolean;
  methods: Record<string, Handler>;
}

export async function startGenericRestSimulator(o: GenericRestSimulatorOptions): Promise<GenericRestSimulator> {
  validateAuth(o.auth);
  const ttlSeconds = o.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!(ttlSeconds > 0)) throw new Error('tokenTtlSeconds must be positive');

  const residents = new ResidentCollection(prepareRecords(o.records));
  const faults = new FaultInjector();
  const limiter = o.rateLimitPerSecond !== undefined ? new RateLimiter(o.rateLimitPerSecond) : undefined;
  const tokens = new TokenStore();
  const counters = { requests: 0, byPath: {} as Record<string, number> };
  // Aborted on close() so requests parked in injected latency don't keep the process alive.
  const closing = new AbortController();
  // The token endpoint needs the final URL (it is the JWT audience), known only after listen().
  let tokenEndpoint: TokenEndpoint | undefined;

  const json =
    (body: (url: URL) => unknown): Handler =>
    (req, res, url) =>
      sendJson(req, res, 200, body(url));

  const routes: Array<[RegExp, Route]> = [
    [/^\/health$/, { authenticated: true, methods: { GET: json(() => ({ status: 'ok' })) } }],
    [/^\/residents$/, { authenticated: true, methods: { GET: json((url) => residents.list(url.searchParams)) } }],
    [
      /^\/residents\/[^/]+$/,
      { authenticated: true, methods: { GET: json((url) => residents.get(decodeSegment(url.pathname.split('/')[2]!))) } },
    ],
  ];
  // Only token-based systems have a token endpoint; elsewhere it is an unknown path, as it would be in reality.
  if (o.auth.kind === 'OAUTH2_CLIENT_CREDENTIALS' || o.auth.kind === 'JWT_CLIENT_ASSERTION') {
    routes.push([new RegExp(`^${TOKEN_PATH}$`), { authenticated: false, methods: { POST: (req, res) => tokenEndpoint!(req, res) } }]);
  }

  const controlRoutes: Record<string, Record<string, Handler>> = faultControlRoutes(faults);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;

    if (path.startsWith(CONTROL_PREFIX)) {
      const methods = controlRoutes[path];
      if (!methods) throw new HttpError(404, 'not_found', `no such path ${path}`);
      return pickHandler(methods, req)(req, res, url);
    }

    counters.requests += 1;
    counters.byPath[path] = (counters.byPath[path] ?? 0) + 1;

    // Faults come first, ahead of auth, so they model failures in front of the real app (LB, gateway, network).
    const fault = faults.take(path);
    if (fault) {
      if (fault.latencyMs > 0) await sleep(fault.latencyMs, undefined, { signal: closing.signal });
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) {
        throw new HttpError(fault.status, statusCode(fault.status), `injected fault: HTTP ${fault.status}`);
      }
    }

    const retryAfter = limiter?.check();
    if (retryAfter !== undefined) {
      throw new HttpError(429, 'rate_limited', `more than ${o.rateLimitPerSecond} requests per second`, {
        'Retry-After': String(retryAfter),
      });
    }

    const match = routes.find(([pattern]) => pattern.test(path));
    if (!match) throw new HttpError(404, 'not_found', `no such path ${path}`);
    const [, route] = match;
    const handler = pickHandler(route.methods, req); // 405 before 401: the method is wrong whoever asks
    if (route.authenticated) authenticate(req, o.auth, tokens);
    return handler(req, res, url);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) return; // shutting down mid-latency: nothing left to answer
      sendError(req, res, err instanceof HttpError ? err : new HttpError(500, 'internal_error', errorMessage(err)));
    });
  };

  const server: Server =
    o.auth.kind === 'CLIENT_CERTIFICATE'
      ? createHttpsServer(
          {
            cert: tlsFixtures.serverCertPem,
            key: tlsFixtures.serverKeyPem,
            ca: tlsFixtures.caPem,
            requestCert: true,
            rejectUnauthorized: true, // the TLS handshake itself refuses clients without a fixture-CA cert
          },
          onRequest,
        )
      : createHttpServer(onRequest);

  const url = `${o.auth.kind === 'CLIENT_CERTIFICATE' ? 'https' : 'http'}://${await listen(server, o.host, o.port)}`;
  const tokenUrl = `${url}${TOKEN_PATH}`;
  if (o.auth.kind === 'OAUTH2_CLIENT_CREDENTIALS' || o.auth.kind === 'JWT_CLIENT_ASSERTION') {
    tokenEndpoint = createTokenEndpoint({ auth: o.auth, tokenUrl, tokens, ttlSeconds });
  }

  return {
    url,
    tokenUrl,
    stats: () => ({ requests: counters.requests, byPath: { ...counters.byPath }, tokensIssued: tokens.issued }),
    setFaults: (f) => faults.set(f),
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections (undici pools them) would otherwise hold close() open indefinitely.
        server.closeAllConnections();
      }),
  };
}

function pickHandler(methods: Record<string, Handler>, req: IncomingMessage): Handler {
  const handler = methods[req.method ?? ''];
  if (handler) return handler;
  const allow = Object.keys(methods).join(', ');
  throw new HttpError(405, 'method_not_allowed', `${req.method} not allowed; use ${allow}`, { Allow: allow });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'invalid_request', 'malformed path segment');
  }
}


function validateAuth(auth: SimAuth): void {
  const required: Record<SimAuth['kind'], string[]> = {
    NONE: [],
    API_KEY: ['key'],
    BASIC: ['username', 'password'],
    OAUTH2_CLIENT_CREDENTIALS: ['clientId', 'clientSecret'],
    JWT_CLIENT_ASSERTION: ['clientId', 'publicKeyPem'],
    CLIENT_CERTIFICATE: [],
  };
  const fields = required[auth.kind];
  if (!fields) throw new Error(`unknown auth kind ${(auth as { kind: string }).kind}`);
  for (const field of fields) {
    const value = (auth as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'string' || value === '') throw new Error(`auth ${auth.kind} requires a non-empty ${field}`);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
