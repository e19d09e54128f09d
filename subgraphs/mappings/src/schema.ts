import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, organisationOf, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import type { DataFormat, FormatOptions } from './formats/index.ts';
import { createMappingsService, type MappingChange, type MappingInput, type MappingsService, type TransformationResult } from './service.ts';
import type { MappingRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: MappingsService) {
  const byId = (ctx: RequestContext) => loaderFor(ctx, 'mappings.byId', async (ids: readonly string[]) => rowsById(await service.byIds(organisationOf(ctx), ids), ids));
  return {
    ...scalarResolvers,
    // Every read and change is the caller's organisation's: another organisation's mapping is not found.
    Query: {
      mappings: (_: unknown, _a: unknown, ctx: RequestContext) => service.list(organisationOf(ctx)),
      mapping: (_: unknown, a: { id: string }, ctx: RequestContext) => service.byId(organisationOf(ctx), a.id),
    },
    Mutation: {
      createMapping: (_: unknown, a: { input: MappingInput }, ctx: RequestContext) => service.create(organisationOf(ctx), a.input),
      updateMapping: (_: unknown, a: { id: string; expectedVersion: number; input: MappingChange }, ctx: RequestContext) =>
        service.update(organisationOf(ctx), a.id, a.expectedVersion, a.input),
      deleteMapping: (_: unknown, a: { id: string }, ctx: RequestContext) => service.remove(organisationOf(ctx), a.id),
      transformData: (_: unknown, a: { data: unknown; mappingId: string; version?: number | null }, ctx: RequestContext) =>
        service.transform(organisationOf(ctx), a.data, a.mappingId, a.version),
      validateData: (_: unknown, a: { data: unknown; schema: unknown; format: DataFormat; cleanse: boolean }) =>
        service.validate(a.data, a.schema, { format: a.format, cleanse: a.cleanse }),
      convertFormat: (_: unknown, a: { data: unknown; from: DataFormat; to: DataFormat; options?: FormatOptions | null }) =>
        service.convert(a.data, a.from, a.to, stripNulls(a.options ?? {})),
    },
    Mapping: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => byId(ctx).load(ref.id),
      versions: (m: MappingRow) => service.versions(m.organisationId, m.id),
    },
    TransformationResult: {
      mapping: (r: TransformationResult, _: unknown, ctx: RequestContext) => byId(ctx).load(r.mappingId),
    },
  };
}

const stripNulls = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v != null)) as T;

export function createMappingsSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph {
  const service = createMappingsService(rt, publisher);
  return {
    name: 'mappings',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    start: async () => service.start(),
    stop: () => service.stop(),
  };
}
