import { bigint, index, jsonb, pgSchema, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const eventsSchema = pgSchema('events');

/**
 * The last sequence handed out. Writers lock this one row for the length of their transaction, so sequences
 * are gap-free (a rolled-back batch gives its numbers back) and commit in order (a reader never sees N+1 before N).
 */
export const eventsHead = eventsSchema.table('head', {
  id: smallint('id').primaryKey(),
  last: bigint('last', { mode: 'number' }).notNull(),
});

/** The append-only event log; `sequence` is the global, gap-free order. Rows are never updated. */
export const events = eventsSchema.table(
  'events',
  {
    sequence: bigint('sequence', { mode: 'number' }).primaryKey(),
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
    systemId: uuid('system_id'),
    integrationId: uuid('integration_id'),
  },
  (t) => [index('events_type_seq').on(t.type, t.sequence), index('events_correlation').on(t.correlationId), index('events_time').on(t.timestamp)],
);
