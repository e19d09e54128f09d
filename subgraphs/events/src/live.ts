import type { BusEvent, EventBus, Principal } from '@hub/runtime';
import type { EventFilter, EventRow } from './store.ts';
import { mayRead } from './visibility.ts';

/**
 * Where a live stream reads what the bus did not bring: the gap-free log, in this process or behind the events
 * subgraph, as the subscriber may see it.
 */
export interface EventLogReader {
  /** The sequence of the last committed event (at least the last one the subscriber may see). */
  head(p: Principal): Promise<number>;
  /** Up to `limit` events the subscriber may see matching `filter` after `after` and (when given) at most `upTo`, in order. */
  range(p: Principal, filter: EventFilter, after: number, upTo: number | null, limit: number): Promise<EventRow[]>;
}

const PAGE = 500;
/** How long a live subscriber waits for a missing sequence to arrive on the bus before reading it from the log. */
const GAP_WAIT_MS = 20;

export function matches(f: EventFilter, e: EventRow): boolean {
  if (f.types?.length && !f.types.some((t) => (t.endsWith('*') ? e.type.startsWith(t.slice(0, -1)) : e.type === t))) return false;
  if (f.source && e.source !== f.source) return false;
  if (f.destination && e.destination !== f.destination) return false;
  if (f.correlationId && e.correlationId !== f.correlationId) return false;
  if (f.from && e.timestamp < f.from) return false;
  if (f.to && e.timestamp > f.to) return false;
  return true;
}

/** An event as the bus carried it (JSON: a string timestamp; null fields may be absent) as the row it is in the log. */
const ABSENT_AS_NULL = { destination: null, correlationId: null, causationId: null, idempotencyKey: null, systemId: null, integrationId: null, homeId: null, residentId: null, publisher: null };
export const fromBus = (e: BusEvent): EventRow => ({ ...ABSENT_AS_NULL, metadata: {}, ...(e as unknown as Partial<EventRow>), timestamp: new Date(e.timestamp as string) }) as EventRow;

/** Whether the sequences after `last` in a sorted batch skip a number. */
function hasGap(sorted: EventRow[], last: number): boolean {
  let expect = last + 1;
  for (const e of sorted) {
    if (e.sequence < expect) continue;
    if (e.sequence > expect) return true;
    expect++;
  }
  return false;
}

/**
 * The events a subscriber may see (its organisation's, of types its scopes cover: visibility.ts) matching a filter
 * after `fromSequence` (or from now), then live, in order, each once. Live events
 * come from the bus; any gap (a lost or late bus message, another process's batch) and any overflow of a slow
 * subscriber's bounded inbox is filled from the log, which is gap-free, so nothing is missed or repeated. The log
 * is also read every `pollMs`, in case the bus dropped something (or there is no bus to other processes at all).
 */
export interface LiveStreamOptions {
  log: EventLogReader;
  bus: EventBus;
  pollMs: number;
  /** Live events one subscriber may have waiting (EVENTS_SUBSCRIBER_BUFFER); past it, it reads them from the log. */
  inboxLimit: number;
  /** Called each time a subscriber's inbox overflows (for the metric). */
  onOverflow?: () => void;
  received?: (batch: BusEvent[]) => EventRow[];
}

export function createLiveStream(o: LiveStreamOptions) {
  const received = o.received ?? ((batch: BusEvent[]) => batch.map(fromBus));
  return async function* stream(principal: Principal, filter: EventFilter, fromSequence: number | null, signal: AbortSignal): AsyncGenerator<EventRow> {
    let inbox: EventRow[] = [];
    let overflow = false;
    let wake: (() => void) | undefined;
    const unsubscribe = o.bus.subscribe((batch) => {
      if (overflow) return;
      const rows = received(batch);
      if (inbox.length + rows.length > o.inboxLimit) {
        overflow = true;
        inbox = [];
        o.onOverflow?.();
      } else for (const r of rows) inbox.push(r);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    // In-process buses never carry other processes' events: there a gap is only ever filled from the log.
    const gapWaitMs = o.bus.kind === 'redis' ? GAP_WAIT_MS : 0;
    try {
      let last = fromSequence ?? (await o.log.head(principal));
      // Reads the log from `last` up to `upTo` (everything committed when no bound), page by page.
      async function* fromLog(upTo: number | null): AsyncGenerator<EventRow> {
        for (;;) {
          const rows = await o.log.range(principal, filter, last, upTo, PAGE);
          for (const r of rows) yield r;
          if (rows.length < PAGE) break;
          last = rows.at(-1)!.sequence;
        }
      }
      const head0 = await o.log.head(principal);
      for await (const r of fromLog(head0)) {
        last = r.sequence;
        yield r;
      }
      last = Math.max(last, head0);
      while (!signal.aborted) {
        if (!inbox.length && !overflow) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, o.pollMs).unref(); // also look at the log now and then, in case the bus dropped something
          });
          wake = undefined;
        }
        if (signal.aborted) break;
        if (overflow || !inbox.length) {
          overflow = false;
          inbox = [];
          const head = await o.log.head(principal);
          if (head > last) {
            for await (const r of fromLog(head)) yield r;
            last = head;
          }
          continue;
        }
        let batch = inbox.sort((a, b) => a.sequence - b.sequence);
        inbox = [];
        if (gapWaitMs && hasGap(batch, last)) {
          // Another process's message is usually just behind on the bus: give it one moment per batch before
          // reading the gap from the log.
          const deadline = Date.now() + gapWaitMs;
          while (!overflow && !signal.aborted && Date.now() < deadline && hasGap([...batch, ...inbox].sort((a, b) => a.sequence - b.sequence), last)) {
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, Math.max(1, deadline - Date.now())).unref();
            });
            wake = undefined;
          }
          if (!overflow) {
            batch = [...batch, ...inbox].sort((a, b) => a.sequence - b.sequence);
            inbox = [];
          }
        }
        for (const e of batch) {
          if (e.sequence <= last) continue;
          if (e.sequence > last + 1) {
            // Everything below a committed sequence is committed: read the gap from the log.
            for await (const r of fromLog(e.sequence - 1)) yield r;
          }
          last = e.sequence;
          if (mayRead(principal, e) && matches(filter, e)) yield e;
        }
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  };
}
