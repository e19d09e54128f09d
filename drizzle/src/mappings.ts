import { integer, jsonb, pgSchema, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

export const mappingsSchema = pgSchema('mappings');

/** The current version of each mapping: what transformData uses unless a caller pins an older one. */
export const mappings = mappingsSchema.table('mappings', {
    organisationId: text('organisation_id').notNull(),
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description'),
  sourceFormat: text('source_format').notNull(),
  targetFormat: text('target_format').notNull(),
  /** The mapping's rules as data ({ forEach?, fields }), validated and compiled when saved. */
  rules: jsonb('rules').$type<unknown>().notNull().default([]),
  /** Optional JSON Schema every transformed record must satisfy. */
  targetSchema: jsonb('target_schema').$type<Record<string, unknown> | null>(),
  version: integer('version').notNull().default(1),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [unique('mappings_org_name').on(t.organisationId, t.name)]);

/** Every version a mapping ever had, never changed: a transform can pin one, and an edit can be audited. */
export const mappingVersions = mappingsSchema.table(
  'mapping_versions',
  {
    organisationId: text('organisation_id').notNull(),
    mappingId: uuid('mapping_id')
      .notNull()
      .references(() => mappings.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    description: text('description'),
    sourceFormat: text('source_format').notNull(),
    targetFormat: text('target_format').notNull(),
    rules: jsonb('rules').$type<unknown>().notNull(),
    targetSchema: jsonb('target_schema').$type<Record<string, unknown> | null>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.mappingId, t.version] })],
);

export const mappingsOutbox = outboxTable(mappingsSchema);
