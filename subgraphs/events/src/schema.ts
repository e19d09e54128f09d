import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { and, asc, eq, gt, inArray, type SQL } from 'drizzle-orm';
import { events, type Schema } from '@hub/db';
import { badInput, loaderFor, scalarResolvers, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

type EventRow = typeof events.$inferSelect;
interface Filter {
  types?: string[];
  source?: string;
  destination?: string;
  correlationId?: string;
}

export function createEventsSubgraph(rt: HubRuntime<Schema>): Subgraph {
  const db = rt.database.db;
  async function history(filter: Filter, first: number, after?: string | null) {
    if (first < 1 || first > 1000) throw badInput('first must be 1 to 1000', { field: 'first' });
    if (after != null && !/^\d+$/.test(after)) throw badInput('after is not a cursor of this list', { field: 'after' });
    const where: SQL[] = [];
    if (after) where.push(gt(events.sequence, Number(after)));
    if (filter.types?.length) where.push(inArray(events.type, filter.types));
    if (filter.source) where.push(eq(events.source, filter.source));
    if (filter.destination) where.push(eq(events.destination, filter.destination));
    if (filter.correlationId) where.push(eq(events.correlationId, filter.correlationId));
    const rows = await db.select().from(events).where(where.length ? and(...where) : undefined).orderBy(asc(events.sequence)).limit(first + 1);
    const page = rows.slice(0, first);
    return { events: page, endCursor: rows.length > first ? String(page.at(-1)!.sequence) : null };
  }
  const resolvers = {
    ...scalarResolvers,
    Query: {
      eventHistory: (_: unknown, a: { filter?: Filter; first: number; after?: string }) => history(a.filter ?? {}, a.first, a.after),
    },
    IntegrationEvent: {
      sequence: (e: EventRow) => String(e.sequence),
      __resolveReference: (ref: { id: string }, ctx: RequestContext) =>
        loaderFor(ctx, 'events.byId', async (ids: readonly string[]) => {
          const rows = await db.select().from(events).where(inArray(events.id, [...ids]));
          const m = new Map(rows.map((r) => [r.id, r]));
          return ids.map((id) => m.get(id) ?? null);
        }).load(ref.id),
    },
  };
  return { name: 'events', typeDefs, schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]) };
}
