import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { asc, eq, inArray } from 'drizzle-orm';
import { apis, type Schema } from '@hub/db';
import { loaderFor, rowsById, scalarResolvers, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export function createMetricsSubgraph(rt: HubRuntime<Schema>): Subgraph {
  const db = rt.database.db;
  const byIds = async (ids: readonly string[]) => rowsById(await db.select().from(apis).where(inArray(apis.id, [...ids])), ids);
  const resolvers = {
    DateTime: scalarResolvers.DateTime,
    Query: {
      apis: () => db.select().from(apis).orderBy(asc(apis.name)),
      api: async (_: unknown, a: { id: string }) => (await db.select().from(apis).where(eq(apis.id, a.id)))[0] ?? null,
    },
    Api: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => loaderFor(ctx, 'apis.byId', byIds).load(ref.id),
    },
  };
  return { name: 'metrics', typeDefs, schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]) };
}
