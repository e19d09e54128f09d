import { randomUUID } from 'node:crypto';
import { systemsOutbox } from '@hub/db';
import { badInput, conflict, createOutboxRelay, DEFAULT_ORGANISATION, deterministicUuid, isHubError, isUuid, notFound, uniqueViolation, type EventPublisher, type HubRuntime, type OutboxEvent, type SystemDirectory, type SystemSession } from '@hub/runtime';
import type { AuthConfig, Credentials } from '@hub/runtime';
import { createSystemsStore, type HealthOutcome, type SystemFilter, type SystemRow } from './store.ts';

export const SYSTEM_TYPES = ['NHS', 'HMRC', 'BANK', 'REGULATOR', 'LOCAL_AUTHORITY', 'INSURER', 'PROFESSIONAL_BODY', 'CARE_PLATFORM', 'GENERIC_REST'] as const;
const HEALTH_QUEUE = 'systems.health-check';

export interface RegisterSystemInput {
  name: string;
  type: string;
  endpoint: string;
  healthPath?: string | null;
  authentication: { kind: AuthConfig['kind']; header?: string | null; tokenUrl?: string | null; scope?: string | null; keyId?: string | null };
  capabilities?: string[] | null;
  dataFormats?: string[] | null;
  rateLimits?: Array<{ requests: number; perSeconds: number; scope?: string | null }> | null;
  configuration?: Record<string, unknown> | null;
}

export interface ConnectionResult {
  system: SystemRow;
  connected: boolean;
  status: string;
  latencyMs: number | null;
  httpStatus: number | null;
  error: string | null;
  checkedAt: Date;
}

/** Stored authentication config: the non-secret half of how the hub authenticates to a system. */
export type StoredAuth = { kind: AuthConfig['kind']; header?: string; tokenUrl?: string; scope?: string; keyId?: string };

