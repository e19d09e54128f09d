import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { Schema } from '@hub/db';
import {
  badInput,
  isValidNhsNumber,
  loaderFor,
  organisationOf,
  principalOf,
  requireScope,
  RESIDENT_ID,
  scalarResolvers,
  servicePrincipal,
  SUBJECT_ACCESS_MAX_ROWS,
  type HubRuntime,
  type RequestContext,
  type ResidentSubject,
  type Subgraph,
} from '@hub/runtime';
import { createEventsService, type EventsService, type PublishInput } from './service.ts';
import { createEventsStore } from './store.ts';
import { createSubscriptionsService, type RuleInput, type RulePorts, type SubscribeInput, type SubscriptionsService } from './subscriptions.ts';
import type { DeadLetterRow, SubscriptionRow } from './subscriptions-store.ts';
import type { EventFilter, EventRow } from './store.ts';
import { assertMayUse } from './visibility.ts';

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
  // Every read is the caller's: its organisation's events, of types its scopes cover (visibility.ts).
  const byId = (ctx: RequestContext) => loaderFor(ctx, 'events.byId', (ids: readonly string[]) => service.byIds(principalOf(ctx), ids));
  type Ctx = RequestContext;
  return {
    ...scalarResolvers,
    Query: {
      eventHistory: (_: unknown, a: { filter?: FilterArg; first: number; after?: string }, ctx: Ctx) => service.history(principalOf(ctx), a.filter ?? {}, a.first, a.after),
      eventLogHead: async (_: unknown, __: unknown, ctx: Ctx) => String(await service.head(principalOf(ctx))),
      integrationEvent: (_: unknown, a: { id: string }, ctx: Ctx) => byId(ctx).load(a.id),
      eventSubscriptions: (_: unknown, __: unknown, ctx: Ctx) => subscriptions.list(organisationOf(ctx)),
      eventSchemas: (_: unknown, __: unknown, ctx: Ctx) => service.schemas.list(organisationOf(ctx)),
      eventSchema: (_: unknown, a: { type: string }, ctx: Ctx) => service.schemas.get(organisationOf(ctx), a.type),
      eventSubscription: (_: unknown, a: { id: string }, ctx: Ctx) => subscriptions.get(organisationOf(ctx), a.id).catch(() => null),
    },
    Mutation: {
      publishEvent: async (_: unknown, a: { input: PublishInput }, ctx: Ctx) => (await service.publish(principalOf(ctx), [a.input]))[0],
      publishEvents: (_: unknown, a: { inputs: PublishInput[] }, ctx: Ctx) => service.publish(principalOf(ctx), a.inputs),
      registerEventSchema: (_: unknown, a: { type: string; schema: unknown }, ctx: Ctx) => {
        const p = principalOf(ctx);
        if (!a.schema || typeof a.schema !== 'object' || Array.isArray(a.schema)) throw badInput('schema must be a JSON Schema object', { field: 'schema' });
        if (!/^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i.test(a.type)) throw badInput('type must be a dotted name such as residents.vitals.recorded', { field: 'type' });
        // The hub's own events keep the shape the hub gives them.
        assertMayUse(p, { type: a.type });
        return service.schemas.register(p.organisationId, a.type, JSON.parse(JSON.stringify(a.schema)) as Record<string, unknown>);
      },
      subscribeToEvents: (_: unknown, a: { subscription: Omit<SubscribeInput, 'fromSequence'> & { fromSequence?: string } }, ctx: Ctx) =>
        subscriptions.subscribe(principalOf(ctx), { ...a.subscription, fromSequence: parseFromSequence(a.subscription.fromSequence) }),
      replayEvents: (_: unknown, a: { subscriptionId: string; fromSequence: string }, ctx: Ctx) =>
        subscriptions.replay(organisationOf(ctx), a.subscriptionId, parseFromSequence(a.fromSequence)!),
      unsubscribeFromEvents: (_: unknown, a: { subscriptionId: string }, ctx: Ctx) => subscriptions.unsubscribe(organisationOf(ctx), a.subscriptionId),
      eraseResidentEvents: (_: unknown, a: ResidentSubject, ctx: Ctx) => {
        const p = requireScope(ctx, 'audit', 'erasure');
        requireScope(ctx, 'health', 'erasure');
        return service.eraseResident(p.organisationId, subjectOf(a));
      },
      createEventRule: (_: unknown, a: { input: Omit<RuleInput, 'fromSequence'> & { fromSequence?: string } }, ctx: Ctx) =>
        subscriptions.createRule(principalOf(ctx), { ...a.input, fromSequence: parseFromSequence(a.input.fromSequence) }),
    },
    EventSubscription: {
      offset: (s: SubscriptionRow) => String(s.offset),
      // Only those whose event the caller may read (a health client's webhook may hold NHS events).
      deadLetters: async (s: SubscriptionRow, a: { first: number }, ctx: Ctx) => {
        const rows = await subscriptions.deadLetters(organisationOf(ctx), s.id, a.first);
        const visible = await Promise.all(rows.map((d) => byId(ctx).load(d.eventId)));
        return rows.filter((_, i) => visible[i]);
      },
      __resolveReference: (ref: { id: string }, ctx: Ctx) => subscriptions.get(organisationOf(ctx), ref.id).catch(() => null),
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
      publisher: (e: EventRow) => e.publisher ?? null,
      system: (e: EventRow) => (e.systemId ? { __typename: 'ExternalSystem', id: e.systemId } : null),
      integration: (e: EventRow) => (e.integrationId ? { __typename: 'Integration', id: e.integrationId } : null),
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => byId(ctx).load(ref.id),
    },
    SubjectAccess: {
      __resolveReference: (ref: ResidentSubject) => ref,
      events: async (ref: ResidentSubject, a: { first: number; after?: string | null }, ctx: Ctx) => {
        const p = requireScope(ctx, 'audit', 'subject access');
        requireScope(ctx, 'health', 'subject access');
        if (!Number.isInteger(a.first) || a.first < 1 || a.first > SUBJECT_ACCESS_MAX_ROWS) throw badInput(`first must be 1 to ${SUBJECT_ACCESS_MAX_ROWS}`, { field: 'first' });
        const after = parseFromSequence(a.after) ?? 0;
        const rows = await service.ofResident(p, subjectOf(ref), after, a.first + 1);
        const page = rows.slice(0, a.first);
        return { events: page, endCursor: rows.length > a.first ? String(page.at(-1)!.sequence) : null };
      },
    },
  };
}

