import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createMetricsService, type ApiRequestInput, type MetricsService, type RegisterApiInput } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: MetricsService) {
  return {
    ...scalarResolvers,
    Query: {
      apis: () => service.list(),
      api: (_: unknown, a: { id: string }) => service.byId(a.id),
      apiMetrics: (_: unknown, a: { apiId: string; timeRange?: { from?: Date | null; to?: Date | null } | null }) => service.apiMetrics(a.apiId, a.timeRange ?? {}),
    },
    Mutation: {
      registerAPI: (_: unknown, a: { input: RegisterApiInput }) => service.register(a.input),
      // The caller is who the gateway says is asking (x-hub-client, else the client's address).
      routeRequest: (_: unknown, a: { apiId: string; request: ApiRequestInput }, ctx: RequestContext) => service.route(a.apiId, a.request, ctx.actor ?? 'anonymous'),
      applyRateLimit: (_: unknown, a: { clientId: string; endpoint: string }) => service.applyRateLimit(a.clientId, a.endpoint),
      configureRateLimit: (_: unknown, a: { apiId: string; limit?: { requests: number; perSeconds: number } | null }) => service.configureRateLimit(a.apiId, a.limit ?? null),
      setApiStatus: (_: unknown, a: { apiId: string; status: string }) => service.setStatus(a.apiId, a.status),
    },
    Api: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) =>
        loaderFor(ctx, 'apis.byId', async (ids: readonly string[]) => rowsById(await service.byIds(ids), ids)).load(ref.id),
    },
  };
}

export function createMetricsSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph {
  const service = createMetricsService(rt, publisher);
  return {
    name: 'metrics',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
