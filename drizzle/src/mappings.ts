import { integer, jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const mappingsSchema = pgSchema('mappings');

export const mappings = mappingsSchema.table('mappings', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description'),
  sourceFormat: text('source_format').notNull(),
  targetFormat: text('target_format').notNull(),
  rules: jsonb('rules').$type<unknown[]>().notNull().default([]),
  version: integer('version').notNull().default(1),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
