import { and, asc, eq, gt, gte, inArray, like, lte, or, sql, type SQL } from 'drizzle-orm';
import { events, eventsHead, type Schema } from '@hub/db';
import type { Db } from '@hub/runtime';

export type EventRow = typeof events.$inferSelect;
export type NewEvent = Omit<typeof events.$inferInsert, 'sequence'>;
/** What became of one event of an appended batch: appended, or a duplicate of the first event with its idempotency key. */
export interface AppendResult {
  event: EventRow;
  duplicate: boolean;
}

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

/** The columns an append writes besides `sequence`, as keys of the JSON it sends (`NewEvent` fields) and their SQL types. */
const COLUMNS = [
  ['id', 'id', 'uuid'],
  ['type', 'type', 'text'],
  ['source', 'source', 'text'],
  ['destination', 'destination', 'text'],
  ['payload', 'payload', 'jsonb'],
  ['timestamp', 'timestamp', 'timestamptz'],
  ['correlationId', 'correlation_id', 'text'],
  ['causationId', 'causation_id', 'text'],
  ['metadata', 'metadata', 'jsonb'],
  ['status', 'status', 'text'],
  ['idempotencyKey', 'idempotency_key', 'text'],
  ['systemId', 'system_id', 'uuid'],
  ['integrationId', 'integration_id', 'uuid'],
] as const;

/**
 * One statement per batch, whatever its size: the rows travel as one JSON parameter (no per-row parameters, so
 * no 65,535-parameter limit, and nothing for the query builder to do per row). Its CTE advances the head and
 * locks it until commit, so sequences stay gap-free and commit in order; it returns the head as it was before.
 */
const INSERT_BATCH = (rowsJson: string, count: number) => sql`
  with h as (update ${eventsHead} set "last" = "last" + ${count} where "id" = 1 returning "last" - ${count} as prev),
  ins as (
    insert into ${events} ("sequence", ${sql.raw(COLUMNS.map(([, c]) => `"${c}"`).join(', '))})
    select h.prev + t.ord, ${sql.raw(COLUMNS.map(([k]) => `t."${k}"`).join(', '))}
    from h, rows from (json_to_recordset(${rowsJson}::json) as (${sql.raw(COLUMNS.map(([k, , t]) => `"${k}" ${t}`).join(', '))}))
      with ordinality as t(${sql.raw(COLUMNS.map(([k]) => `"${k}"`).join(', '))}, ord)
  )
  select prev::text as prev from h`;

/** Rows of `db.execute`: postgres-js answers an array, PGlite an object with `rows`. */
const resultRows = <T>(r: unknown): T[] => (Array.isArray(r) ? (r as T[]) : ((r as { rows?: T[] }).rows ?? []));

type Executor = Pick<Db<Schema>, 'execute'>;

/** Writes `rows` (everything known but the sequence) as the next sequences; sets each row's `sequence`. */
async function insertNumbered(db: Executor, rows: EventRow[]): Promise<void> {
  const json = JSON.stringify(rows); // `sequence` (0 until numbered) is not among the columns read from it
  const [r] = resultRows<{ prev: string }>(await db.execute(INSERT_BATCH(json, rows.length)));
  if (!r) throw new Error('events.head has no row 1');
  const prev = Number(r.prev);
  rows.forEach((row, i) => (row.sequence = prev + i + 1));
}

export function createEventsStore(db: Db<Schema>) {
  return {
    /**
     * Appends a batch atomically. Every writer (in any process) is serialised on the head row, so sequences are
     * gap-free and commit in order. Without idempotency keys that is one statement, and the lock is held only for
     * it and its commit; with keys, the head is locked first so they are checked race-free against the log.
     * Rows are built before any lock is taken. Returns the rows written (as built, numbered) and, per input in
     * order, its event and whether it was a duplicate.
     */
    async append(batch: NewEvent[]): Promise<{ rows: EventRow[]; results: AppendResult[] }> {
      const toRow = (e: NewEvent): EventRow => ({
        sequence: 0,
        id: e.id!,
        type: e.type,
        source: e.source,
        destination: e.destination ?? null,
        payload: e.payload,
        timestamp: e.timestamp ?? new Date(),
        correlationId: e.correlationId ?? null,
        causationId: e.causationId ?? null,
        metadata: e.metadata ?? {},
        status: e.status,
        idempotencyKey: e.idempotencyKey ?? null,
        systemId: e.systemId ?? null,
        integrationId: e.integrationId ?? null,
      });
      const built = batch.map(toRow);
      const keys = [...new Set(batch.map((e) => e.idempotencyKey).filter((k): k is string => !!k))];
      if (!keys.length) {
        if (built.length) await insertNumbered(db, built);
        return { rows: built, results: built.map((event) => ({ event, duplicate: false })) };
      }
      return db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from ${eventsHead} where "id" = 1 for update`);
        // The key's first event: one already in the log, else the first of this batch to use it.
        const byKey = new Map<string, EventRow>();
        const found = await tx.select().from(events).where(sql`${events.idempotencyKey} in (select json_array_elements_text(${JSON.stringify(keys)}::json))`);
        for (const r of found) byKey.set(r.idempotencyKey!, r);
        const rows: EventRow[] = [];
        const results = built.map((r): AppendResult => {
          const first = r.idempotencyKey ? byKey.get(r.idempotencyKey) : undefined;
          if (first) return { event: first, duplicate: true };
          if (r.idempotencyKey) byKey.set(r.idempotencyKey, r);
          rows.push(r);
          return { event: r, duplicate: false };
        });
        if (rows.length) await insertNumbered(tx, rows);
        return { rows, results };
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
