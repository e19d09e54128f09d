import { randomUUID } from 'node:crypto';
import cronParser from 'cron-parser';
import { integrationsOutbox } from '@hub/db';
import { badInput, createOutboxRelay, DEFAULT_ORGANISATION, deterministicUuid, isHubError, isUuid, notFound, upstreamError, type EventPublisher, type HubRuntime, type OutboxEvent, type SystemDirectory } from '@hub/runtime';
import { createIntegrationsStore, type IntegrationRow, type SyncRunRow } from './store.ts';

const SYNC_QUEUE = 'integrations.sync';
const SCHEDULE_QUEUE = 'integrations.scheduled-sync';
const MAX_PAGE_SIZE = 1000;

export interface RestResource {
  path: string;
  pagination: 'CURSOR' | 'OFFSET' | 'NONE';
  pageSize: number;
  dataField: string;
  nextCursorField: string;
  totalField: string;
  cursorParam: string;
  limitParam: string;
  offsetParam: string;
  idField: string;
  maxPages: number;
}

export interface Schedule {
  cron: string;
  timezone: string;
  enabled: boolean;
}

export interface CreateIntegrationInput {
  externalSystemId: string;
  name: string;
  description?: string | null;
  resource: RestResource;
  syncSchedule?: Schedule | null;
  configuration?: Record<string, unknown> | null;
}

function nextFire(s: Schedule, after = new Date()): Date {
  return cronParser.parseExpression(s.cron, { tz: s.timezone, currentDate: after }).next().toDate();
}

function validSchedule(s: Schedule | null | undefined): Schedule | null {
  if (!s) return null;
  try {
    nextFire(s);
  } catch (err) {
    throw badInput(`syncSchedule is not a valid cron expression or timezone: ${(err as Error).message}`, { field: 'syncSchedule' });
  }
  return { cron: s.cron.trim(), timezone: s.timezone, enabled: s.enabled };
}

function validResource(r: RestResource): RestResource {
  if (!r.path.startsWith('/') || r.path.startsWith('//') || /[\s#]/.test(r.path)) {
    throw badInput('resource.path must be a path on the system, starting with /', { field: 'resource.path' });
  }
  if (r.pageSize < 1 || r.pageSize > MAX_PAGE_SIZE) throw badInput(`resource.pageSize must be 1 to ${MAX_PAGE_SIZE}`, { field: 'resource.pageSize' });
  if (r.maxPages < 1 || r.maxPages > 100_000) throw badInput('resource.maxPages must be 1 to 100000', { field: 'resource.maxPages' });
  for (const f of ['dataField', 'idField', 'cursorParam', 'limitParam', 'offsetParam'] as const) {
    if (!r[f]) throw badInput(`resource.${f} must not be empty`, { field: `resource.${f}` });
  }
  return r;
}

/** Reads a dotted path (`data.items`) from a JSON body. */
function pick(body: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), body);
}

