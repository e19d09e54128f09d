import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HttpError, listen, readBody, readBodyBytes, sendJson } from '../http.ts';
import { RateLimiter } from '../rate-limit.ts';
import { validateFraudHeaders } from './fraud-headers.ts';
import type { HmrcSimulator, HmrcSimulatorOptions, HmrcSimulatorStats } from './index.ts';
import { HmrcOAuth, type Caller } from './oauth.ts';
import { HmrcError, VatService } from './vat.ts';

export const AUTHORIZE_PATH = '/oauth/authorize';
export const TOKEN_PATH = '/oauth/token';
export const FRAUD_VALIDATE_PATH = '/test/fraud-prevention-headers/validate';
export const HMRC_ACCEPT = 'application/vnd.hmrc.1.0+json';

const DEFAULT_RATE_LIMIT = 3;
const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 4 * 60 * 60;
const DEFAULT_VRNS = ['123456789'];
/** Fraud-header outcomes kept for stats(); the oldest are dropped beyond this. */
const MAX_FRAUD_RECORDS = 10_000;

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray, caller: Caller) => void | Promise<void>;
interface Route {
  pattern: RegExp;
  methods: Record<string, { scope?: 'read:vat' | 'write:vat'; handler: Handler }>;
}

/**
 * One HTTP server standing in for HMRC: OAuth 2.0 (authorization code + refresh), the MTD VAT API v1.0 (obligations,
 * returns, liabilities, payments) from the published OpenAPI spec, and the Test Fraud Prevention Headers API.
 * API paths answer HMRC's {code, message, errors?} bodies and carry X-CorrelationId; gateway checks run in HMRC's
 * order: Accept (406), resource (404/405), credentials (401), throttling (429), scope (401), then the endpoint.
 */
