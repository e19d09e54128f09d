export { createEventsSubgraph, parseFromSequence, typeDefs } from './schema.ts';
export type { EventsService } from './service.ts';
export type { EventFilter, EventRow } from './store.ts';
