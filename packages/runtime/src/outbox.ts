import { asc, inArray } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Db } from './db.ts';
import type { Logger } from './logger.ts';
import { internalFetch, servicePrincipal, type InternalKeys } from './tenancy.ts';

/** An event a subgraph announces about its own state change. */
export interface OutboxEvent {
  /** The organisation whose record changed: the event is theirs, seen only by their clients. */
  organisationId: string;
  homeId?: string | null;
  /** The pseudonymous resident the event concerns (never the NHS number). */
  residentId?: string | null;
  type: string;
  source: string;
  payload: Record<string, unknown>;
  correlationId?: string | null;
  systemId?: string | null;
  integrationId?: string | null;
}

/** Appends events to the hub's event log; the same idempotency key twice appends once. */
export interface EventPublisher {
  publish(events: Array<OutboxEvent & { idempotencyKey: string }>): Promise<void>;
}

/**
 * An outbox row. Its id is a UUIDv7, increasing within the process even inside one millisecond: rows written by one
 * transaction share its `created_at`, so the relay's order (created_at, id) is the order they were written in.
 */
export const outboxRow = (e: OutboxEvent) => ({ id: uuidv7(), correlationId: null, systemId: null, integrationId: null, homeId: null, residentId: null, ...e });

/**
 * Publishes to an events subgraph in another process, through its GraphQL API, signed as the hub itself: only a
 * service principal may hand over events of the hub's reserved types, each with its own organisation.
 */
export function remotePublisher(url: string, keys: InternalKeys | undefined): EventPublisher {
  return {
    async publish(events) {
      const res = await internalFetch(keys, servicePrincipal('', 'hub.outbox'), 'events', url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation($i: [PublishEventInput!]!) { publishEvents(inputs: $i) { duplicate } }', variables: { i: events } }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { errors?: Array<{ message: string }> };
      if (!res.ok || body.errors?.length) throw new Error(`events subgraph refused the outbox batch: ${body.errors?.[0]?.message ?? res.status}`);
    },
  };
}

// Any outbox table made by drizzle's outboxTable(); typed loosely so the runtime does not depend on the table package.
type OutboxTable = any;

/**
 * Moves a subgraph's outbox into the event log: read a batch, publish it keyed by the outbox row ids, delete it.
 * Several relays (processes) may race on a batch; the keys make the log take each event once, so it is
 * exactly-once in the log and at-least-once work. Nothing is held open across the publish, which also keeps
 * embedded PGlite (one connection) from waiting on itself.
 */
export function createOutboxRelay(o: { name: string; db: Db; table: OutboxTable; publisher: () => EventPublisher | undefined; log: Logger; pollMs?: number }) {
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function relay() {
    const publisher = o.publisher();
    if (!publisher) return;
    for (;;) {
      const rows = await o.db.select().from(o.table).orderBy(asc(o.table.createdAt), asc(o.table.id)).limit(500);
      if (!rows.length) return;
      await publisher.publish(
        rows.map((r: any) => ({
          organisationId: r.organisationId,
          homeId: r.homeId,
          residentId: r.residentId,
          type: r.type,
          source: r.source,
          payload: r.payload,
          correlationId: r.correlationId,
          systemId: r.systemId,
          integrationId: r.integrationId,
          idempotencyKey: `outbox:${r.id}`,
        })),
      );
      await o.db.delete(o.table).where(inArray(o.table.id, rows.map((r: any) => r.id)));
      if (rows.length < 500) return;
    }
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = relay()
      .catch((err) => o.log.warn({ err, outbox: o.name }, 'outbox relay failed; it will retry'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  return {
    kick,
    start() {
      timer = setInterval(kick, o.pollMs ?? 1000).unref();
      kick();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
