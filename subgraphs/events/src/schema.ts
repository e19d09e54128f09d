import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { Schema } from '@hub/db';
import { badInput, loaderFor, scalarResolvers, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createEventsService, type EventsService, type PublishInput } from './service.ts';
import { createEventsStore } from './store.ts';
import { createSubscriptionsService, type RuleInput, type RulePorts, type SubscribeInput, type SubscriptionsService } from './subscriptions.ts';
import type { DeadLetterRow, SubscriptionRow } from './subscriptions-store.ts';
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

function resolvers(service: EventsService, subscriptions: SubscriptionsService) {
  const byId = (ctx: RequestContext) => loaderFor(ctx, 'events.byId', (ids: readonly string[]) => service.byIds(ids));
  return {
    ...scalarResolvers,
    Query: {
      eventHistory: (_: unknown, a: { filter?: FilterArg; first: number; after?: string }) => service.history(a.filter ?? {}, a.first, a.after),
      eventLogHead: async () => String(await service.head()),
      integrationEvent: (_: unknown, a: { id: string }, ctx: RequestContext) => byId(ctx).load(a.id),
      eventSubscriptions: () => subscriptions.list(),
      eventSchemas: () => service.schemas.list(),
      eventSchema: (_: unknown, a: { type: string }) => service.schemas.get(a.type),
      eventSubscription: (_: unknown, a: { id: string }) => subscriptions.get(a.id).catch(() => null),
    },
    Mutation: {
      publishEvent: async (_: unknown, a: { input: PublishInput }) => (await service.publish([a.input]))[0],
      publishEvents: (_: unknown, a: { inputs: PublishInput[] }) => service.publish(a.inputs),
      registerEventSchema: (_: unknown, a: { type: string; schema: unknown }) => {
        if (!a.schema || typeof a.schema !== 'object' || Array.isArray(a.schema)) throw badInput('schema must be a JSON Schema object', { field: 'schema' });
        if (!/^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i.test(a.type)) throw badInput('type must be a dotted name such as nhs.demographics.updated', { field: 'type' });
        return service.schemas.register(a.type, JSON.parse(JSON.stringify(a.schema)) as Record<string, unknown>);
      },
      subscribeToEvents: (_: unknown, a: { subscription: Omit<SubscribeInput, 'fromSequence'> & { fromSequence?: string } }) =>
        subscriptions.subscribe({ ...a.subscription, fromSequence: parseFromSequence(a.subscription.fromSequence) }),
      replayEvents: (_: unknown, a: { subscriptionId: string; fromSequence: string }) => subscriptions.replay(a.subscriptionId, parseFromSequence(a.fromSequence)!),
      unsubscribeFromEvents: (_: unknown, a: { subscriptionId: string }) => subscriptions.unsubscribe(a.subscriptionId),
      createEventRule: (_: unknown, a: { input: Omit<RuleInput, 'fromSequence'> & { fromSequence?: string } }) =>
        subscriptions.createRule({ ...a.input, fromSequence: parseFromSequence(a.input.fromSequence) }),
    },
    EventSubscription: {
      offset: (s: SubscriptionRow) => String(s.offset),
      deadLetters: (s: SubscriptionRow, a: { first: number }) => subscriptions.deadLetters(s.id, a.first),
      __resolveReference: (ref: { id: string }) => subscriptions.get(ref.id).catch(() => null),
    },
    DeadLetter: {
      sequence: (d: DeadLetterRow) => String(d.sequence),
      event: (d: DeadLetterRow, _: unknown, ctx: RequestContext) => byId(ctx).load(d.eventId),
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

export function createEventsSubgraph(rt: HubRuntime<Schema>, syncTrigger: () => RulePorts['triggerSync'] = () => undefined): Subgraph & { service: EventsService } {
  const subscriptions = createSubscriptionsService(rt, createEventsStore(rt.database.db), () => ({
    publish: async (e) => void (await service.publish([e])),
    triggerSync: syncTrigger(),
  }));
  const service = createEventsService(rt, { onAppended: () => subscriptions.onAppended() });
  return {
    name: 'events',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service, subscriptions) as never }]),
    service,
    start: () => subscriptions.startWorkers(),
    stop: async () => subscriptions.stop(),
    provides: {
      eventPublisher: {
        async publish(events) {
          await service.publish(events);
        },
      },
    },
  };
}
