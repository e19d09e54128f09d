import { bigserial, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/** Tables of the integrations subgraph. `external_system_id` points into another subgraph: no foreign key. */
export const integrationsSchema = pgSchema('integrations');

export const integrations = integrationsSchema.table(
  'integrations',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    externalSystemId: uuid('external_system_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    kind: text('kind').notNull(),
    resource: jsonb('resource').$type<Record<string, unknown>>().notNull(),
    syncSchedule: jsonb('sync_schedule').$type<{ cron: string; timezone: string; enabled: boolean } | null>(),
    /** Bumped on every schedule change; a scheduled job carrying an older version is stale and skipped. */
    scheduleVersion: integer('schedule_version').notNull().default(0),
    configuration: jsonb('configuration').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status').notNull(),
    lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
    successCount: integer('success_count').notNull().default(0),
    errorCount: integer('error_count').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('integrations_system').on(t.externalSystemId)],
);

export const syncRuns = integrationsSchema.table(
  'sync_runs',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id, { onDelete: 'cascade' }),
    trigger: text('trigger').notNull(),
    status: text('status').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
    queuedAt: timestamp('queued_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    durationMs: integer('duration_ms'),
    pages: integer('pages').notNull().default(0),
    recordsReceived: integer('records_received').notNull().default(0),
    recordsStored: integer('records_stored').notNull().default(0),
    errorCount: integer('error_count').notNull().default(0),
    error: text('error'),
  },
  (t) => [index('sync_runs_integration_time').on(t.integrationId, t.queuedAt)],
);

export const syncLogs = integrationsSchema.table(
  'sync_logs',
  {
    organisationId: text('organisation_id').notNull(),
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    integrationId: uuid('integration_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    level: text('level').notNull(),
    message: text('message').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>(),
  },
  (t) => [index('sync_logs_integration').on(t.integrationId, t.id)],
);

/** What a sync received, one row per upstream record, upserted by its upstream id. */
export const syncedRecords = integrationsSchema.table(
  'records',
  {
    organisationId: text('organisation_id').notNull(),
    integrationId: uuid('integration_id')
      .notNull()
      .references(() => integrations.id, { onDelete: 'cascade' }),
    externalId: text('external_id').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    runId: uuid('run_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.integrationId, t.externalId] })],
);

export const integrationsOutbox = outboxTable(integrationsSchema);
