import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, organisationOf, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import type { SystemRow } from './store.ts';
import { createSystemsService, systemDirectory, type StoredAuth, type SystemsService } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: SystemsService) {
  const systemById = (ctx: RequestContext) =>
    loaderFor(ctx, 'systems.byId', async (ids: readonly string[]) => rowsById(await service.byIds(organisationOf(ctx), ids), ids));
  return {
    ...scalarResolvers,
    // Every read and change is the caller's organisation's: another organisation's system is not found.
    Query: {
      externalSystems: (_: unknown, a: { filter?: { type?: string; status?: string; nameContains?: string } }, ctx: RequestContext) =>
        service.list(organisationOf(ctx), a.filter ?? {}),
      externalSystem: (_: unknown, a: { id: string }, ctx: RequestContext) => systemById(ctx).load(a.id),
    },
    Mutation: {
      registerExternalSystem: (_: unknown, a: { input: Parameters<SystemsService['register']>[1] }, ctx: RequestContext) => service.register(organisationOf(ctx), a.input),
      connectToSystem: (_: unknown, a: { systemId: string; credentials: Record<string, string> }, ctx: RequestContext) =>
        service.connect(organisationOf(ctx), a.systemId, a.credentials),
      disconnectFromSystem: (_: unknown, a: { systemId: string }, ctx: RequestContext) => service.disconnect(organisationOf(ctx), a.systemId),
      checkSystemHealth: async (_: unknown, a: { systemId: string }, ctx: RequestContext) => health(await service.checkHealth(organisationOf(ctx), a.systemId, 'MANUAL')),
    },
    ExternalSystem: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => systemById(ctx).load(ref.id),
      authentication: async (s: SystemRow, _: unknown, ctx: RequestContext) => ({
        ...(s.authentication as StoredAuth),
        hasCredentials: await loaderFor(ctx, 'systems.hasCredentials', (ids: readonly string[]) => service.hasCredentials(organisationOf(ctx), ids)).load(s.id),
      }),
      health: (s: SystemRow) => health(s),
      healthHistory: (s: SystemRow, a: { last: number }) => service.healthHistory(s.organisationId, s.id, a.last),
    },
  };
}

function health(s: SystemRow) {
  return {
    status: s.status,
    ok: s.lastCheckedAt ? s.lastError === null : null,
    checkedAt: s.lastCheckedAt,
    latencyMs: s.lastLatencyMs,
    httpStatus: s.lastHttpStatus,
    error: s.lastError,
  };
}

export function createSystemsSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph & { service: SystemsService } {
  const service = createSystemsService(rt, publisher);
  return {
    name: 'systems',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    provides: { systemDirectory: systemDirectory(service) },
    start: () => service.startWorkers(),
    stop: () => service.stop(),
  };
}
