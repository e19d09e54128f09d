import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import type { SystemRow } from './store.ts';
import { createSystemsService, systemDirectory, type StoredAuth, type SystemsService } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: SystemsService) {
  return {
    ...scalarResolvers,
    Query: {
      externalSystems: (_: unknown, a: { filter?: { type?: string; status?: string; nameContains?: string } }) => service.list(a.filter ?? {}),
      externalSystem: async (_: unknown, a: { id: string }) => (await service.byIds([a.id]))[0] ?? null,
    },
    Mutation: {
      registerExternalSystem: (_: unknown, a: { input: Parameters<SystemsService['register']>[0] }) => service.register(a.input),
      connectToSystem: (_: unknown, a: { systemId: string; credentials: Record<string, string> }) => service.connect(a.systemId, a.credentials),
      disconnectFromSystem: (_: unknown, a: { systemId: string }) => service.disconnect(a.systemId),
      checkSystemHealth: async (_: unknown, a: { systemId: string }) => health(await service.checkHealth(a.systemId, 'MANUAL')),
    },
    ExternalSystem: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) =>
        loaderFor(ctx, 'systems.byId', async (ids: readonly string[]) => rowsById(await service.byIds(ids), ids)).load(ref.id),
      authentication: async (s: SystemRow, _: unknown, ctx: RequestContext) => ({
        ...(s.authentication as StoredAuth),
        hasCredentials: await loaderFor(ctx, 'systems.hasCredentials', (ids: readonly string[]) => service.hasCredentials(ids)).load(s.id),
      }),
      health: (s: SystemRow) => health(s),
      healthHistory: (s: SystemRow, a: { last: number }) => service.healthHistory(s.id, a.last),
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