export function createIntegrationsService(rt: HubRuntime, directory: () => SystemDirectory, publisher: () => EventPublisher | undefined) {
  const store = createIntegrationsStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'integrations' });
  const relay = createOutboxRelay({ name: 'integrations', db: rt.database.db, table: integrationsOutbox, publisher, log });
  const announceRun = (type: string, i: IntegrationRow, r: SyncRunRow): OutboxEvent => ({
    organisationId: i.organisationId,
    type,
    source: 'hub.integrations',
    systemId: i.externalSystemId,
    integrationId: i.id,
    correlationId: r.id,
    payload: {
      integrationId: i.id,
      runId: r.id,
      trigger: r.trigger,
      status: r.status,
      pages: r.pages,
      recordsStored: r.recordsStored,
      durationMs: r.durationMs,
      error: r.error,
    },
  });

  /** The organisation's integration; another organisation's is NOT_FOUND, like one that does not exist. */
  async function get(org: string, id: string): Promise<IntegrationRow> {
    const row = isUuid(id) ? await store.byId(org, id) : undefined;
    if (!row) throw notFound('integration', id);
    return row;
  }

  /** Queues the next scheduled fire; the job id is derived from the fire time, so sending it twice is harmless. */
  async function queueNextFire(i: IntegrationRow) {
    const s = i.syncSchedule;
    if (!s?.enabled) return;
    const at = nextFire(s);
    await rt.jobs.send(SCHEDULE_QUEUE, { organisationId: i.organisationId, integrationId: i.id, version: i.scheduleVersion, at: at.toISOString() }, {
      startAfter: at,
      id: deterministicUuid('sync-schedule', i.id, String(i.scheduleVersion), at.toISOString()),
    });
  }

  /**
   * Records a run and queues it. With an idempotency key (an event rule's action for one event) the run's id is
   * derived from the key, so a retried or doubly claimed action finds the run it already made: one sync per key.
   * The job id is the run id, so a crash between the two steps is healed by the retry without a second job.
   * The key is the organisation's own: the run id is derived from both, so two organisations' keys never meet.
   */
  async function queueRun(i: IntegrationRow, trigger: 'MANUAL' | 'SCHEDULE' | 'EVENT', config: Record<string, unknown>, idempotencyKey?: string): Promise<SyncRunRow> {
    const org = i.organisationId;
    const id = idempotencyKey ? deterministicUuid('sync-run', org, idempotencyKey) : randomUUID();
    const run = idempotencyKey
      ? await store.createRunOnce(org, { id, integrationId: i.id, trigger, status: 'QUEUED', config })
      : await store.createRun(org, { id, integrationId: i.id, trigger, status: 'QUEUED', config });
    if (!run) throw notFound('integration', i.id);
    await rt.jobs.send(SYNC_QUEUE, { organisationId: org, runId: run.id }, { id: run.id });
    return run;
  }

  /** Pulls the resource page by page with the system's own authentication and stores what arrives. */
  async function runSync(org: string, runId: string) {
    const queued = await store.runById(org, runId);
    if (!queued) return;
    const integration = await store.byId(org, queued.integrationId);
    if (!integration) return; // deleted since it was queued
    const run = await store.startRun(org, runId, new Date(), (r) => announceRun('sync.started', integration, r));
    relay.kick();
    if (!run) return; // already finished (a duplicate delivery)
    const r = integration.resource as unknown as RestResource;
    const maxPages = Math.min(r.maxPages, Number((run.config as { maxPages?: number }).maxPages ?? r.maxPages));
    try {
      // The system is reached as the integration's organisation: only its own systems answer.
      const session = await directory().openSession(org, integration.externalSystemId);
      await store.log(org, run, { level: 'INFO', message: `sync started from ${session.name}${r.path}`, data: { pagination: r.pagination } });
      let cursor: string | null = null;
      let offset = 0;
      for (let page = 1; page <= maxPages; page++) {
        const url = new URL(session.baseUrl + r.path);
        if (r.pagination !== 'NONE') url.searchParams.set(r.limitParam, String(r.pageSize));
        if (r.pagination === 'CURSOR' && cursor) url.searchParams.set(r.cursorParam, cursor);
        if (r.pagination === 'OFFSET') url.searchParams.set(r.offsetParam, String(offset));
        const res = await rt.http.request(integration.externalSystemId, {
          method: 'GET',
          url: url.toString(),
          headers: { accept: 'application/json', ...session.headers },
          tls: session.tls,
        });
        if (res.status < 200 || res.status >= 300) throw upstreamError(session.name, `answered HTTP ${res.status} for page ${page}`, { status: res.status });
        let body: unknown;
        try {
          body = res.json();
        } catch {
          throw upstreamError(session.name, `sent a body that is not JSON on page ${page}`);
        }
        const items = pick(body, r.dataField);
        if (!Array.isArray(items)) throw upstreamError(session.name, `the response has no array at "${r.dataField}" on page ${page}`);
        const records: Array<{ externalId: string; data: Record<string, unknown> }> = [];
        let skipped = 0;
        for (const item of items) {
          const id = item && typeof item === 'object' ? pick(item, r.idField) : undefined;
          if (typeof id === 'string' || typeof id === 'number') records.push({ externalId: String(id), data: item as Record<string, unknown> });
          else skipped++;
        }
        await store.storePage(org, run, records, {
          level: skipped ? 'WARN' : 'INFO',
          message: `page ${page}: ${records.length} records stored${skipped ? `, ${skipped} without "${r.idField}" skipped` : ''}`,
          data: { page, received: items.length, stored: records.length, skipped },
        }, skipped);
        if (r.pagination === 'NONE' || items.length === 0) break;
        if (r.pagination === 'CURSOR') {
          const next = pick(body, r.nextCursorField);
          if (next == null || next === '') break;
          cursor = String(next);
        } else {
          offset += items.length;
          const total = pick(body, r.totalField);
          if ((typeof total === 'number' && offset >= total) || items.length < r.pageSize) break;
        }
        if (page === maxPages) await store.log(org, run, { level: 'WARN', message: `stopped at maxPages (${maxPages})` });
      }
      const done = (await store.runById(org, run.id))!;
      await store.finishRun(
        org,
        done,
        true,
        null,
        new Date(),
        { level: 'INFO', message: `sync succeeded: ${done.recordsStored} records in ${done.pages} pages` },
        (r) => announceRun('sync.succeeded', integration, r),
      );
      relay.kick();
    } catch (err) {
      const message = isHubError(err) ? err.message : 'unexpected error';
      if (!isHubError(err)) log.error({ err, organisationId: org, runId }, 'sync failed unexpectedly');
      const current = (await store.runById(org, run.id)) ?? run;
      await store.finishRun(org, current, false, message, new Date(), { level: 'ERROR', message: `sync failed: ${message}` }, (r) => announceRun('sync.failed', integration, r));
      relay.kick();
    }
  }

  const service = {
    get,
    byIds: (org: string, ids: readonly string[]) => store.byIds(org, ids.filter(isUuid)),
    list: (org: string, f: { externalSystemId?: string | null; status?: string | null } = {}) =>
      f.externalSystemId && !isUuid(f.externalSystemId) ? Promise.resolve([]) : store.list(org, f),
    bySystems: (org: string, ids: readonly string[]) => store.bySystems(org, ids.filter(isUuid)),
    runs: (org: string, id: string, first: number) => store.runs(org, id, Math.max(1, Math.min(first, 500))),
    run: async (org: string, id: string) => (isUuid(id) ? store.runById(org, id) : undefined),
    logs: (org: string, id: string, first: number, runId?: string | null) =>
      runId && !isUuid(runId) ? Promise.resolve([]) : store.logs(org, id, Math.max(1, Math.min(first, 1000)), runId),
    runLogs: (org: string, runId: string, first: number) => store.runLogs(org, runId, Math.max(1, Math.min(first, 1000))),
    records: (org: string, id: string, first: number, after?: string | null) => store.records(org, id, Math.max(1, Math.min(first, 500)), after),
    nextRunAt: (s: Schedule | null) => (s?.enabled ? nextFire(s) : null),

    async create(org: string, input: CreateIntegrationInput): Promise<IntegrationRow> {
      const name = input.name.trim();
      if (!name || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
      const resource = validResource(input.resource);
      const schedule = validSchedule(input.syncSchedule);
      // Only the organisation's own systems: another organisation's system is not found, like one that does not exist.
      if (!isUuid(input.externalSystemId) || !(await directory().exists(org, input.externalSystemId))) throw notFound('external system', input.externalSystemId);
      const row = await store.insert(
        org,
        {
        id: randomUUID(),
        externalSystemId: input.externalSystemId,
        name,
        description: input.description ?? null,
        kind: 'REST_PULL',
        resource: resource as unknown as Record<string, unknown>,
        syncSchedule: schedule,
        configuration: input.configuration ?? {},
        status: 'ACTIVE',
        },
        (r) => ({
          organisationId: r.organisationId,
          type: 'integration.created',
          source: 'hub.integrations',
          systemId: r.externalSystemId,
          integrationId: r.id,
          payload: { integrationId: r.id, name: r.name, externalSystemId: r.externalSystemId },
        }),
      );
      relay.kick();
      await queueNextFire(row);
      return row;
    },

    async setSchedule(org: string, integrationId: string, schedule: Schedule | null | undefined): Promise<IntegrationRow> {
      await get(org, integrationId);
      const row = await store.setSchedule(org, integrationId, validSchedule(schedule));
      if (!row) throw notFound('integration', integrationId);
      await queueNextFire(row);
      return row;
    },

    async syncData(
      org: string,
      integrationId: string,
      config: { maxPages?: number | null } = {},
      trigger: 'MANUAL' | 'EVENT' = 'MANUAL',
      causationId?: string,
      idempotencyKey?: string,
    ): Promise<SyncRunRow> {
      const i = await get(org, integrationId);
      if (config.maxPages != null && config.maxPages < 1) throw badInput('config.maxPages must be at least 1', { field: 'config.maxPages' });
      return queueRun(i, trigger, { ...(config.maxPages != null ? { maxPages: config.maxPages } : {}), ...(causationId ? { causationId } : {}) }, idempotencyKey);
    },

    stop: () => relay.stop(),

    async startWorkers() {
      relay.start();
      // Each job acts with the organisation of the row it was queued for; a job queued before organisations existed
      // can only be for the default one (every older row went there).
      await rt.jobs.define<{ organisationId?: string; runId: string }>(SYNC_QUEUE, async ({ organisationId, runId }) => runSync(organisationId ?? DEFAULT_ORGANISATION, runId), {
        retryLimit: 2,
        concurrency: 2,
      });
      await rt.jobs.define<{ organisationId?: string; integrationId: string; version: number }>(
        SCHEDULE_QUEUE,
        async ({ organisationId, integrationId, version }) => {
          const i = await store.byId(organisationId ?? DEFAULT_ORGANISATION, integrationId);
          // A schedule changed since this job was queued: the new one has its own chain.
          if (!i || i.scheduleVersion !== version || !i.syncSchedule?.enabled) return;
          await queueRun(i, 'SCHEDULE', {});
          await queueNextFire(i);
        },
        { retryLimit: 3 },
      );
      for (const i of await store.scheduledOfEveryOrganisation()) await queueNextFire(i);
    },
  };
  return service;
}

export type IntegrationsService = ReturnType<typeof createIntegrationsService>;
