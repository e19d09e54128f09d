import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter, Histogram } from 'prom-client';
import { assertUuid, badInput, commitApart, forbidden, mayActForHome, TENANT_ID, type BusEvent, type HubRuntime, type Principal, type ResidentSubject } from '@hub/runtime';
import { createLiveStream, fromBus } from './live.ts';
import { createPayloadSchemas } from './payload-schemas.ts';
import { createEventsStore, joinSerialized, serializeRows, type AppendResult, type EventFilter, type EventRow } from './store.ts';
import { assertMayUse, mayRead, type EventReader } from './visibility.ts';

export const MAX_BATCH = 1000;
const MAX_PAYLOAD_BYTES = 256 * 1024;
const TYPE = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_*-]+)*$/i;

export interface PublishInput {
  type: string;
  source: string;
  destination?: string | null;
  payload: unknown;
  correlationId?: string | null;
  causationId?: string | null;
  metadata?: Record<string, unknown> | null;
  status?: string | null;
  idempotencyKey?: string | null;
  systemId?: string | null;
  integrationId?: string | null;
  /**
   * Whose event it is. Only the hub itself (a service principal: the outbox relays) names it; a client's events
   * are its own organisation's, whatever this says.
   */
  organisationId?: string | null;
  homeId?: string | null;
  /** The pseudonymous resident the event concerns (care.residents), never an NHS number. */
  residentId?: string | null;
}

export type Published = AppendResult;

/** Payload sizes measured by validate, so the cache of recent events need not serialize them again. */
const payloadBytes = new WeakMap<object, number>();
/** Bytes the cache of recent events counts for one event: its payload's JSON, plus the rest of the row. */
const rowBytes = (r: EventRow): number =>
  512 + (typeof r.payload === 'object' && r.payload !== null ? (payloadBytes.get(r.payload) ?? Buffer.byteLength(JSON.stringify(r.payload))) : 64);
/** The cache of recent events: bounded in bytes too, since one payload may be 256 KB. */
const RECENT_MAX_BYTES = 64 * 1024 * 1024;
/** How long another process may serve its copy of an event after the event was erased. */
export const RECENT_TTL_MS = 5 * 60_000;

/**
 * The event as the log will hold it (numbered when appended), or a BAD_USER_INPUT error naming the field. Who
 * publishes decides its organisation and publisher, never the input: a client's own, stamped here; the hub's
 * relays (service principals) carry each event's organisation, and only they may use the hub's reserved names.
 */
function validate(p: Principal, e: PublishInput, at: string): EventRow {
  const field = (f: string) => (at ? `${at}.${f}` : f);
  if (!e.type || e.type.length > 200 || !TYPE.test(e.type) || e.type.includes('*')) {
    throw badInput(`${field('type')} must be a dotted name such as residents.vitals.recorded`, { field: field('type') });
  }
  if (!e.source?.trim() || e.source.length > 200) throw badInput(`${field('source')} is required (at most 200 characters)`, { field: field('source') });
  if (e.payload === undefined || e.payload === null) throw badInput(`${field('payload')} is required`, { field: field('payload') });
  // Measured as the JSON it is stored as. (The store writes rows as JSON text, so literals graphql-js built,
  // null-prototype objects, need no copy into plain ones.)
  const size = Buffer.byteLength(JSON.stringify(e.payload));
  if (typeof e.payload === 'object') payloadBytes.set(e.payload as object, size);
  if (size > MAX_PAYLOAD_BYTES) throw badInput(`${field('payload')} is ${size} bytes; at most ${MAX_PAYLOAD_BYTES}`, { field: field('payload') });
  if (e.idempotencyKey != null && (e.idempotencyKey.length < 1 || e.idempotencyKey.length > 200)) {
    throw badInput(`${field('idempotencyKey')} must be 1 to 200 characters`, { field: field('idempotencyKey') });
  }
  assertMayUse(p, { type: e.type, source: e.source.trim() }, at ? `${at}.` : '');
  const organisationId = p.service ? (e.organisationId ?? p.organisationId) : p.organisationId;
  if (!organisationId || !TENANT_ID.test(organisationId)) throw badInput(`${field('organisationId')} is required for an event the hub publishes for itself`, { field: field('organisationId') });
  for (const [name, v] of [['homeId', e.homeId], ['residentId', e.residentId]] as const) {
    if (v != null && (v.length < 1 || v.length > 200)) throw badInput(`${field(name)} must be 1 to 200 characters`, { field: field(name) });
  }
  // Checked here, not left to the uuid columns: a row the database refuses would fail its whole batch's first attempt.
  for (const [name, v] of [['systemId', e.systemId], ['integrationId', e.integrationId]] as const) if (v != null) assertUuid(v, field(name));
  if (e.homeId != null && !p.service && !mayActForHome(p, e.homeId)) throw forbidden(`${p.client} may not publish for home ${e.homeId}`, { field: field('homeId') });
  return {
    organisationId,
    publisher: p.client,
    homeId: e.homeId ?? null,
    residentId: e.residentId ?? null,
    sequence: 0,
    id: randomUUID(),
    type: e.type,
    source: e.source.trim(),
    destination: e.destination ?? null,
    payload: e.payload,
    correlationId: e.correlationId ?? null,
    causationId: e.causationId ?? null,
    metadata: e.metadata ? (JSON.parse(JSON.stringify(e.metadata)) as Record<string, unknown>) : {},
    status: e.status ?? 'PUBLISHED',
    idempotencyKey: e.idempotencyKey ?? null,
    systemId: e.systemId ?? null,
    integrationId: e.integrationId ?? null,
    timestamp: new Date(),
  };
}

