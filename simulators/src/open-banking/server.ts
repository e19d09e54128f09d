import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HttpError, listen, readBodyBytes, sendJson } from '../http.ts';
import type { OpenBankingSimulator, OpenBankingSimulatorOptions } from './index.ts';
import { JwsVerifier, SignatureRejected } from './jws.ts';
import { ObOAuth, type Caller } from './oauth.ts';
import { IDEMPOTENCY_KEY_PATTERN, IdempotencyStore, ObError, PaymentsService } from './payments.ts';

export const AUTHORIZE_PATH = '/authorize';
export const TOKEN_PATH = '/token';
export const API_PREFIX = '/open-banking/v3.1/pisp';

const DEFAULT_BALANCE = { amount: '10000.00', currency: 'GBP' };
const DEFAULT_SETTLE_AFTER_MS = 1000;
const AUTH_DATE_PATTERN =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (GMT|UTC)$/;

type TokenKind = Caller['kind'];
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  caller: Caller;
  path: string;
  id?: string;
}
interface Route {
  pattern: RegExp;
  methods: Record<string, { token: TokenKind; handler: (ctx: Ctx) => void | Promise<void> }>;
}

/**
 * One HTTP server standing in for a UK bank (ASPSP): the OAuth 2.0 / FAPI authorisation server (/authorize, /token)
 * and the OBIE Payment Initiation API v3.1.11, domestic payments only, under /open-banking/v3.1/pisp. API checks run
 * in this order: resource (404/405, no body), bearer token (401, no body), token kind (403), Accept (406) and
 * Content-Type (415), then for POSTs x-idempotency-key, x-jws-signature, JSON, idempotent replay, schema validation
 * (every problem listed) and the business rules. Every response carries x-fapi-interaction-id (echoed or generated).
 * Departures: responses are not signed (no x-jws-signature on responses), and JWE bodies are not supported (415).
 */
