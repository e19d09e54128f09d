import { jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const metricsSchema = pgSchema('metrics');

/** The API registry: upstream APIs the gateway routes to, with their rate-limit configuration. */
export const apis = metricsSchema.table('apis', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull().unique(),
  version: text('version').notNull(),
  basePath: text('base_path').notNull(),
  upstreamUrl: text('upstream_url').notNull(),
  rateLimit: jsonb('rate_limit').$type<{ requests: number; perSeconds: number } | null>(),
  status: text('status').notNull().default('ACTIVE'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
