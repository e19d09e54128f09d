import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { badInput, type BusEvent, type HubRuntime } from '@hub/runtime';
import { createLiveStream, fromBus } from './live.ts';
import { createPayloadSchemas } from './payload-schemas.ts';
import { createEventsStore, type AppendResult, type EventFilter, type EventRow, type NewEvent } from './store.ts';

export const MAX_BATCH = 1000;
const MAX_PAYLOAD_BYTES = 256 * 1024;
const TYPE = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_*-]+)*$/i;
/** Live events a slow subscriber may have waiting before it falls back to reading the log. */

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
}

export type Published = AppendResult;

function validate(e: PublishInput, at: string): NewEvent {
  const field = (f: string) => (at ? `${at}.${f}` : f);
  if (!e.type || e.type.length > 200 || !TYPE.test(e.type) || e.type.includes('*')) {
    throw badInput(`${field('type')} must be a dotted name such as nhs.demographics.updated`, { field: field('type') });
  }
  if (!e.source?.trim() || e.source.length > 200) throw badInput(`${field('source')} is required (at most 200 characters)`, { field: field('source') });
  if (e.payload === undefined || e.payload === null) throw badInput(`${field('payload')} is required`, { field: field('payload') });
  // Measured as the JSON it is stored as. (The store writes rows as JSON text, so literals graphql-js built,
  // null-prototype objects, need no copy into plain ones.)
  const size = Buffer.byteLength(JSON.stringify(e.payload));
  if (size > MAX_PAYLOAD_BYTES) throw badInput(`${field('payload')} is ${size} bytes; at most ${MAX_PAYLOAD_BYTES}`, { field: field('payload') });
  if (e.idempotencyKey != null && (e.idempotencyKey.length < 1 || e.idempotencyKey.length > 200)) {
    throw badInput(`${field('idempotencyKey')} must be 1 to 200 characters`, { field: field('idempotencyKey') });
  }
  return {
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
  const schemas = createPayloadSchemas(rt.database.db);
  // Events never change, so recent ones can be served from memory (live subscribers resolve each event by id).
  const recent = new LRUCache<string, EventRow>({ max: 50_000 });
  const remember = (rows: EventRow[]) => rows.forEach((r) => recent.set(r.id, r));

  // Group commit: publishes that arrive while a batch is being written go together in the next one.
  type Waiter = { input: NewEvent[]; resolve: (r: Published[]) => void; reject: (e: unknown) => void };
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
        try {
          const { rows, results } = await store.append(take.length === 1 ? take[0]!.input : take.flatMap((w) => w.input));
          remember(rows);
          let at = 0;
          for (const w of take) {
            w.resolve(results.slice(at, at + w.input.length));
            at += w.input.length;
          }
          if (rows.length) {
            // Not awaited: the next batch need not wait for the fan-out. Publishes leave in commit order (one
            // Redis connection keeps its commands in order), and a subscriber fills any gap from the log.
            rt.bus.publish(rows as unknown as BusEvent[]).catch((err) => rt.log.warn({ err }, 'event fan-out failed; subscribers will read the log'));
            hooks.onAppended?.();
          }
        } catch (err) {
          take.forEach((w) => w.reject(err));
        }
      }
    } finally {
      writing = false;
    }
  }

  function append(input: NewEvent[]): Promise<Published[]> {
    return new Promise((resolve, reject) => {
      waiting.push({ input, resolve, reject });
      void drain();
    });
  }

  return {
    schemas,
    async publish(inputs: PublishInput[]): Promise<Published[]> {
      if (inputs.length === 0) throw badInput('at least one event is required');
      if (inputs.length > MAX_BATCH) throw badInput(`at most ${MAX_BATCH} events per request; got ${inputs.length}`);
      const rows = inputs.map((e, i) => validate(e, inputs.length > 1 ? `inputs[${i}]` : ''));
      await schemas.check(rows as Array<{ type: string; payload: unknown }>, (i) => (inputs.length > 1 ? `inputs[${i}].` : ''));
      return append(rows);
    },

    head: () => store.head(),

    async history(filter: EventFilter, first: number, after?: string | null) {
      if (first < 1 || first > 1000) throw badInput('first must be 1 to 1000', { field: 'first' });
      if (after != null && !/^\d+$/.test(after)) throw badInput('after is not a cursor of this list', { field: 'after' });
      const rows = await store.range(filter, after ? Number(after) : 0, null, first + 1);
      const page = rows.slice(0, first);
      return { events: page, endCursor: rows.length > first ? String(page.at(-1)!.sequence) : null };
    },

    async byIds(ids: readonly string[]): Promise<Array<EventRow | null>> {
      const missing = ids.filter((id) => !recent.has(id));
      if (missing.length) remember(await store.byIds(missing));
      return ids.map((id) => recent.get(id) ?? null);
    },

    /**
     * The events matching `filter` after `fromSequence` (or from now), then live, in order, each once (see live.ts).
     */
    stream: createLiveStream({
      log: store,
      bus: rt.bus,
      pollMs: rt.config.eventsLogPollMs,
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
