import { bigserial, boolean, index, integer, jsonb, pgSchema, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/** Tables of the systems subgraph: external systems, their sealed credentials and their health history. */
export const systemsSchema = pgSchema('systems');

export const externalSystems = systemsSchema.table('external_systems', {
    organisationId: text('organisation_id').notNull(),
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  type: text('type').notNull(),
  endpoint: text('endpoint').notNull(),
  healthPath: text('health_path').notNull().default('/health'),
  authentication: jsonb('authentication').notNull(),
  capabilities: jsonb('capabilities').$type<string[]>().notNull().default([]),
  dataFormats: jsonb('data_formats').$type<string[]>().notNull().default([]),
  rateLimits: jsonb('rate_limits').$type<Array<{ requests: number; perSeconds: number; scope?: string }>>().notNull().default([]),
  configuration: jsonb('configuration').$type<Record<string, unknown>>().notNull().default({}),
  status: text('status').notNull(),
  lastConnected: timestamp('last_connected', { withTimezone: true }),
  lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
  lastLatencyMs: integer('last_latency_ms'),
  lastHttpStatus: integer('last_http_status'),
  lastError: text('last_error'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [unique('external_systems_org_name').on(t.organisationId, t.name)]);

export const systemCredentials = systemsSchema.table('credentials', {
    organisationId: text('organisation_id').notNull(),
  systemId: uuid('system_id')
    .primaryKey()
    .references(() => externalSystems.id, { onDelete: 'cascade' }),
  /** AES-256-GCM, `v1.<keyId>.<iv>.<tag>.<ciphertext>`, bound to the system id as AAD. */
  sealed: text('sealed').notNull(),
  keyId: text('key_id').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const healthChecks = systemsSchema.table(
  'health_checks',
  {
    organisationId: text('organisation_id').notNull(),
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    systemId: uuid('system_id')
      .notNull()
      .references(() => externalSystems.id, { onDelete: 'cascade' }),
    checkedAt: timestamp('checked_at', { withTimezone: true }).notNull().defaultNow(),
    ok: boolean('ok').notNull(),
    latencyMs: integer('latency_ms'),
    httpStatus: integer('http_status'),
    error: text('error'),
    trigger: text('trigger').notNull(),
  },
  (t) => [index('health_checks_system_time').on(t.systemId, t.checkedAt)],
);

export const systemsOutbox = outboxTable(systemsSchema);
