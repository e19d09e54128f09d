import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Histogram, type Registry } from 'prom-client';
import type { YogaServerInstance } from 'graphql-yoga';
import { isHubError, type DoorSettings, type KeyValue, type Logger } from '@hub/runtime';
import type { EventStreamSource } from '@hub/subgraph-events';
import { encodePrincipal, INTERNAL_TOKEN_HEADER, unauthenticated, verifyInternalToken, type InternalKeys } from '@hub/runtime';
import { AUDIT_EXPORT_PATH, exportAudit } from './audit-export.ts';
import { GRAPHIQL_ASSETS_PATH, serveGraphiqlAsset } from './graphiql.ts';
import { CLIENT_HEADER, PRINCIPAL_HEADER, principalFor, SCOPES_HEADER, VIA_HEADER, type Authenticator, type Identity } from './auth.ts';
import { applyCors, clientKey, hostAllowed, OpenCounter, OPERATIONAL_PATHS, originAllowed } from './doors.ts';
import { TRUSTED_DOCUMENT_HEADER, TRUSTED_DOCUMENT_TOKEN } from './guards.ts';
import { handleRest } from './rest.ts';

/** Where an HMRC or bank sign-in sends the operator's browser back: no hub credentials, a single-use state instead. */
const OAUTH_CALLBACKS = new Set(['/api/integration/hmrc/oauth/callback', '/api/integration/banking/oauth/callback']);
import { createEventStream, EVENT_STREAM_PATH } from './sse.ts';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface HttpServerOptions {
  yoga: YogaServerInstance<any, any>;
  log: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  maxBodyBytes: number;
  /** Serve the seed's REST facade (gateway roles only). */
  rest: boolean;
  kv?: KeyValue;
  rateLimitPerMinute?: number;
  /** The events service when this process runs the events subgraph: the REST event stream reads it directly. */
  events?: EventStreamSource;
  /** Aborted when the process starts shutting down: long-lived responses (event streams) end. */
  shutdown?: AbortSignal;
  /** Gateway roles: who is calling (see auth.ts). */
  auth?: Authenticator;
  /**
   * Calls from other hub processes carry a token signed with the internal key (tenancy.ts): a subgraph-only process
   * answers nothing else (401), its SDL included; a gateway process also takes them (an outbox relay elsewhere
   * publishing to its events subgraph). `audience`: the subgraphs this process serves.
   */
  internal?: { keys: InternalKeys; audience: string[] };
  subgraphOnly?: boolean;
  /** Gateway roles: the Host and Origin allow-lists (CORS) and per-client stream limits (doors.ts). */
  doors?: DoorSettings;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The one HTTP front door of a hub process: health and readiness, Prometheus metrics, the REST facade and
 * GraphQL (with GraphiQL) through yoga. Bodies over the limit are refused before they are read whole.
 */
export function createHttpServer(o: HttpServerOptions): Server {
  const duration = new Histogram({
    name: 'hub_http_request_duration_seconds',
    help: 'HTTP requests served by this hub process',
    labelNames: ['route', 'method', 'status'],
    registers: [o.metrics],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
  });
  const limiter = o.kv && o.rateLimitPerMinute ? o.kv.rateLimiter('client', o.rateLimitPerMinute, 60) : undefined;
  const tooLarge = { error: { code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${o.maxBodyBytes} bytes` } };
  const eventStream = o.rest ? createEventStream({ events: o.events, log: o.log, metrics: o.metrics, shutdown: o.shutdown }) : undefined;
  const streams = o.doors ? new OpenCounter(o.doors.sseMaxStreamsPerClient) : undefined;
  // The hub's own fixed operations run even where only trusted documents are allowed (guards.ts).
  const trustedYoga = {
    fetch: (url: string, init: RequestInit & { headers: Record<string, string> }) => o.yoga.fetch(url, { ...init, headers: { ...init.headers, [TRUSTED_DOCUMENT_HEADER]: TRUSTED_DOCUMENT_TOKEN } }),
  } as unknown as YogaServerInstance<any, any>;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return 'healthz';
    }
    if (path === '/readyz') {
      const results = await Promise.all(
        o.readiness.map(async (c) => {
          try {
            await c.check();
            return { name: c.name, ok: true };
          } catch (err) {
            return { name: c.name, ok: false, error: (err as Error).message };
          }
        }),
      );
      const ok = results.every((r) => r.ok);
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks: results });
      return 'readyz';
    }
    if (path === '/metrics') {
      const text = await o.metrics.metrics();
      res.writeHead(200, { 'content-type': o.metrics.contentType });
      res.end(text);
      return 'metrics';
    }
    if (o.doors) {
      // A name the gateway does not answer to (DNS rebinding: a page's own host name pointed at the hub) ends here.
      if (!OPERATIONAL_PATHS.has(path) && !hostAllowed(o.doors, req.headers.host)) {
        sendJson(res, 421, { error: { code: 'HOST_NOT_ALLOWED', message: `this hub does not answer to the host ${req.headers.host ?? '(none)'} (ALLOWED_HOSTS)` } });
        req.resume();
        return 'refused';
      }
      if (applyCors(o.doors, req, res)) return 'preflight';
      // A page on another site may not use the visitor's browser to call the hub (CORS_ORIGINS lists the ones that may).
      if (!originAllowed(o.doors, req.headers.origin, req.headers.host)) {
        sendJson(res, 403, { error: { code: 'FORBIDDEN', message: `origin ${req.headers.origin} may not call this hub (CORS_ORIGINS)` } });
        req.resume();
        return 'refused';
      }
    }
    if (o.rest && path.startsWith(GRAPHIQL_ASSETS_PATH)) {
      // GraphiQL's own script, styles and workers (graphiql.ts): public, like the page that loads them.
      await serveGraphiqlAsset(req, res, path);
      return 'graphiql-assets';
    }
    // The caller's identity replaces anything it claims about itself, before anything else reads the headers.
    let identity: Identity | undefined;
    delete req.headers[SCOPES_HEADER];
    delete req.headers[PRINCIPAL_HEADER];
    delete req.headers[VIA_HEADER];
    delete req.headers[TRUSTED_DOCUMENT_HEADER];
    const graphiqlPage = req.method === 'GET' && path === '/graphql' && !url.searchParams.has('query') && /text\/html/.test(req.headers.accept ?? '');
    const signed = req.headers[INTERNAL_TOKEN_HEADER] as string | undefined;
    if (o.subgraphOnly || (signed && o.internal)) {
      try {
        if (!o.internal) throw unauthenticated('this subgraph process has no INTERNAL_SIGNING_KEYS: it answers nobody');
        const p = await verifyInternalToken(o.internal.keys, signed, o.internal.audience);
        req.headers[CLIENT_HEADER] = p.client;
        req.headers[SCOPES_HEADER] = [...p.scopes].join(' ');
        req.headers[PRINCIPAL_HEADER] = encodePrincipal(p);
      } catch (err) {
        if (!isHubError(err)) throw err;
        sendJson(res, 401, { errors: [{ message: err.message, extensions: { code: err.code } }] }, { 'www-authenticate': 'Bearer realm="care-home-integration-hub internal"' });
        req.resume();
        return 'unauthenticated';
      }
    } else if (o.auth && req.method === 'GET' && OAUTH_CALLBACKS.has(path)) {
      // The operator's browser, sent back by HMRC or the bank: it carries no hub credentials, but the state it brings
      // back is single-use and was issued to a client with the write scope. Each path runs its one mutation only.
      // Its organisation is the one the state was issued to: the callback's service reads it from the state's row.
      identity = { client: 'oauth-callback', scopes: new Set(['write']), via: 'anonymous', organisationId: '', homeIds: null };
      req.headers[CLIENT_HEADER] = identity.client;
      req.headers[SCOPES_HEADER] = 'write';
      req.headers[PRINCIPAL_HEADER] = encodePrincipal({ ...principalFor(identity), service: true });
      // (Its mutation is not marked finance: the state was issued to a client that had that scope.)
    } else if (o.auth && !graphiqlPage) {
      try {
        identity = await o.auth.authenticate({
          authorization: req.headers.authorization,
          apiKey: req.headers['x-api-key'] as string | undefined,
          claimed: (req.headers[CLIENT_HEADER] as string | undefined) ?? req.socket.remoteAddress,
        });
      } catch (err) {
        if (!isHubError(err)) throw err;
        const headers: Record<string, string> = err.code === 'UNAUTHENTICATED' ? { 'www-authenticate': 'Bearer realm="care-home-integration-hub"' } : {};
        // GraphQL clients get a GraphQL-shaped answer; REST and stream clients the REST one.
        const body = path === '/graphql' ? { errors: [{ message: err.message, extensions: { code: err.code } }] } : { error: { code: err.code, message: err.message } };
        sendJson(res, err.httpStatus, body, headers);
        req.resume();
        return 'unauthenticated';
      }
      req.headers[CLIENT_HEADER] = identity.client;
      req.headers[SCOPES_HEADER] = [...identity.scopes].join(' ');
      req.headers[PRINCIPAL_HEADER] = encodePrincipal(principalFor(identity));
      req.headers[VIA_HEADER] = identity.via;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxBodyBytes) {
      sendJson(res, 413, tooLarge, { connection: 'close' });
      req.resume();
      return 'refused';
    }
    if (limiter) {
      // An authenticated client has its own allowance wherever it calls from; anyone else, per address.
      const client = clientKey(identity, req.socket.remoteAddress);
      try {
        await limiter.consume(client);
      } catch (r) {
        const retry = Math.ceil(((r as { msBeforeNext?: number }).msBeforeNext ?? 1000) / 1000);
        sendJson(res, 429, { error: { code: 'RATE_LIMITED', message: 'too many requests', retryAfterSeconds: retry } }, { 'retry-after': String(retry) });
        return 'limited';
      }
    }
    if (eventStream && path === EVENT_STREAM_PATH) {
      if (identity && !identity.scopes.has('read')) {
        sendJson(res, 403, { error: { code: 'FORBIDDEN', message: `the event stream needs the read scope; ${identity.client} has ${[...identity.scopes].join(', ') || 'none'}` } });
        return 'forbidden';
      }
      // Not one GraphQL result but a stream: served from the events service (see sse.ts). Each client holds a few.
      const holder = clientKey(identity, req.socket.remoteAddress);
      if (streams && !streams.acquire(holder)) {
        sendJson(res, 429, { error: { code: 'TOO_MANY_STREAMS', message: `${holder} already holds ${streams.limit} event streams open (SSE_MAX_STREAMS_PER_CLIENT)` } }, { 'retry-after': '5' });
        return 'limited';
      }
      try {
        await eventStream(req, res, url.searchParams);
      } finally {
        streams?.release(holder);
      }
      return 'events-stream';
    }
    if (o.rest && path === AUDIT_EXPORT_PATH && req.method === 'GET') {
      await exportAudit(req, res, url.searchParams, trustedYoga);
      return 'audit-export';
    }
    if (o.rest && path.startsWith('/api/')) {
      let body: string | undefined;
      try {
        body = req.method === 'POST' ? await readBody(req, o.maxBodyBytes) : undefined;
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          sendJson(res, 413, tooLarge, { connection: 'close' });
          return 'refused';
        }
        throw err;
      }
      const result = await handleRest(req.method ?? 'GET', path, url.searchParams, body, async (query, variables) => {
        const r = await o.yoga.fetch('http://hub/graphql', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            'x-request-id': String(req.headers['x-request-id'] ?? ''),
            // Who asked, for the audit and per-client limits downstream, and what it may do.
            ...(req.headers[CLIENT_HEADER] ? { [CLIENT_HEADER]: String(req.headers[CLIENT_HEADER]) } : {}),
            ...(req.headers[SCOPES_HEADER] !== undefined ? { [SCOPES_HEADER]: String(req.headers[SCOPES_HEADER]) } : {}),
            ...(req.headers[PRINCIPAL_HEADER] !== undefined ? { [PRINCIPAL_HEADER]: String(req.headers[PRINCIPAL_HEADER]) } : {}),
            ...(req.headers[VIA_HEADER] !== undefined ? { [VIA_HEADER]: String(req.headers[VIA_HEADER]) } : {}),
            [TRUSTED_DOCUMENT_HEADER]: TRUSTED_DOCUMENT_TOKEN,
          },
          body: JSON.stringify({ query, variables }),
        });
        return r.json() as never;
      }, req.headers['content-type']);
      if (!result) sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no endpoint ${req.method} ${path}` } });
      else sendJson(res, result.status, result.body);
      return 'rest';
    }
    if (req.method === 'POST' && req.headers['content-length'] === undefined) {
      // A chunked body has no declared size: read it under the limit, then hand yoga a complete request.
      let body: string;
      try {
        body = await readBody(req, o.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          sendJson(res, 413, tooLarge, { connection: 'close' });
          return 'refused';
        }
        throw err;
      }
      const r = await o.yoga.fetch(`http://hub${req.url}`, { method: 'POST', headers: req.headers as Record<string, string>, body });
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(Buffer.from(await r.arrayBuffer()));
      return 'graphql';
    }
    await o.yoga.requestListener(req, res);
    return 'graphql';
  }

  return createServer((req, res) => {
    const started = performance.now();
    if (!req.headers['x-request-id']) req.headers['x-request-id'] = randomUUID();
    res.setHeader('x-request-id', String(req.headers['x-request-id']));
    handle(req, res)
      .then((route) => duration.observe({ route, method: req.method ?? '', status: String(res.statusCode) }, (performance.now() - started) / 1000))
      .catch((err) => {
        o.log.error({ err }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'Internal error' } });
        else res.destroy();
      });
  });
}
