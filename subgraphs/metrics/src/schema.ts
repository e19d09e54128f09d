import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, organisationOf, principalOf, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createMetricsService, type ApiRequestInput, type MetricsService, type RegisterApiInput } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: MetricsService) {
  return {
    ...scalarResolvers,
    // Every read and change is the caller's organisation's: another organisation's API is not found.
    Query: {
      apis: (_: unknown, _a: unknown, ctx: RequestContext) => service.list(organisationOf(ctx)),
      api: (_: unknown, a: { id: string }, ctx: RequestContext) => service.byId(organisationOf(ctx), a.id),
      apiMetrics: (_: unknown, a: { apiId: string; timeRange?: { from?: Date | null; to?: Date | null } | null }, ctx: RequestContext) =>
        service.apiMetrics(organisationOf(ctx), a.apiId, a.timeRange ?? {}),
    },
    Mutation: {
      registerAPI: (_: unknown, a: { input: RegisterApiInput }, ctx: RequestContext) => service.register(organisationOf(ctx), a.input),
      // The caller's allowance is its own client's, within its organisation (the authenticated client, or with
      // authentication off what x-hub-client claims).
      routeRequest: (_: unknown, a: { apiId: string; request: ApiRequestInput }, ctx: RequestContext) => {
        const p = principalOf(ctx);
        return service.route(p.organisationId, a.apiId, a.request, ctx.actor ?? p.client);
      },
      applyRateLimit: (_: unknown, a: { clientId: string; endpoint: string }, ctx: RequestContext) => service.applyRateLimit(organisationOf(ctx), a.clientId, a.endpoint),
      configureRateLimit: (_: unknown, a: { apiId: string; limit?: { requests: number; perSeconds: number } | null }, ctx: RequestContext) =>
        service.configureRateLimit(organisationOf(ctx), a.apiId, a.limit ?? null),
      setApiStatus: (_: unknown, a: { apiId: string; status: string }, ctx: RequestContext) => service.setStatus(organisationOf(ctx), a.apiId, a.status),
    },
    Api: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) =>
        loaderFor(ctx, 'apis.byId', async (ids: readonly string[]) => rowsById(await service.byIds(organisationOf(ctx), ids), ids)).load(ref.id),
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
