import { internalFetch, upstreamUnavailable, type InternalKeys, type Principal } from '@hub/runtime';
import type { EventLogReader } from './live.ts';
import type { EventFilter, EventRow } from './store.ts';

const RANGE = `query HubEventRange($filter: EventFilter, $first: Int, $after: String) {
  eventHistory(filter: $filter, first: $first, after: $after) {
    events { id sequence type source destination payload timestamp correlationId causationId metadata status publisher system { id } integration { id } }
  }
}`;

interface RemoteEvent {
  id: string;
  sequence: string;
  type: string;
  source: string;
  destination: string | null;
  payload: unknown;
  timestamp: string;
  correlationId: string | null;
  causationId: string | null;
  metadata: Record<string, unknown>;
  status: string;
  publisher: string | null;
  system: { id: string } | null;
  integration: { id: string } | null;
}

/**
 * The event log read through the events subgraph's own GraphQL API, for a gateway process that does not run the
 * events subgraph: with the Redis bus for live events it serves subscriptions and streams like any other. Each
 * read is signed as the subscriber, so the subgraph answers only what that subscriber may see.
 */
export function remoteEventLog(url: string, keys: InternalKeys | undefined, timeoutMs = 10_000): EventLogReader {
  async function query<T>(principal: Principal, q: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await internalFetch(keys, principal, 'events', url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: q, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw upstreamUnavailable('events subgraph', (err as Error).message, { url }, err);
    }
    const body = (await res.json().catch(() => ({}))) as { data?: T; errors?: Array<{ message: string }> };
    if (!res.ok || body.errors?.length || !body.data) {
      throw upstreamUnavailable('events subgraph', body.errors?.[0]?.message ?? `HTTP ${res.status}`, { url });
    }
    return body.data;
  }
  const filterArg = (f: EventFilter) => ({
    types: f.types ?? null,
    source: f.source ?? null,
    destination: f.destination ?? null,
    correlationId: f.correlationId ?? null,
    from: f.from?.toISOString() ?? null,
    to: f.to?.toISOString() ?? null,
  });
  return {
    async head(principal) {
      return Number((await query<{ eventLogHead: string }>(principal, '{ eventLogHead }')).eventLogHead);
    },
    async range(principal, filter, after, upTo, limit) {
      const data = await query<{ eventHistory: { events: RemoteEvent[] } }>(principal, RANGE, { filter: filterArg(filter), first: Math.min(limit, 1000), after: String(after) });
      const rows: EventRow[] = [];
      for (const e of data.eventHistory.events) {
        const sequence = Number(e.sequence);
        // Later events come from the bus or the next read; a short page ends the caller's paging.
        if (upTo !== null && sequence > upTo) break;
        rows.push({
          // The subgraph answered only the subscriber's own organisation's events.
          organisationId: principal.organisationId,
          homeId: null,
          residentId: null,
          publisher: e.publisher,
          id: e.id,
          sequence,
          type: e.type,
          source: e.source,
          destination: e.destination,
          payload: e.payload,
          timestamp: new Date(e.timestamp),
          correlationId: e.correlationId,
          causationId: e.causationId,
          metadata: e.metadata,
          status: e.status,
          idempotencyKey: null,
          systemId: e.system?.id ?? null,
          integrationId: e.integration?.id ?? null,
        });
      }
      return rows;
    },
  };
}
