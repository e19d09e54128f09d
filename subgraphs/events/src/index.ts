export { createEventsSubgraph, parseFromSequence, typeDefs } from './schema.ts';
export type { EventsService } from './service.ts';
export type { EventFilter, EventRow } from './store.ts';
export { createLiveStream, type EventLogReader } from './live.ts';
export { remoteEventLog } from './remote.ts';
export { isReservedSource, isReservedType, mayRead, requiredScope, type EventReader } from './visibility.ts';

/** What serves live event streams (graphql-ws subscriptions, SSE): the events service, or a remote reader of it. */
export interface EventStreamSource {
  stream: ReturnType<typeof import('./live.ts').createLiveStream>;
}
