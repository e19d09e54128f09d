import { createHmac, randomUUID } from 'node:crypto';
import { isHubError, principalOf, upstreamUnavailable, waitForSlot, type HubRuntime, type OutboundResponse, type RequestContext, type HttpMethod } from '@hub/runtime';
import type { NhsApiName, ResolvedNhs } from './environments.ts';

/** What the audit trail and the event log learn about each call: identifiers and outcomes, no clinical content. */
export interface CallRecord {
  /** Whose call it was: the audit row and the event belong to this organisation. */
  organisationId: string;
  api: NhsApiName;
  operation: string;
  nhsNumber?: string;
  /** The organisation's pseudonym for the resident: what the event names instead of the NHS number. */
  residentId?: string | null;
  /** The home whose stay allowed the call: a client limited to other homes does not see its event. */
  homeId?: string | null;
  /** Why the caller asked, for calls that name no resident in care (a PDS search to admit someone). */
  purpose?: string;
  actor: string;
  requestId?: string;
  upstreamRequestId: string;
  outcome: string;
  httpStatus?: number;
  latencyMs: number;
}

export interface SpineCall {
  api: NhsApiName;
  /** What the hub was doing, e.g. READ_PATIENT, for the audit trail. */
  operation: string;
  nhsNumber?: string;
  residentId?: string | null;
  homeId?: string | null;
  purpose?: string;
  method: HttpMethod;
  /** Below the API's base URL, query string included. */
  path: string;
  headers?: Record<string, string>;
  body?: string | object;
  /** Who is asking (for the audit) and the request id sent on as X-Correlation-ID. */
  ctx: RequestContext;
}

/** Longest the hub waits for its share of the NHS rate limit before telling the caller to slow down. */
const MAX_LIMIT_WAIT_MS = 15_000;
/** Extra room on the upstream's window: requests sent back to back can arrive closer together than they left. */
const WINDOW_MARGIN_MS = 100;

/**
 * One client for the NHS APIs behind the API platform (PDS, SCR, EPS) and MESH: the platform's signed-JWT
 * authentication, the mandatory headers, one rate limit for the application shared by all hub processes, the
 * shared outbound client's retries (429/5xx, backoff with jitter, Retry-After), breaker per API and timeouts,
 * and a record of every call.
 */
export function createSpineClient(rt: HubRuntime, nhs: ResolvedNhs, record: (r: CallRecord) => Promise<void>) {
  const limit = rt.config.nhs.rateLimitPerSecond;

  /** Waits for a slot of the application's NHS rate limit (per second, across every hub process). */
  const takeSlot = () => waitForSlot(rt.kv, { system: 'nhs', limit, windowMs: 1000 + WINDOW_MARGIN_MS, maxWaitMs: MAX_LIMIT_WAIT_MS });

  async function authorization(): Promise<Record<string, string>> {
    if (!nhs.tokenUrl || !nhs.apiKey || !nhs.privateKeyPem) return {}; // the open-access sandbox
    const auth = await rt.auth.authorize(
      'nhs',
      { kind: 'JWT_CLIENT_ASSERTION', tokenUrl: nhs.tokenUrl, kid: nhs.keyId },
      { clientId: nhs.apiKey, privateKeyPem: nhs.privateKeyPem },
    );
    return auth.headers;
  }

  function meshAuthorization(): Record<string, string> {
    const m = nhs.mesh;
    if (!m) return {};
    // MESH's own scheme: NHSMESH mailbox:nonce:nonce_count:timestamp:HMAC-SHA256(shared key, mailbox:nonce:count:password:timestamp).
    const nonce = randomUUID();
    const ts = new Date().toISOString().replace(/\D/g, '').slice(0, 12);
    const hash = createHmac('sha256', m.sharedKey).update(`${m.mailbox}:${nonce}:0:${m.password}:${ts}`).digest('hex');
    return { authorization: `NHSMESH ${m.mailbox}:${nonce}:0:${ts}:${hash}` };
  }

  async function send(c: SpineCall, upstreamRequestId: string): Promise<OutboundResponse> {
    const base = nhs.bases[c.api];
    if (!base) throw upstreamUnavailable('nhs', c.api === 'mesh' ? 'MESH is not configured on this hub' : 'NHS is not configured on this hub (CONNECTORS_DISABLED names nhs)', { notConfigured: true });
    const auth = c.api === 'mesh' ? meshAuthorization() : await authorization();
    const headers: Record<string, string> = {
      accept: c.api === 'mesh' ? 'application/vnd.mesh.v2+json' : 'application/fhir+json',
      'x-request-id': upstreamRequestId,
      ...(c.ctx.requestId ? { 'x-correlation-id': c.ctx.requestId } : {}),
      ...auth,
      ...c.headers,
    };
    return rt.http.request(`nhs.${c.api}`, {
      method: c.method,
      url: base + c.path,
      headers,
      body: c.body,
      timeoutMs: rt.config.nhs.timeoutMs,
      // MESH authenticates the mailbox's TLS client certificate as well as the NHSMESH header.
      ...(c.api === 'mesh' && rt.config.nhs.meshTls ? { tls: rt.config.nhs.meshTls } : {}),
      beforeAttempt: takeSlot,
    });
  }

  return {
    async call(c: SpineCall): Promise<OutboundResponse> {
      const upstreamRequestId = randomUUID();
      const started = performance.now();
      const base = {
        organisationId: principalOf(c.ctx).organisationId,
        api: c.api,
        operation: c.operation,
        nhsNumber: c.nhsNumber,
        residentId: c.residentId ?? null,
        homeId: c.homeId ?? null,
        ...(c.purpose ? { purpose: c.purpose } : {}),
        actor: c.ctx.actor ?? 'anonymous',
        requestId: c.ctx.requestId,
        upstreamRequestId,
      };
      try {
        let res = await send(c, upstreamRequestId);
        if (res.status === 401 && c.api !== 'mesh' && nhs.tokenUrl) {
          // The platform no longer accepts the cached token (expired early or revoked): one fresh token, one retry.
          rt.auth.invalidate('nhs');
          res = await send(c, upstreamRequestId);
        }
        await record({ ...base, outcome: res.status < 400 ? 'OK' : `HTTP_${res.status}`, httpStatus: res.status, latencyMs: Math.round(performance.now() - started) });
        return res;
      } catch (err) {
        const outcome = isHubError(err) ? err.code : 'ERROR';
        await record({ ...base, outcome, latencyMs: Math.round(performance.now() - started) }).catch(() => undefined);
        throw err;
      }
    },
    breakerState: (api: NhsApiName) => rt.http.breakerState(`nhs.${api}`),
  };
}

export type SpineClient = ReturnType<typeof createSpineClient>;