export function createSystemsService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createSystemsStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'systems' });
  const relay = createOutboxRelay({ name: 'systems', db: rt.database.db, table: systemsOutbox, publisher, log });
  const announce = (type: string, s: SystemRow, payload: Record<string, unknown>): OutboxEvent => ({
    organisationId: s.organisationId,
    type,
    source: 'hub.systems',
    systemId: s.id,
    payload: { systemId: s.id, name: s.name, status: s.status, ...payload },
  });

  function toAuthConfig(a: StoredAuth): AuthConfig {
    switch (a.kind) {
      case 'API_KEY':
        return { kind: 'API_KEY', header: a.header };
      case 'OAUTH2_CLIENT_CREDENTIALS':
        return { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: a.tokenUrl!, scope: a.scope };
      case 'JWT_CLIENT_ASSERTION':
        return { kind: 'JWT_CLIENT_ASSERTION', tokenUrl: a.tokenUrl!, kid: a.keyId, scope: a.scope };
      default:
        return { kind: a.kind } as AuthConfig;
    }
  }

  function validUrl(field: string, value: string): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw badInput(`${field} is not a valid URL`, { field });
    }
    rt.guard.assertUrlAllowed(url.toString());
    return url.toString().replace(/\/$/, '');
  }

  /** The organisation's system; another organisation's is NOT_FOUND, like one that does not exist. */
  async function get(org: string, id: string): Promise<SystemRow> {
    const row = isUuid(id) ? await store.byId(org, id) : undefined;
    if (!row) throw notFound('external system', id);
    return row;
  }

  async function sealedCredentials(system: SystemRow): Promise<Credentials | undefined> {
    const c = await store.credentials(system.organisationId, system.id);
    return c ? rt.vault.openJson<Credentials>(c.sealed, system.id) : undefined;
  }

  /** Authenticates, then calls the health path. Network and auth failures become an outcome, not an exception. */
  async function probe(system: SystemRow, creds: Credentials, trigger: string): Promise<HealthOutcome> {
    const at = new Date();
    const started = performance.now();
    try {
      const { headers, tls } = await rt.auth.authorize(system.id, toAuthConfig(system.authentication as StoredAuth), creds);
      const res = await rt.http.request(system.id, {
        method: 'GET',
        url: system.endpoint + system.healthPath,
        headers: { accept: 'application/json', ...headers },
        tls,
        retry: false,
        timeoutMs: Math.min(rt.config.outboundTimeoutMs, 5_000),
      });
      const latencyMs = Math.round(res.durationMs);
      if (res.status >= 200 && res.status < 300) {
        return { ok: true, latencyMs, httpStatus: res.status, error: null, status: 'CONNECTED', trigger, connected: true, at };
      }
      const authFailed = res.status === 401 || res.status === 403;
      return {
        ok: false,
        latencyMs,
        httpStatus: res.status,
        error: `health check answered HTTP ${res.status}`,
        status: authFailed ? 'AUTH_FAILED' : 'UNREACHABLE',
        trigger,
        connected: false,
        at,
      };
    } catch (err) {
      if (isHubError(err) && (err.code === 'BAD_USER_INPUT' || err.code === 'OUTBOUND_REFUSED')) throw err;
      const latencyMs = Math.round(performance.now() - started);
      const message = isHubError(err) ? err.message : 'unexpected error';
      if (!isHubError(err)) log.error({ err, systemId: system.id }, 'health probe failed unexpectedly');
      const status = isHubError(err) && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN') ? 'AUTH_FAILED' : 'UNREACHABLE';
      return { ok: false, latencyMs, httpStatus: null, error: message, status, trigger, connected: false, at };
    }
  }

  async function scheduleHealthCheck(organisationId: string, systemId: string, after = new Date(Date.now() + rt.config.healthCheckIntervalSeconds * 1000)) {
    // One job per system and slot: a second scheduler (another process, a retry) sending the same slot is a no-op.
    const slot = Math.floor(after.getTime() / 1000 / rt.config.healthCheckIntervalSeconds);
    await rt.jobs.send(HEALTH_QUEUE, { organisationId, systemId }, { startAfter: after, id: deterministicUuid('health', systemId, String(slot)) });
  }

  const service = {
    async register(org: string, input: RegisterSystemInput): Promise<SystemRow> {
      const name = input.name.trim();
      if (name.length === 0 || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
      const endpoint = validUrl('endpoint', input.endpoint);
      const healthPath = input.healthPath ?? '/health';
      if (!healthPath.startsWith('/')) throw badInput('healthPath must start with /', { field: 'healthPath' });
      const a = input.authentication;
      const auth: StoredAuth = { kind: a.kind };
      if (a.kind === 'API_KEY' && a.header) {
        if (!/^[A-Za-z0-9-]{1,100}$/.test(a.header)) throw badInput('authentication.header is not a valid header name', { field: 'authentication.header' });
        auth.header = a.header;
      }
      if (a.kind === 'OAUTH2_CLIENT_CREDENTIALS' || a.kind === 'JWT_CLIENT_ASSERTION') {
        if (!a.tokenUrl) throw badInput(`authentication.tokenUrl is required for ${a.kind}`, { field: 'authentication.tokenUrl' });
        auth.tokenUrl = validUrl('authentication.tokenUrl', a.tokenUrl);
        if (a.scope) auth.scope = a.scope;
        if (a.keyId) auth.keyId = a.keyId;
      }
      for (const r of input.rateLimits ?? []) {
        if (r.requests < 1 || r.perSeconds < 1) throw badInput('rate limits need requests >= 1 and perSeconds >= 1', { field: 'rateLimits' });
      }
      if (await store.byName(org, name)) throw conflict(`an external system named "${name}" already exists`, { field: 'name' });
      let row: SystemRow;
      try {
        row = await store.insert(
          org,
          {
            id: randomUUID(),
            name,
            type: input.type,
            endpoint,
            healthPath,
            authentication: auth,
            capabilities: [...new Set(input.capabilities ?? [])],
            dataFormats: [...new Set(input.dataFormats ?? [])],
            rateLimits: (input.rateLimits ?? []).map((r) => ({ requests: r.requests, perSeconds: r.perSeconds, ...(r.scope ? { scope: r.scope } : {}) })),
            configuration: input.configuration ?? {},
            status: 'REGISTERED',
          },
          (r) => announce('system.registered', r, { type: r.type, endpoint: r.endpoint }),
        );
      } catch (err) {
        // Two registrations racing for one name: the unique index decides.
        if (uniqueViolation(err)) {
          throw conflict(`an external system named "${name}" already exists`, { field: 'name' });
        }
        throw err;
      }
      relay.kick();
      return row;
    },
    get,
    byIds: (org: string, ids: readonly string[]) => store.byIds(org, ids.filter(isUuid)),
    list: (org: string, f?: SystemFilter) => store.list(org, f),
    healthHistory: (org: string, id: string, last: number) => store.healthHistory(org, id, Math.max(1, Math.min(last, 500))),
    /** For each id, whether credentials are stored. */
    hasCredentials: async (org: string, ids: readonly string[]) => {
      const set = await store.credentialed(org, ids);
      return ids.map((id) => set.has(id));
    },

    async connect(org: string, systemId: string, credentials: Credentials): Promise<ConnectionResult> {
      const system = await get(org, systemId);
      const creds = Object.fromEntries(Object.entries(credentials).filter(([, v]) => v != null && v !== '')) as Credentials;
      const outcome = await probe(system, creds, 'CONNECT');
      const sealed = outcome.connected ? sealWithKeyId(rt.vault.seal(creds, system.id)) : undefined;
      const row = await store.recordHealth(org, system.id, outcome, sealed, false, (_before, after) =>
        announce(outcome.connected ? 'system.connected' : 'system.connection_failed', after, {
          status: outcome.status,
          latencyMs: outcome.latencyMs,
          httpStatus: outcome.httpStatus,
          error: outcome.error,
        }),
      );
      if (!row) throw notFound('external system', systemId); // deleted while the handshake ran
      relay.kick();
      if (outcome.connected) await scheduleHealthCheck(org, system.id);
      log.info({ organisationId: org, systemId, status: outcome.status, latencyMs: outcome.latencyMs }, 'connect handshake');
      return { system: row, connected: outcome.connected, status: outcome.status, latencyMs: outcome.latencyMs, httpStatus: outcome.httpStatus, error: outcome.error, checkedAt: outcome.at };
    },

    async disconnect(org: string, systemId: string): Promise<SystemRow> {
      if (!isUuid(systemId)) throw notFound('external system', systemId);
      const row = await store.disconnect(org, systemId, (r) => announce('system.disconnected', r, {}));
      if (!row) throw notFound('external system', systemId);
      relay.kick();
      return row;
    },

    /** A health check with the stored credentials; the scheduled job and `checkSystemHealth` both come here. */
    async checkHealth(org: string, systemId: string, trigger: 'SCHEDULE' | 'MANUAL'): Promise<SystemRow> {
      const system = await get(org, systemId);
      const creds = await sealedCredentials(system);
      if (!creds) throw conflict(`external system ${systemId} is not connected`, { id: systemId, status: system.status });
      const outcome = await probe(system, creds, trigger);
      // A failed check keeps the credentials and the schedule: the system may come back.
      // Only a change of status is news; a check that finds things as they were is in the health history.
      const row = await store.recordHealth(org, system.id, { ...outcome, connected: outcome.ok }, undefined, true, (before, after) =>
        before.status !== after.status ? announce('system.status_changed', after, { from: before.status, to: after.status, error: outcome.error }) : undefined,
      );
      if (!row) throw notFound('external system', systemId);
      relay.kick();
      return row;
    },

    /** Authenticates with the stored credentials; used to sync data from the system. */
    async openSession(org: string, systemId: string): Promise<SystemSession> {
      const system = await get(org, systemId);
      const auth = system.authentication as StoredAuth;
      const creds = await sealedCredentials(system);
      if (!creds && auth.kind !== 'NONE') throw conflict(`external system ${system.name} is not connected`, { id: systemId, status: system.status });
      const { headers, tls } = await rt.auth.authorize(system.id, toAuthConfig(auth), creds ?? {});
      return { systemId: system.id, name: system.name, baseUrl: system.endpoint, headers, tls };
    },

    /** Re-encrypts every stored credential under the vault's active key (run after adding a new key). */
    async rotateCredentials(): Promise<number> {
      let n = 0;
      for (const c of await store.credentialsOfEveryOrganisation()) {
        if (!rt.vault.needsRotation(c.sealed)) continue;
        const next = sealWithKeyId(rt.vault.reseal(c.sealed, c.systemId));
        await store.replaceSealed(c.organisationId, c.systemId, next.sealed, next.keyId);
        n++;
      }
      return n;
    },

    stop: () => relay.stop(),

    async startWorkers() {
      relay.start();
      await rt.jobs.define<{ organisationId?: string; systemId: string }>(
        HEALTH_QUEUE,
        async ({ organisationId, systemId }) => {
          // The check acts with the organisation of the system it was queued for; a job queued before organisations
          // existed can only be for the default one (every older row went there).
          const org = organisationId ?? DEFAULT_ORGANISATION;
          const system = await store.byId(org, systemId);
          if (!system || !(await store.credentials(org, systemId))) return; // disconnected or gone: the chain ends here
          try {
            await service.checkHealth(org, systemId, 'SCHEDULE');
          } finally {
            await scheduleHealthCheck(org, systemId);
          }
        },
        { retryLimit: 1 },
      );
      // After a restart, every connected system has its next check queued (a no-op where one already is).
      for (const c of await store.connectedOfEveryOrganisation()) await scheduleHealthCheck(c.organisationId, c.systemId);
    },
  };
  return service;
}

export type SystemsService = ReturnType<typeof createSystemsService>;

/** What the integrations subgraph may ask of systems: existence, and an authenticated session to sync with. */
export function systemDirectory(service: SystemsService): SystemDirectory {
  return {
    async exists(org, id) {
      return (await service.byIds(org, [id])).length === 1;
    },
    openSession: (org, id) => service.openSession(org, id),
  };
}

/** The vault's format is `v1.<keyId>.<iv>.<tag>.<ciphertext>`; the key id is kept beside it to find rows to rotate. */
function sealWithKeyId(sealed: string) {
  return { sealed, keyId: sealed.split('.')[1] ?? '' };
}
