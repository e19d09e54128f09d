import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { badInput, decodePrincipal, isHubError, type Logger } from '@hub/runtime';
import { parseFromSequence, type EventFilter, type EventRow, type EventStreamSource } from '@hub/subgraph-events';
import { PRINCIPAL_HEADER } from './auth.ts';
import { parseEventFilter } from './rest.ts';

export const EVENT_STREAM_PATH = '/api/integration/events/stream';
const KEEP_ALIVE_MS = 15_000;

/** The JSON of an event on the stream: the same shape (and field order) as the GraphQL `IntegrationEvent` in REST answers. */
export function toEventJson(e: EventRow) {
  return {
    id: e.id,
    sequence: String(e.sequence),
    type: e.type,
    source: e.source,
    destination: e.destination ?? null,
    payload: e.payload,
    timestamp: e.timestamp.toISOString(),
    correlationId: e.correlationId ?? null,
    causationId: e.causationId ?? null,
    metadata: e.metadata,
    status: e.status,
    publisher: e.publisher ?? null,
  };
}

/** One SSE message. Event types are dotted names and the JSON has no raw newlines, so each field is one line. */
const frame = (e: EventRow) => `id: ${e.sequence}\nevent: ${e.type}\ndata: ${JSON.stringify(toEventJson(e))}\n\n`;

function sendError(res: ServerResponse, status: number, code: string, message: string, details?: Record<string, unknown>, headers: Record<string, string> = {}) {
  const text = JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export interface EventStreamOptions {
  /** The events service of this process; without it the stream answers 503. */
  events?: EventStreamSource;
  log: Logger;
  metrics: Registry;
  /** Aborted when the process shuts down: open streams end so the server can close. */
  shutdown?: AbortSignal;
}

/**
 * `GET /api/integration/events/stream`: Server-Sent Events straight from the events service's `stream()` (replay
 * from `fromSequence` or `Last-Event-ID`, then live, gap-free). The filter is parsed as the history endpoint parses
 * it. Each write waits for the socket to drain, so a slow client holds back the stream (whose own inbox is bounded)
 * instead of buffering in memory; a disconnect aborts the stream.
 */
export function createEventStream(o: EventStreamOptions) {
  const open = new Gauge({ name: 'hub_event_streams_open', help: 'Server-Sent Event streams open on this process', registers: [o.metrics] });

  return async function serve(req: IncomingMessage, res: ServerResponse, search: URLSearchParams): Promise<void> {
    if (req.method !== 'GET') {
      sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${EVENT_STREAM_PATH}; use GET`, undefined, { allow: 'GET' });
      return;
    }
    if (!o.events || o.shutdown?.aborted) {
      sendError(res, 503, 'UPSTREAM_UNAVAILABLE', o.events ? 'this hub process is shutting down' : 'this hub process does not serve the events subgraph, so it cannot stream events');
      return;
    }
    // The HTTP server authenticated the caller and put its principal here (a caller's own header is dropped first):
    // the stream carries only what that caller may read.
    const principal = decodePrincipal(req.headers[PRINCIPAL_HEADER] as string | undefined);
    if (!principal) {
      sendError(res, 401, 'UNAUTHENTICATED', 'no authenticated caller reached the event stream', undefined, { 'www-authenticate': 'Bearer realm="care-home-integration-hub"' });
      return;
    }
    let filter: EventFilter;
    let from: number | null;
    try {
      filter = parseEventFilter(search);
      const fromParam = search.get('fromSequence');
      const lastEventId = req.headers['last-event-id'];
      if (fromParam != null && fromParam !== '') from = parseFromSequence(fromParam);
      else if (typeof lastEventId === 'string' && lastEventId.trim() !== '') {
        try {
          from = parseFromSequence(lastEventId.trim());
        } catch {
          throw badInput('the Last-Event-ID header must be a sequence number', { field: 'Last-Event-ID' });
        }
      } else from = null;
    } catch (err) {
      if (!isHubError(err)) throw err;
      sendError(res, err.httpStatus, err.code, err.message, err.details);
      return;
    }

    const ac = new AbortController();
    const stop = () => ac.abort();
    res.once('close', stop); // the client went away (or the response ended)
    o.shutdown?.addEventListener('abort', stop, { once: true });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // proxies (nginx) must not buffer the stream
    });
    res.socket?.setNoDelay(true);
    open.inc();

    /** Writes, then waits for the socket to drain if its buffer is full; false once the stream is over. */
    const write = async (chunk: string): Promise<boolean> => {
      if (ac.signal.aborted || res.destroyed) return false;
      if (res.write(chunk)) return true;
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          ac.signal.removeEventListener('abort', done);
          resolve();
        };
        res.on('drain', done);
        ac.signal.addEventListener('abort', done);
      });
      return !ac.signal.aborted;
    };
    // The comment opens the body at once (clients see the stream is live); keep-alives hold idle proxies open.
    // A keep-alive is skipped while the socket is backed up: data is flowing then anyway.
    await write(': connected\n\n');
    const keepAlive = setInterval(() => {
      if (!res.writableNeedDrain) void write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    try {
      for await (const e of o.events.stream(principal, filter, from, ac.signal)) {
        if (!(await write(frame(e)))) break;
      }
    } catch (err) {
      // Headers are sent: end the stream; an EventSource reconnects with Last-Event-ID and misses nothing.
      o.log.error({ err }, 'event stream failed');
    } finally {
      clearInterval(keepAlive);
      ac.abort();
      res.off('close', stop);
      o.shutdown?.removeEventListener('abort', stop);
      open.dec();
      if (!res.destroyed && !res.writableEnded) res.end();
    }
  };
}
