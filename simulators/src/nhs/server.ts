import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { authorization } from '../auth.ts';
import { createClientAssertionVerifier } from '../client-assertion.ts';
import { CONTROL_PREFIX, FaultInjector, faultControlRoutes } from '../faults.ts';
import { HttpError, listen, readBody, readBodyBytes, sendError, sendJson, statusCode } from '../http.ts';
import { RateLimiter } from '../rate-limit.ts';
import { TokenStore } from '../tokens.ts';
import { epsBundle, scrBundle } from './clinical.ts';
import { clone, nhsFixtureMesh, sandbox, type JsonObject } from './fixtures.ts';
import { MeshError, MeshService, sendMeshError } from './mesh.ts';
import { isValidNhsNumber } from './nhs-number.ts';
import { FhirError, fhirNow, mirrorTraceHeaders, requireRequestId, sendFhir, sendFhirError } from './outcome.ts';
import { NHS_NUMBER_SYSTEM, parseSearch, PatientStore } from './patients.ts';
import { createNhsTokenEndpoint } from './token.ts';
import type { NhsSimulator, NhsSimulatorOptions } from './types.ts';

export const TOKEN_PATH = '/oauth2/token';
export const PDS_PATH = '/personal-demographics/FHIR/R4';
export const SCR_PATH = '/summary-care-record/FHIR/R4';
export const EPS_PATH = '/prescriptions-for-patients/FHIR/R4';
export const MESH_PATH = '/messageexchange';

const DEFAULT_TOKEN_TTL_SECONDS = 599;
const DEFAULT_RATE_LIMIT = 5;
/** Patients with no SCR / no prescriptions (the sandbox's "minimal data" patient). */
const NO_CLINICAL_RECORD = new Set(['9000000033']);

type FhirHandler = (req: IncomingMessage, res: ServerResponse, url: URL, match: RegExpExecArray) => void | Promise<void>;
interface FhirRoute {
  pattern: RegExp;
  methods: Record<string, FhirHandler>;
}

/**
 * One HTTP server standing in for the NHS APIs the hub uses: APIM's signed-JWT token endpoint, PDS FHIR R4
 * (from the real spec and sandbox bodies), a simulated Summary Care Record and EPS, and a MESH v2 mailbox.
 * Control routes under /__ (never faulted, limited or counted): /__faults, /__reset, /__stats, /__patients,
 * /__tokens/expire, /__mesh/{mailbox}/acknowledge-all.
 */