export async function startOpenBankingSimulator(o: OpenBankingSimulatorOptions): Promise<OpenBankingSimulator> {
  if (typeof o.clientId !== 'string' || o.clientId === '') throw new Error('clientId is required');
  if (typeof o.clientSecret !== 'string' || o.clientSecret === '') throw new Error('clientSecret is required');
  const jws = await JwsVerifier.create(o.signingKeys ?? {}, o.issuer ?? o.clientId);
  const payments = new PaymentsService({ balance: o.balance ?? DEFAULT_BALANCE, settleAfterMs: o.settleAfterMs ?? DEFAULT_SETTLE_AFTER_MS });
  const oauth = new ObOAuth({ clientId: o.clientId, clientSecret: o.clientSecret, redirectUris: o.redirectUris }, payments);
  const idempotency = new IdempotencyStore();
  const counters = { requests: 0, byPath: {} as Record<string, number>, signaturesRejected: 0 };

  /** The signed, idempotent POST pipeline shared by both create endpoints. */
  async function signedPost(ctx: Ctx, create: (body: unknown) => Record<string, unknown>): Promise<void> {
    const { req, res, caller, path } = ctx;
    const key = header(req, 'x-idempotency-key');
    if (key === undefined) throw ObError.one(400, 'UK.OBIE.Header.Missing', 'x-idempotency-key header is required', 'x-idempotency-key');
    if (key.length > 40 || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw ObError.one(400, 'UK.OBIE.Header.Invalid', 'x-idempotency-key must be 1-40 characters without leading or trailing spaces', 'x-idempotency-key');
    }
    const bytes = await readBodyBytes(req);
    try {
      await jws.verify(header(req, 'x-jws-signature'), bytes);
    } catch (err) {
      if (!(err instanceof SignatureRejected)) throw err;
      counters.signaturesRejected += 1;
      throw ObError.one(400, err.errorCode, err.message, 'x-jws-signature');
    }
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw ObError.one(400, 'UK.OBIE.Resource.InvalidFormat', 'the request body is not valid JSON');
    }
    const replay = idempotency.lookup(caller.clientId, path, key, body);
    if (replay) return sendJson(req, res, 201, replay);
    const created = create(body);
    idempotency.remember(caller.clientId, path, key, body, created);
    sendJson(req, res, 201, created);
  }

  const routes: Route[] = [
    {
      pattern: new RegExp(`^${API_PREFIX}/domestic-payment-consents$`),
      methods: { POST: { token: 'client_credentials', handler: (ctx) => signedPost(ctx, (body) => payments.createConsent(ctx.caller.clientId, body)) } },
    },
    {
      pattern: new RegExp(`^${API_PREFIX}/domestic-payment-consents/([^/]+)$`),
      methods: { GET: { token: 'client_credentials', handler: (ctx) => sendJson(ctx.req, ctx.res, 200, payments.getConsent(ctx.caller.clientId, ctx.id!)) } },
    },
    {
      pattern: new RegExp(`^${API_PREFIX}/domestic-payments$`),
      methods: {
        POST: {
          token: 'authorization_code',
          handler: (ctx) =>
            signedPost(ctx, (body) => {
              const caller = ctx.caller as Extract<Caller, { kind: 'authorization_code' }>;
              return payments.createPayment(caller.clientId, caller.consentId, body);
            }),
        },
      },
    },
    {
      pattern: new RegExp(`^${API_PREFIX}/domestic-payments/([^/]+)$`),
      methods: { GET: { token: 'client_credentials', handler: (ctx) => sendJson(ctx.req, ctx.res, 200, payments.getPayment(ctx.caller.clientId, ctx.id!)) } },
    },
  ];

  async function handleApi(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = routes.find((r) => r.pattern.test(path));
    if (!route) throw new ObError(404, [], `no such resource ${path}`);
    const method = route.methods[req.method ?? ''];
    if (!method) {
      const allow = Object.keys(route.methods).join(', ');
      throw new ObError(405, [], `use ${allow}`, { Allow: allow });
    }
    const caller = oauth.authenticate(req);
    if (caller.kind !== method.token) {
      const wanted = method.token === 'client_credentials' ? 'a client-credentials' : 'an authorization-code (PSU consent)';
      throw ObError.one(403, 'UK.OBIE.Header.Invalid', `this endpoint requires ${wanted} access token`, 'Authorization');
    }
    if (!acceptsJson(req)) throw new ObError(406, [], 'only application/json responses are available');
    if (req.method === 'POST' && !isJson(req)) throw new ObError(415, [], 'Content-Type must be application/json');
    const authDate = header(req, 'x-fapi-auth-date');
    if (authDate !== undefined && !AUTH_DATE_PATTERN.test(authDate)) {
      throw ObError.one(400, 'UK.OBIE.Header.Invalid', 'x-fapi-auth-date must be an RFC 7231 date, e.g. Sun, 10 Sep 2017 19:43:31 UTC', 'x-fapi-auth-date');
    }
    const segment = route.pattern.exec(path)![1];
    let id: string | undefined;
    if (segment !== undefined) {
      try {
        id = decodeURIComponent(segment);
      } catch {
        throw ObError.one(400, 'UK.OBIE.Resource.NotFound', 'malformed resource id');
      }
    }
    await method.handler({ req, res, caller, path, id });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    counters.requests += 1;
    counters.byPath[path] = (counters.byPath[path] ?? 0) + 1;
    res.setHeader('x-fapi-interaction-id', header(req, 'x-fapi-interaction-id') ?? randomUUID());
    try {
      if (path === AUTHORIZE_PATH) {
        if (req.method !== 'GET') throw new ObError(405, [], 'use GET', { Allow: 'GET' });
        return oauth.authorize(req, res, url);
      }
      if (path === TOKEN_PATH) {
        if (req.method !== 'POST') throw new ObError(405, [], 'use POST', { Allow: 'POST' });
        return await oauth.token(req, res);
      }
      await handleApi(req, res, path);
    } catch (err) {
      // Drain an unread request body so the connection stays usable for keep-alive clients.
      if (!req.readableEnded) await readBodyBytes(req, 100 * 1024 * 1024).catch(() => undefined);
      const ob =
        err instanceof ObError
          ? err
          : err instanceof HttpError
            ? ObError.one(err.status, 'UK.OBIE.Resource.InvalidFormat', err.message)
            : ObError.one(500, 'UK.OBIE.UnexpectedError', err instanceof Error ? err.message : String(err));
      const body = ob.body();
      if (body) return sendJson(req, res, ob.status, body, ob.headers);
      if (res.headersSent) return;
      res.statusCode = ob.status;
      for (const [name, value] of Object.entries(ob.headers)) res.setHeader(name, value);
      res.setHeader('Content-Length', 0);
      res.end();
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
  const url = `http://${await listen(server, o.host, o.port)}`;
  payments.apiBase = `${url}${API_PREFIX}`;

  return {
    url,
    authorizeUrl: `${url}${AUTHORIZE_PATH}`,
    tokenUrl: `${url}${TOKEN_PATH}`,
    stats: () => ({
      requests: counters.requests,
      byPath: { ...counters.byPath },
      consents: payments.consentCount,
      payments: payments.paymentCount,
      signaturesRejected: counters.signaturesRejected,
    }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function acceptsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (!accept) return true;
  return accept.split(',').some((part) => ['application/json', 'application/*', '*/*'].includes(part.split(';')[0]!.trim().toLowerCase()));
}

function isJson(req: IncomingMessage): boolean {
  const [type, ...params] = (req.headers['content-type'] ?? '').split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
}
