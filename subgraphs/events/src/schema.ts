import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { Schema } from '@hub/db';
import { badInput, loaderFor, scalarResolvers, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createEventsService, type EventsService, type PublishInput } from './service.ts';
import type { EventFilter, EventRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

interface FilterArg extends Omit<EventFilter, 'from' | 'to'> {
  from?: Date | null;
  to?: Date | null;
}

export function parseFromSequence(v: string | null | undefined): number | null {
  if (v == null) return null;
  if (!/^\d{1,15}$/.test(v)) throw badInput('fromSequence must be a sequence number', { field: 'fromSequence' });
  return Number(v);
}

function resolvers(service: EventsService) {
  const byId = (ctx: RequestContext) => loaderFor(ctx, 'events.byId', (ids: readonly string[]) => service.byIds(ids));
  return {
    ...scalarResolvers,
    Query: {
      eventHistory: (_: unknown, a: { filter?: FilterArg; first: number; after?: string }) => service.history(a.filter ?? {}, a.first, a.after),
      integrationEvent: (_: unknown, a: { id: string }, ctx: RequestContext) => byId(ctx).load(a.id),
    },
    Mutation: {
      publishEvent: async (_: unknown, a: { input: PublishInput }) => (await service.publish([a.input]))[0],
      publishEvents: (_: unknown, a: { inputs: PublishInput[] }) => service.publish(a.inputs),
    },
    Subscription: {
      events: {
        // Served by the gateway's WebSocket handler (see gateway/src/subscriptions.ts); a subgraph never streams.
        subscribe: () => {
          throw badInput('subscribe over graphql-ws at the gateway');
        },
      },
    },
    IntegrationEvent: {
      sequence: (e: EventRow) => String(e.sequence),
      system: (e: EventRow) => (e.systemId ? { __typename: 'ExternalSystem', id: e.systemId } : null),
      integration: (e: EventRow) => (e.integrationId ? { __typename: 'Integration', id: e.integrationId } : null),
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => byId(ctx).load(ref.id),
    },
  };
}

export function createEventsSubgraph(rt: HubRuntime<Schema>): Subgraph & { service: EventsService } {
  const service = createEventsService(rt);
  return { name: 'events', typeDefs, schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]), service };
}