/** A subject as another subgraph names it: the pseudonym and a valid NHS number, or BAD_USER_INPUT. */
function subjectOf(s: { residentId: string; nhsNumber: string }): ResidentSubject {
  if (!RESIDENT_ID.test(s.residentId)) throw badInput('residentId must be a resident pseudonym (res_...)', { field: 'residentId' });
  if (!isValidNhsNumber(s.nhsNumber)) throw badInput('nhsNumber must be a valid NHS number', { field: 'nhsNumber' });
  return { residentId: s.residentId, nhsNumber: s.nhsNumber };
}

export function createEventsSubgraph(rt: HubRuntime<Schema>, syncTrigger: () => RulePorts['triggerSync'] = () => undefined): Subgraph & { service: EventsService } {
  const subscriptions = createSubscriptionsService(rt, createEventsStore(rt.database.db), () => ({
    publish: async (p, e) => void (await service.publish(p, [e])),
    triggerSync: syncTrigger(),
  }));
  // The outbox relays in this process: the hub itself, handing over each event with its own organisation.
  const hub = servicePrincipal('', 'hub');
  const service = createEventsService(rt, { onAppended: () => subscriptions.onAppended() });
  return {
    name: 'events',
    // A resident pseudonym (res_...), not a UUID.
    textIds: ['Mutation.eraseResidentEvents(residentId:)'],
    retention: [{ kind: 'event payloads', days: rt.config.retention.eventPayloadDays, apply: (before) => createEventsStore(rt.database.db).redactPayloadsBefore(before) }],
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service, subscriptions) as never }]),
    service,
    start: () => subscriptions.startWorkers(),
    stop: async () => {
      await subscriptions.stop();
      await service.schemas.close();
    },
    provides: {
      residentEraser: { name: 'events', erase: async (p, subject) => ({ events: await service.eraseResident(p.organisationId, subject) }) },
      eventPublisher: {
        async publish(events) {
          await service.publish(hub, events);
        },
      },
    },
  };
}
