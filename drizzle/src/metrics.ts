import { doublePrecision, integer, jsonb, pgSchema, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

export const metricsSchema = pgSchema('metrics');

/** The API registry: upstream APIs the gateway routes to, with their rate-limit configuration. */
export const apis = metricsSchema.table(
  'apis',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    description: text('description'),
    basePath: text('base_path').notNull(),
    upstreamUrl: text('upstream_url').notNull(),
    rateLimit: jsonb('rate_limit').$type<{ requests: number; perSeconds: number } | null>(),
    /** ACTIVE, DEPRECATED (still routed, flagged to callers) or RETIRED (refused). */
    status: text('status').notNull().default('ACTIVE'),
    timeoutMs: integer('timeout_ms').notNull().default(10_000),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // Versions of one API live side by side (v1 and v2 of the same name), each under its own base path.
  (t) => [unique('apis_org_name_version').on(t.organisationId, t.name, t.version), unique('apis_org_base_path').on(t.organisationId, t.basePath)],
);

/**
 * Calls routed to each API, per minute and outcome (2xx, 3xx, 4xx, 5xx, ERROR when no answer came, RATE_LIMITED when
 * the hub refused the call): counts, time, and a latency histogram over fixed bounds, so percentiles over any range
 * are a sum of rows. Each process adds its tallies every few seconds, so a busy API costs one write per flush.
 */
export const apiCallStats = metricsSchema.table(
  'api_call_stats',
  {
    organisationId: text('organisation_id').notNull(),
    apiId: uuid('api_id')
      .notNull()
      .references(() => apis.id, { onDelete: 'cascade' }),
    minute: timestamp('minute', { withTimezone: true }).notNull(),
    outcome: text('outcome').notNull(),
    requests: integer('requests').notNull(),
    totalMs: doublePrecision('total_ms').notNull(),
    maxMs: doublePrecision('max_ms').notNull(),
    /** Counts per latency bucket; bounds in the metrics subgraph (LATENCY_BOUNDS_MS), the last is everything above. */
    buckets: integer('buckets').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiId, t.minute, t.outcome] })],
);

export const metricsOutbox = outboxTable(metricsSchema);
