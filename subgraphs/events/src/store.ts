import { and, asc, eq, gt, gte, inArray, like, lte, or, type SQL } from 'drizzle-orm';
import { events, eventsHead, type Schema } from '@hub/db';
import type { Db } from '@hub/runtime';

export type EventRow = typeof events.$inferSelect;
export type NewEvent = Omit<typeof events.$inferInsert, 'sequence'>;

export interface EventFilter {
  /** Exact types or prefixes ending in `*` (`nhs.*`). */
  types?: string[] | null;
  source?: string | null;
  destination?: string | null;
  correlationId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

function where(f: EventFilter): SQL[] {
  const w: SQL[] = [];
  if (f.types?.length) {
    const exact = f.types.filter((t) => !t.endsWith('*'));
    const prefixes = f.types.filter((t) => t.endsWith('*')).map((t) => like(events.type, `${t.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`));
    const any = [...(exact.length ? [inArray(events.type, exact)] : []), ...prefixes];
    w.push(any.length === 1 ? any[0]! : or(...any)!);
  }
  if (f.source) w.push(eq(events.source, f.source));
  if (f.destination) w.push(eq(events.destination, f.destination));
  if (f.correlationId) w.push(eq(events.correlationId, f.correlationId));
  if (f.from) w.push(gte(events.timestamp, f.from));
  if (f.to) w.push(lte(events.timestamp, f.to));
  return w;
}

export function createEventsStore(db: Db<Schema>) {
  return {
    /**
     * Appends a batch in one transaction. The head row is locked first, so every writer (in any process) is
     * serialised on it: idempotency keys are checked race-free and sequences are gap-free and commit in order.
     */
    async append(batch: NewEvent[]): Promise<{ rows: EventRow[]; existing: Map<string, EventRow> }> {
      return db.transaction(async (tx) => {
        const [head] = await tx.select().from(eventsHead).where(eq(eventsHead.id, 1)).for('update');
        const keys = batch.map((e) => e.idempotencyKey).filter((k): k is string => !!k);
        const existing = new Map<string, EventRow>();
        if (keys.length) for (const r of await tx.select().from(events).where(inArray(events.idempotencyKey, keys))) existing.set(r.idempotencyKey!, r);
        const fresh: NewEvent[] = [];
        const seen = new Set<string>();
        for (const e of batch) {
          if (e.idempotencyKey && (existing.has(e.idempotencyKey) || seen.has(e.idempotencyKey))) continue;
          if (e.idempotencyKey) seen.add(e.idempotencyKey);
          fresh.push(e);
        }
        if (!fresh.length) return { rows: [], existing };
        const first = head!.last + 1;
        const numbered = fresh.map((e, i) => ({ ...e, sequence: first + i }));
        const rows: EventRow[] = [];
        // At most 1,000 rows per statement: PostgreSQL takes at most 65,535 parameters in one.
        for (let i = 0; i < numbered.length; i += 1000) rows.push(...(await tx.insert(events).values(numbered.slice(i, i + 1000)).returning()));
        await tx.update(eventsHead).set({ last: head!.last + fresh.length }).where(eq(eventsHead.id, 1));
        return { rows, existing };
      });
    },
    async head(): Promise<number> {
      const [h] = await db.select().from(eventsHead).where(eq(eventsHead.id, 1));
      return h?.last ?? 0;
    },
    /** Events after `after` up to `upTo` (inclusive) that match the filter, in order. */
    async range(f: EventFilter, after: number, upTo: number | null, limit: number): Promise<EventRow[]> {
      const w = [...where(f), gt(events.sequence, after)];
      if (upTo != null) w.push(lte(events.sequence, upTo));
      return db.select().from(events).where(and(...w)).orderBy(asc(events.sequence)).limit(limit);
    },
    async byIds(ids: readonly string[]): Promise<EventRow[]> {
      if (!ids.length) return [];
      return db.select().from(events).where(inArray(events.id, [...ids]));
    },
  };
}

export type EventsStore = ReturnType<typeof createEventsStore>;
