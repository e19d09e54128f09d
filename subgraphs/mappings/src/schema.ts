import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { asc, eq, inArray } from 'drizzle-orm';
import { mappings, type Schema } from '@hub/db';
import { loaderFor, rowsById, scalarResolvers, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export function createMappingsSubgraph(rt: HubRuntime<Schema>): Subgraph {
  const db = rt.database.db;
  const byIds = async (ids: readonly string[]) => rowsById(await db.select().from(mappings).where(inArray(mappings.id, [...ids])), ids);
  const resolvers = {
    ...scalarResolvers,
    Query: {
      mappings: () => db.select().from(mappings).orderBy(asc(mappings.name)),
      mapping: async (_: unknown, a: { id: string }) => (await db.select().from(mappings).where(eq(mappings.id, a.id)))[0] ?? null,
    },
    Mapping: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => loaderFor(ctx, 'mappings.byId', byIds).load(ref.id),
    },
  };
  return { name: 'mappings', typeDefs, schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]) };
}
