import { index, jsonb, text, timestamp, uuid, type PgSchema } from 'drizzle-orm/pg-core';

/**
 * A subgraph's outbox: the events announcing its state changes, written in the same transaction as the change.
 * The subgraph's relay hands them to the event log (idempotently, keyed by the outbox row id) and deletes them,
 * so no change is ever unannounced and none is announced twice.
 */
export function outboxTable(schema: PgSchema) {
  return schema.table(
    'outbox',
    {
      id: uuid('id').primaryKey(),
      organisationId: text('organisation_id').notNull(),
      homeId: text('home_id'),
      residentId: text('resident_id'),
      type: text('type').notNull(),
      source: text('source').notNull(),
      payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
      correlationId: text('correlation_id'),
      systemId: uuid('system_id'),
      integrationId: uuid('integration_id'),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [index(`${schema.schemaName}_outbox_created`).on(t.createdAt)],
  );
}

export type OutboxRow = ReturnType<typeof outboxTable>['$inferSelect'];