export async function startHmrcSimulator(o: HmrcSimulatorOptions): Promise<HmrcSimulator> {
  if (typeof o.clientId !== 'string' || o.clientId === '') throw new Error('clientId is required');
  if (typeof o.clientSecret !== 'string' || o.clientSecret === '') throw new Error('clientSecret is required');
  const perSecond = o.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT;
  new RateLimiter(perSecond); // validates the option up front
  const vrns = o.vrns ?? DEFAULT_VRNS;
  for (const vrn of vrns) if (!/^\d{9}$/.test(vrn)) throw new Error(`vrns: ${vrn} is not a nine-digit VRN`);

  const oauth = new HmrcOAuth({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    redirectUris: o.redirectUris,
    accessTokenTtlSeconds: o.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  });
  const vat = new VatService(new Set(vrns));
  const limiters = new Map<string, RateLimiter>(); // one quota per application
  const counters = { requests: 0, byPath: {} as Record<string, number>, fraudHeaders: [] as HmrcSimulatorStats['fraudHeaders'] };

  const scenario = (req: IncomingMessage): string | undefined => {
    const v = req.headers['gov-test-scenario'];
    return typeof v === 'string' && v !== '' && v !== '-' ? v : undefined;
  };
  const VRN = '/organisations/vat/([^/]+)';

  const routes: Route[] = [
    {
      pattern: new RegExp(`^${VRN}/obligations$`),
      methods: {
        GET: {
          scope: 'read:vat',
          handler: (req, res, url, m) => {
            vat.requireVrn(m[1]!);
            const q = url.searchParams;
            const obligations = vat.obligations(m[1]!, { from: q.get('from'), to: q.get('to'), status: q.get('status') }, scenario(req));
            sendJson(req, res, 200, { obligations });
          },
        },
      },
    },
    {
      pattern: new RegExp(`^${VRN}/returns$`),
      methods: {
        POST: {
          scope: 'write:vat',
          handler: async (req, res, _url, m) => {
            vat.requireVrn(m[1]!);
            const text = await readBody(req);
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              throw new HmrcError(400, 'INVALID_REQUEST', 'Invalid request', [{ code: 'INVALID_REQUEST', message: 'the body is not valid JSON', path: '' }]);
            }
            const result = vat.submit(m[1]!, body, scenario(req));
            sendJson(req, res, 201, result, {
              'Receipt-ID': randomUUID(),
              'Receipt-Timestamp': result.processingDate.replace(/\.\d{3}Z$/, 'Z'),
              'Receipt-Signature': 'DO NOT USE',
            });
          },
        },
      },
    },
    {
      pattern: new RegExp(`^${VRN}/returns/([^/]+)$`),
      methods: {
        GET: {
          scope: 'read:vat',
          handler: (req, res, _url, m) => {
            vat.requireVrn(m[1]!);
            let periodKey: string;
            try {
              periodKey = decodeURIComponent(m[2]!);
            } catch {
              throw new HmrcError(400, 'PERIOD_KEY_INVALID', 'Invalid period key');
            }
            sendJson(req, res, 200, vat.getReturn(m[1]!, periodKey, scenario(req)));
          },
        },
      },
    },
    {
      pattern: new RegExp(`^${VRN}/liabilities$`),
      methods: {
        GET: {
          scope: 'read:vat',
          handler: (req, res, url, m) => {
            vat.requireVrn(m[1]!);
            sendJson(req, res, 200, { liabilities: vat.liabilities(m[1]!, url.searchParams.get('from'), url.searchParams.get('to'), scenario(req)) });
          },
        },
      },
    },
    {
      pattern: new RegExp(`^${VRN}/payments$`),
      methods: {
        GET: {
          scope: 'read:vat',
          handler: (req, res, url, m) => {
            vat.requireVrn(m[1]!);
            sendJson(req, res, 200, { payments: vat.payments(m[1]!, url.searchParams.get('from'), url.searchParams.get('to'), scenario(req)) });
          },
        },
      },
    },
    {
      // Application-restricted: any token of this application, no scope.
      pattern: /^\/test\/fraud-prevention-headers\/validate$/,
      methods: { GET: { handler: (req, res) => sendJson(req, res, 200, validateFraudHeaders(req.headers).report) } },
    },
  ];

  function acceptable(req: IncomingMessage): boolean {
    const accept = req.headers.accept;
    if (!accept) return false;
    return accept.split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === HMRC_ACCEPT);
  }

  function throttle(app: string): void {
    let limiter = limiters.get(app);
    if (!limiter) limiters.set(app, (limiter = new RateLimiter(perSecond)));
    const retryAfter = limiter.check();
    if (retryAfter !== undefined) {
      throw new HmrcError(429, 'MESSAGE_THROTTLED_OUT', 'The application has exceeded the rate limit', undefined, { 'Retry-After': String(retryAfter) });
    }
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (!acceptable(req)) throw new HmrcError(406, 'ACCEPT_HEADER_INVALID', 'The accept header is missing or invalid');
    const route = routes.find((r) => r.pattern.test(path));
    if (!route) throw new HmrcError(404, 'MATCHING_RESOURCE_NOT_FOUND', 'A resource with the name in the request can not be found in the API');
    const method = route.methods[req.method ?? ''];
    if (!method) {
      const allow = Object.keys(route.methods).join(', ');
      throw new HmrcError(405, 'METHOD_NOT_ALLOWED', `The request method is not supported by this resource; use ${allow}`, undefined, { Allow: allow });
    }
    // VAT endpoints do not reject bad fraud-prevention headers (as in reality); the outcome is recorded for stats().
    const fraud = validateFraudHeaders(req.headers);
    counters.fraudHeaders.push({ path, code: fraud.report.code, missing: fraud.missing });
    if (counters.fraudHeaders.length > MAX_FRAUD_RECORDS) counters.fraudHeaders.shift();

    const caller = oauth.authenticate(req);
    throttle(caller.clientId);
    if (method.scope && !caller.scopes.has(method.scope)) {
      throw new HmrcError(401, 'INVALID_SCOPE', 'Cannot access the required resource. Ensure this token has all the required scopes.');
    }
    await method.handler(req, res, url, route.pattern.exec(path)!, caller);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    counters.requests += 1;
    counters.byPath[path] = (counters.byPath[path] ?? 0) + 1;
    res.setHeader('X-CorrelationId', randomUUID());
    try {
      if (path === AUTHORIZE_PATH) {
        if (req.method !== 'GET') throw new HmrcError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { Allow: 'GET' });
        oauth.authorize(req, res, url);
        return;
      }
      if (path === TOKEN_PATH) {
        if (req.method !== 'POST') throw new HmrcError(405, 'METHOD_NOT_ALLOWED', 'use POST', undefined, { Allow: 'POST' });
        await oauth.token(req, res);
        return;
      }
      await handleApi(req, res, url);
    } catch (err) {
      // Drain an unread request body so the connection stays usable for keep-alive clients.
      if (!req.readableEnded) await readBodyBytes(req, 100 * 1024 * 1024).catch(() => undefined);
      if (err instanceof HmrcError) sendJson(req, res, err.status, err.body(), err.headers);
      else if (err instanceof HttpError) sendJson(req, res, err.status, { code: err.status === 413 ? 'INVALID_REQUEST' : err.code.toUpperCase(), message: err.message }, err.headers);
      else sendJson(req, res, 500, { code: 'INTERNAL_SERVER_ERROR', message: err instanceof Error ? err.message : String(err) });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
  const url = `http://${await listen(server, o.host, o.port)}`;

  return {
    url,
    authorizeUrl: `${url}${AUTHORIZE_PATH}`,
    tokenUrl: `${url}${TOKEN_PATH}`,
    stats: () => ({
      requests: counters.requests,
      byPath: { ...counters.byPath },
      tokensIssued: oauth.tokensIssued,
      fraudHeaders: counters.fraudHeaders.map((f) => ({ ...f, missing: [...f.missing] })),
    }),
    expireTokens: () => oauth.expireAll(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
