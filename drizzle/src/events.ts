import { bigserial, index, jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const eventsSchema = pgSchema('events');

/** The append-only event log; `sequence` is the global order. */
export const events = eventsSchema.table(
  'events',
  {
    sequence: bigserial('sequence', { mode: 'number' }).primaryKey(),
    id: uuid('id').notNull().unique(),
    type: text('type').notNull(),
    source: text('source').notNull(),
    destination: text('destination'),
    payload: jsonb('payload').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull().defaultNow(),
    correlationId: text('correlation_id'),
    causationId: text('causation_id'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status').notNull(),
    idempotencyKey: text('idempotency_key').unique(),
  },
  (t) => [index('events_type_seq').on(t.type, t.sequence)],
);