export function createEventsService(rt: HubRuntime, hooks: { onAppended?: () => void } = {}) {
  const store = createEventsStore(rt.database.db);
  // Payload schemas with a caller's regular expression are checked in a worker pool, under WORKER_TASK_TIMEOUT_MS.
  const schemas = createPayloadSchemas(rt.database.db, { workerPool: rt.config.workerPool, metrics: rt.metrics });
  // Events do not change once written, so recent ones can be served from memory (live subscribers resolve each event by id).
  // Erasure (eraseResident) is the one change an event sees: this process forgets the erased rows at once, and a copy
  // held by another process is served for RECENT_TTL_MS at most.
  const recent = new LRUCache<string, EventRow>({ max: 50_000, maxSize: RECENT_MAX_BYTES, sizeCalculation: rowBytes, ttl: RECENT_TTL_MS });
  const remember = (rows: EventRow[]) => rows.forEach((r) => recent.set(r.id, r));

  // What an operator needs to see of the group commit: how long a publish waits for its turn, how long a
  // commit takes, and how many events each one carries.
  const appendWait = new Histogram({
    name: 'hub_events_append_wait_seconds',
    help: 'Time a publish waits for the group commit to take it (queued behind the commit in progress)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [rt.metrics],
  });
  const appendDuration = new Histogram({
    name: 'hub_events_append_duration_seconds',
    help: 'One group commit to the event log: the statement and its durable commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [rt.metrics],
  });
  const appendEvents = new Histogram({
    name: 'hub_events_append_batch_events',
    help: 'Events written by one group commit',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
    registers: [rt.metrics],
  });

  const overflows = new Counter({
    name: 'hub_event_subscriber_overflows_total',
    help: 'Times a slow live subscriber had more than EVENTS_SUBSCRIBER_BUFFER events waiting; it then reads them from the log',
    registers: [rt.metrics],
  });

  // Group commit: publishes that arrive while a batch is being written go together in the next one.
  // `json` is the batch serialized for the append, built by its publisher, outside the commit's critical path
  // (absent when idempotency keys make the append decide which rows it writes).
  type Waiter = { input: EventRow[]; json: string | null; queued: number; resolve: (r: Published[]) => void; reject: (e: unknown) => void };
  let waiting: Waiter[] = [];
  let writing = false;
  async function drain() {
    if (writing) return;
    writing = true;
    try {
      while (waiting.length) {
        const batch = waiting;
        waiting = [];
        let count = 0;
        const take: Waiter[] = [];
        // Bound a transaction's size; the rest waits for the next round.
        while (batch.length && (count === 0 || count + batch[0]!.input.length <= MAX_BATCH * 2)) {
          const w = batch.shift()!;
          count += w.input.length;
          take.push(w);
        }
        waiting = [...batch, ...waiting];
        const started = performance.now();
        for (const w of take) appendWait.observe((started - w.queued) / 1000);
        // The append is atomic: when the database refuses a batch of several publishers, nothing of it was written,
        // and it is written again in halves until the refused publisher is alone (commitApart): the others land.
        await commitApart(
          take,
          (part) => {
            const input = part.length === 1 ? part[0]!.input : part.flatMap((w) => w.input);
            const json = part.every((w) => w.json !== null) ? joinSerialized(part.map((w) => w.json!)) : undefined;
            return store.append(input, json);
          },
          (part, outcome) => {
            if (!outcome.ok) return part.forEach((w) => w.reject(outcome.error));
            const { rows, results, json: written } = outcome.result;
            appendDuration.observe((performance.now() - started) / 1000);
            appendEvents.observe(part.reduce((n, w) => n + w.input.length, 0));
            remember(rows);
            let at = 0;
            for (const w of part) {
              w.resolve(results.slice(at, at + w.input.length));
              at += w.input.length;
            }
            if (rows.length) {
              // Not awaited: the next batch need not wait for the fan-out. Publishes leave in commit order (one
              // Redis connection keeps its commands in order), and a subscriber fills any gap from the log.
              rt.bus.publish(rows as unknown as BusEvent[], written).catch((err) => rt.log.warn({ err }, 'event fan-out failed; subscribers will read the log'));
              hooks.onAppended?.();
            }
          },
        );
      }
    } finally {
      writing = false;
    }
  }

  function append(input: EventRow[]): Promise<Published[]> {
    const json = input.some((e) => e.idempotencyKey) ? null : serializeRows(input);
    return new Promise((resolve, reject) => {
      waiting.push({ input, json, queued: performance.now(), resolve, reject });
      void drain();
    });
  }

  return {
    schemas,
    /** Appends the events as `p` publishes them (see validate): all of them, or none with the first error. */
    async publish(p: Principal, inputs: PublishInput[]): Promise<Published[]> {
      if (inputs.length === 0) throw badInput('at least one event is required');
      if (inputs.length > MAX_BATCH) throw badInput(`at most ${MAX_BATCH} events per request; got ${inputs.length}`);
      const rows = inputs.map((e, i) => validate(p, e, inputs.length > 1 ? `inputs[${i}]` : ''));
      await schemas.check(rows, (i) => (inputs.length > 1 ? `inputs[${i}].` : ''));
      return append(rows);
    },

    /** The last sequence the reader may see: where a reader that is up to date stands. */
    head: (r: EventReader) => store.headFor(r),

    async history(r: EventReader, filter: EventFilter, first: number, after?: string | null) {
      if (first < 1 || first > 1000) throw badInput('first must be 1 to 1000', { field: 'first' });
      if (after != null && !/^\d{1,15}$/.test(after)) throw badInput('after is not a cursor of this list', { field: 'after' });
      const rows = await store.range(r, filter, after ? Number(after) : 0, null, first + 1);
      const page = rows.slice(0, first);
      return { events: page, endCursor: rows.length > first ? String(page.at(-1)!.sequence) : null };
    },

    /** Subject access: the resident's events the reader may see, oldest first (at most `limit`). */
    ofResident: (r: EventReader, subject: ResidentSubject, after: number, limit: number) => store.ofResident(r, subject, after, limit),

    /** Erasure of the resident's personal data from the organisation's events (store.eraseResident); how many changed. */
    async eraseResident(org: string, subject: ResidentSubject): Promise<number> {
      const ids = await store.eraseResident(org, subject);
      for (const id of ids) recent.delete(id);
      return ids.length;
    },

    /** The events with these ids, null where there is none the reader may see (another organisation's included). */
    async byIds(r: EventReader, ids: readonly string[]): Promise<Array<EventRow | null>> {
      const missing = ids.filter((id) => !recent.has(id));
      if (missing.length) remember(await store.byIds(r.organisationId, missing));
      return ids.map((id) => {
        const e = recent.get(id);
        return e && mayRead(r, e) ? e : null;
      });
    },

    /**
     * The events matching `filter` after `fromSequence` (or from now), then live, in order, each once (see live.ts).
     */
    stream: createLiveStream({
      // The global head is enough for a stream's bookkeeping in process (one row, no scan); what it reads is the reader's.
      log: { head: () => store.head(), range: (p, f, after, upTo, limit) => store.range(p, f, after, upTo, limit) },
      bus: rt.bus,
      pollMs: rt.config.eventsLogPollMs,
      inboxLimit: rt.config.eventsSubscriberBuffer,
      onOverflow: () => overflows.inc(),
      // Live subscribers resolve each event by id: keep other processes' events at hand too. (The bus is read
      // only while something listens, so this is done here rather than by a listener of its own.)
      received: (batch) => {
        const rows = batch.map((e) => recent.get(e.id) ?? fromBus(e));
        for (const r of rows) if (!recent.has(r.id)) recent.set(r.id, r);
        return rows;
      },
    }),
  };
}

export type EventsService = ReturnType<typeof createEventsService>;
