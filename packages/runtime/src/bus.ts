import type { RedisClientType } from 'redis';
import type { Logger } from './logger.ts';

/** What the bus carries: a committed event of the log, as JSON-safe data. */
export interface BusEvent {
  sequence: number;
  id: string;
  [field: string]: unknown;
}

/**
 * Fans committed events out to every hub process for live subscribers. Postgres stays the source of truth:
 * the bus only says "these sequences are committed", and a reader that misses any fills the gap from the log.
 */
export interface EventBus {
  kind: 'redis' | 'memory';
  /**
   * Publishes committed events, in sequence order. `rowsJson`, when given, is the same events as one JSON array
   * without their `sequence` (consecutive from the first event's): the Redis bus sends that text as it is rather
   * than serializing the batch again. Keys absent from it read as absent (null) fields.
   */
  publish(events: BusEvent[], rowsJson?: string): Promise<void>;
  /** Every event published by any process, in sequence order per publisher. Returns an unsubscribe. */
  subscribe(listener: (events: BusEvent[]) => void): () => void;
  close(): Promise<void>;
}

export function memoryBus(): EventBus {
  const listeners = new Set<(e: BusEvent[]) => void>();
  return {
    kind: 'memory',
    async publish(events) {
      for (const l of listeners) l(events);
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      listeners.clear();
    },
  };
}

/** A stream entry's events: `e`, the events; or `r`, the rows without their sequences, numbered from `f`. */
function decode(m: Record<string, string>): BusEvent[] {
  if (m.e !== undefined) return JSON.parse(m.e) as BusEvent[];
  const first = Number(m.f);
  const rows = JSON.parse(m.r ?? '[]') as BusEvent[];
  rows.forEach((r, i) => (r.sequence = first + i));
  return rows;
}

/**
 * Redis Streams: one XADD per published batch (capped, approximate MAXLEN), one blocking XREAD loop per process
 * on its own connection, delivering to the local listeners. Entries are decoded only while there are listeners.
 */
export async function redisBus(client: RedisClientType, key: string, log: Logger, maxLen = 100_000): Promise<EventBus> {
  const reader = client.duplicate();
  reader.on('error', () => {});
  await reader.connect();
  const listeners = new Set<(e: BusEvent[]) => void>();
  let closed = false;
  // Read on from the newest entry, by its id: with `$` every read would start afresh and could skip entries.
  let lastId: string | undefined;
  const loop = (async () => {
    while (!closed) {
      try {
        lastId ??= (await reader.xRevRange(key, '+', '-', { COUNT: 1 }))[0]?.id ?? '0-0';
        const res = await reader.xRead({ key, id: lastId }, { BLOCK: 1000, COUNT: 1000 });
        if (!res) continue;
        for (const stream of res as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }>) {
          for (const m of stream.messages) {
            lastId = m.id;
            if (!listeners.size) continue; // e.g. a process without live subscribers: nothing to parse
            const events = decode(m.message);
            for (const l of listeners) l(events);
          }
        }
      } catch (err) {
        if (closed) break;
        log.warn({ err }, 'event bus read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();
  return {
    kind: 'redis',
    async publish(events, rowsJson) {
      if (!events.length) return;
      const entry: Record<string, string> = rowsJson ? { f: String(events[0]!.sequence), r: rowsJson } : { e: JSON.stringify(events) };
      await client.xAdd(key, '*', entry, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLen } });
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      closed = true;
      listeners.clear();
      await reader.quit().catch(() => reader.destroy());
      await loop;
    },
  };
}