export async function startNhsSimulator(o: NhsSimulatorOptions): Promise<NhsSimulator> {
  if (typeof o.apiKey !== 'string' || o.apiKey === '') throw new Error('apiKey is required');
  if (!o.publicKeys || Object.keys(o.publicKeys).length === 0) throw new Error('publicKeys needs at least one kid -> PEM');
  const ttlSeconds = o.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!(ttlSeconds > 0)) throw new Error('tokenTtlSeconds must be positive');
  const perSecond = o.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT;
  new RateLimiter(perSecond); // validates the option up front

  const patients = new PatientStore(o.syntheticPatients ?? 0);
  const mesh = new MeshService(o.meshMailboxes ?? { ...nhsFixtureMesh.mailboxes }, o.meshSharedKey ?? nhsFixtureMesh.sharedKey);
  const faults = new FaultInjector();
  const tokens = new TokenStore();
  const limiters = new Map<string, RateLimiter>(); // one quota per application
  const counters = { requests: 0, byPath: {} as Record<string, number>, rateLimited: 0 };
  const closing = new AbortController();
  let tokenEndpoint: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  let pdsBaseUrl = '';
  let scrBaseUrl = '';
  let epsBaseUrl = '';

  // ---------- PDS / SCR / EPS ----------

  const pdsRoutes: FhirRoute[] = [
    {
      pattern: /^\/Patient$/,
      methods: {
        GET: (_req, res, url) => {
          const q = parseSearch(url.searchParams);
          const outcome = patients.search(q);
          // PDS answers too many matches with HTTP 200 and an OperationOutcome (patient-search.yaml).
          if (outcome.kind === 'too_many') throw new FhirError(200, 'TOO_MANY_MATCHES');
          sendFhir(res, 200, {
            resourceType: 'Bundle',
            type: 'searchset',
            timestamp: fhirNow(),
            total: outcome.entries.length,
            entry: outcome.entries.map((e) => ({ fullUrl: `${pdsBaseUrl}/Patient/${e.resource.id as string}`, search: { score: e.score }, resource: e.resource })),
          });
        },
      },
    },
    {
      pattern: /^\/Patient\/([^/]+)$/,
      methods: {
        GET: (_req, res, _url, m) => {
          const patient = patients.require(m[1]!);
          sendFhir(res, 200, patient, { ETag: etag(patient) });
        },
        PATCH: async (req, res, _url, m) => {
          const nhs = m[1]!;
          patients.require(nhs);
          const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (type === '') throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'Content-Type' header must be 'application/json-patch+json'");
          if (type !== 'application/json-patch+json') throw new FhirError(400, 'INVALID_VALUE', `Invalid value - '${type}' in header 'Content-Type'`);
          const ifMatch = req.headers['if-match'];
          let body: unknown;
          const text = await readBody(req);
          try {
            body = JSON.parse(text);
          } catch {
            throw new FhirError(400, 'INVALID_UPDATE', 'Invalid update with error - body is not valid JSON');
          }
          const updated = patients.patch(nhs, typeof ifMatch === 'string' ? ifMatch : undefined, body);
          sendFhir(res, 200, updated, { ETag: etag(updated) });
        },
      },
    },
    {
      pattern: /^\/Patient\/([^/]+)\/RelatedPerson$/,
      methods: {
        GET: (_req, res, _url, m) => {
          const nhs = m[1]!;
          const patient = patients.require(nhs);
          if (nhs === '9000000009') {
            sendFhir(res, 200, clone(sandbox.relatedPersonBundle), { ETag: etag(patient) });
            return;
          }
          // Restricted patients and patients without related people: an empty bundle (relatedpersons-get.yaml).
          sendFhir(res, 200, { resourceType: 'Bundle', type: 'searchset', timestamp: fhirNow(), total: 0 }, { ETag: etag(patient) });
        },
      },
    },
  ];

  const scrRoutes: FhirRoute[] = [
    {
      pattern: /^\/Bundle$/,
      methods: {
        GET: (_req, res, url) => {
          const values = url.searchParams.getAll('patient');
          if (values.length === 0) throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'patient' query parameter");
          if (values.length > 1) throw new FhirError(400, 'INVALID_VALUE', "Invalid value - 'patient' must not be repeated");
          const [system, nhs] = splitToken(values[0]!);
          if (system !== NHS_NUMBER_SYSTEM || nhs === undefined) {
            throw new FhirError(400, 'INVALID_VALUE', `Invalid value - '${values[0]!}' in field 'patient' (expected ${NHS_NUMBER_SYSTEM}|<nhs number>)`);
          }
          patients.require(nhs);
          if (patients.isRestricted(nhs)) {
            throw new FhirError(403, 'ACCESS_DENIED', 'Summary Care Record withheld: the patient is restricted (sensitive)');
          }
          sendFhir(res, 200, scrBundle(scrBaseUrl, patients.summary(nhs)!, !NO_CLINICAL_RECORD.has(nhs), fhirNow()));
        },
      },
    },
  ];

  const epsRoutes: FhirRoute[] = [
    {
      pattern: /^\/Bundle$/,
      methods: {
        GET: (req, res) => {
          const nhs = req.headers['nhsd-nhs-number'];
          if (typeof nhs !== 'string' || nhs === '') throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'NHSD-Nhs-Number' header");
          if (!isValidNhsNumber(nhs)) throw new FhirError(400, 'INVALID_RESOURCE_ID');
          patients.require(nhs);
          sendFhir(res, 200, epsBundle(epsBaseUrl, patients.summary(nhs)!, !NO_CLINICAL_RECORD.has(nhs), fhirNow()));
        },
      },
    },
  ];

  const apis: Array<[string, FhirRoute[]]> = [
    [PDS_PATH, pdsRoutes],
    [SCR_PATH, scrRoutes],
    [EPS_PATH, epsRoutes],
  ];

  /** Bearer token -> the application, else 401 ACCESS_DENIED. */
  function authenticate(req: IncomingMessage): string {
    const token = authorization(req, 'Bearer');
    if (!token) throw new FhirError(401, 'ACCESS_DENIED', 'Invalid access token', { 'WWW-Authenticate': 'Bearer' });
    const state = tokens.check(token);
    if (state !== 'valid') {
      throw new FhirError(401, 'ACCESS_DENIED', state === 'expired' ? 'Access token expired' : 'Invalid access token', {
        'WWW-Authenticate': `Bearer error="invalid_token"`,
      });
    }
    return tokens.clientOf(token)!;
  }

  function rateLimit(app: string): void {
    let limiter = limiters.get(app);
    if (!limiter) limiters.set(app, (limiter = new RateLimiter(perSecond)));
    const retryAfter = limiter.check();
    if (retryAfter !== undefined) {
      counters.rateLimited += 1;
      throw new FhirError(429, 'TOO_MANY_REQUESTS', `You have exceeded your application's rate limit of ${perSecond} requests per second`, {
        'Retry-After': String(retryAfter),
      });
    }
  }

  async function handleFhir(req: IncomingMessage, res: ServerResponse, url: URL, routes: FhirRoute[], rest: string): Promise<void> {
    const route = routes.find((r) => r.pattern.test(rest));
    if (!route) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No such resource: ${url.pathname}`);
    const handler = route.methods[req.method ?? ''];
    if (!handler) {
      throw new FhirError(405, 'INVALID_METHOD', undefined, { Allow: Object.keys(route.methods).join(', ') });
    }
    const app = authenticate(req);
    rateLimit(app);
    requireRequestId(req);
    await handler(req, res, url, route.pattern.exec(rest)!);
  }

  // ---------- control plane ----------

  const controlRoutes: Record<string, Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>> = {
    ...faultControlRoutes(faults),
    [`${CONTROL_PREFIX}reset`]: { POST: (req, res) => sendJson(req, res, 200, (reset(), { reset: true })) },
    [`${CONTROL_PREFIX}stats`]: { GET: (req, res) => sendJson(req, res, 200, stats()) },
    // Which patients there are, so a demo hub can admit them to its demo home.
    [`${CONTROL_PREFIX}patients`]: { GET: (req, res) => sendJson(req, res, 200, { nhsNumbers: patients.nhsNumbers() }) },
    [`${CONTROL_PREFIX}tokens/expire`]: { POST: (req, res) => sendJson(req, res, 200, (tokens.expireAll(), { expired: true })) },
  };

  function reset(): void {
    patients.reset();
    mesh.reset();
    limiters.clear();
  }

  function stats(): ReturnType<NhsSimulator['stats']> {
    return { requests: counters.requests, byPath: { ...counters.byPath }, tokensIssued: tokens.issued, rateLimited: counters.rateLimited };
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const ack = /^\/__mesh\/([^/]+)\/acknowledge-all$/.exec(path);
    if (ack) {
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST', { Allow: 'POST' });
      sendJson(req, res, 200, { acknowledged: mesh.acknowledgeAll(decodeURIComponent(ack[1]!)) });
      return;
    }
    const methods = controlRoutes[path];
    if (!methods) throw new HttpError(404, 'not_found', `no such path ${path}`);
    const handler = methods[req.method ?? ''];
    if (!handler) throw new HttpError(405, 'method_not_allowed', `use ${Object.keys(methods).join(', ')}`, { Allow: Object.keys(methods).join(', ') });
    await handler(req, res);
  }

  // ---------- dispatch ----------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    if (path.startsWith(CONTROL_PREFIX)) {
      try {
        await handleControl(req, res, path);
      } catch (err) {
        sendError(req, res, err instanceof HttpError ? err : new HttpError(500, 'internal_error', String(err)));
      }
      return;
    }

    counters.requests += 1;
    counters.byPath[path] = (counters.byPath[path] ?? 0) + 1;
    const api = apis.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`));
    if (api) mirrorTraceHeaders(req, res);

    try {
      // Faults first, ahead of auth: they model failures in front of the service (LB, gateway, network).
      const fault = faults.take(path);
      if (fault) {
        if (fault.latencyMs > 0) await sleep(fault.latencyMs, undefined, { signal: closing.signal });
        if (fault.drop) {
          req.socket.destroy();
          return;
        }
        if (fault.status !== undefined) throw injected(fault.status);
      }

      if (path === TOKEN_PATH) {
        if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST', { Allow: 'POST' });
        await tokenEndpoint!(req, res);
        return;
      }
      if (api) {
        await handleFhir(req, res, url, api[1], path.slice(api[0].length));
        return;
      }
      if (path.startsWith(`${MESH_PATH}/`) && (await mesh.handle(req, res, url))) return;
      throw new HttpError(404, 'not_found', `no such path ${path}`);
    } catch (err) {
      if (closing.signal.aborted) return;
      // Drain an unread request body so the connection stays usable for keep-alive clients.
      if (!req.readableEnded) await readBodyBytes(req, 100 * 1024 * 1024).catch(() => undefined);
      if (err instanceof FhirError) {
        if (api) sendFhirError(res, err);
        else if (path.startsWith(MESH_PATH)) sendMeshError(res, new MeshError(err.status, { detail: err.diagnostics ?? err.code }));
        else sendError(req, res, new HttpError(err.status, err.code.toLowerCase(), err.diagnostics ?? err.code, err.headers));
      } else if (err instanceof MeshError) sendMeshError(res, err);
      else if (err instanceof HttpError) {
        if (api) sendFhirError(res, new FhirError(err.status, err.status === 413 ? 'INVALID_VALUE' : 'SERVER_ERROR', err.message, err.headers));
        else sendError(req, res, err);
      } else {
        const message = err instanceof Error ? err.message : String(err);
        if (api) sendFhirError(res, new FhirError(500, 'SERVER_ERROR', message));
        else sendError(req, res, new HttpError(500, 'internal_error', message));
      }
    }
  }

  /** An injected fault status, answered in the shape of the API it hits. */
  function injected(status: number): FhirError {
    const code =
      status === 429 ? 'TOO_MANY_REQUESTS' : status === 503 ? 'SERVICE_UNAVAILABLE' : status === 408 || status === 504 ? 'UNABLE_TO_CALL_SERVICE' : status >= 500 ? 'SERVER_ERROR' : statusCode(status).toUpperCase();
    const headers: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': '1' } : {};
    return new FhirError(status, code, `injected fault: HTTP ${status}`, headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
  const url = `http://${await listen(server, o.host, o.port)}`;
  const tokenUrl = `${url}${TOKEN_PATH}`;
  pdsBaseUrl = `${url}${PDS_PATH}`;
  scrBaseUrl = `${url}${SCR_PATH}`;
  epsBaseUrl = `${url}${EPS_PATH}`;
  const verify = createClientAssertionVerifier({ clientId: o.apiKey, audience: tokenUrl, keys: o.publicKeys, requireKid: true });
  tokenEndpoint = createNhsTokenEndpoint({ apiKey: o.apiKey, verify, tokens, ttlSeconds });

  return {
    url,
    tokenUrl,
    pdsBaseUrl,
    scrBaseUrl,
    epsBaseUrl,
    meshBaseUrl: `${url}${MESH_PATH}`,
    stats,
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    expireTokens: () => tokens.expireAll(),
    acknowledgeAll: (mailbox) => mesh.acknowledgeAll(mailbox),
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const etag = (patient: JsonObject): string => `W/"${String((patient.meta as JsonObject | undefined)?.versionId ?? '1')}"`;

/** FHIR token search value system|code. */
function splitToken(value: string): [string | undefined, string | undefined] {
  const bar = value.indexOf('|');
  if (bar < 0) return [undefined, value];
  return [value.slice(0, bar), value.slice(bar + 1) || undefined];
}

