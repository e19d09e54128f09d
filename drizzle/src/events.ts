import { bigint, bigserial, index, integer, jsonb, pgSchema, primaryKey, smallint, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

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
    organisationId: text('organisation_id').notNull(),
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
    idempotencyKey: text('idempotency_key'),
    /** The pseudonymous resident the event concerns (care.residents), for subject access and erasure. */
    residentId: text('resident_id'),
    homeId: text('home_id'),
    /** The authenticated client that published it, stamped by the hub (never taken from the caller). */
    publisher: text('publisher'),
    systemId: uuid('system_id'),
    integrationId: uuid('integration_id'),
  },
  (t) => [unique('events_org_idempotency').on(t.organisationId, t.idempotencyKey), index('events_org_seq').on(t.organisationId, t.sequence), index('events_resident').on(t.residentId), index('events_type_seq').on(t.type, t.sequence), index('events_correlation').on(t.correlationId), index('events_time').on(t.timestamp)],
);

/**
 * Durable consumers of the log: a filter, what to do with each matching event, and how far they have got.
 * WEBHOOK subscriptions POST each event; RULEs (choreography) run their action: publish a derived event,
 * call a webhook, or trigger a sync.
 */
export const eventSubscriptions = eventsSchema.table('subscriptions', {
    organisationId: text('organisation_id').notNull(),
  id: uuid('id').primaryKey(),
  kind: text('kind').notNull().default('WEBHOOK'),
  name: text('name').notNull(),
  filter: jsonb('filter').$type<Record<string, unknown>>().notNull().default({}),
  /** A rule's action, kept as data: `{ publish: { type, source, mapping } }`, `{ webhook: true }` or `{ sync: { integrationId } }`. */
  action: jsonb('action').$type<Record<string, unknown>>(),
  targetUrl: text('target_url'),
  /** The HMAC signing secret, sealed by the vault (webhooks only). */
  secretSealed: text('secret_sealed'),
  status: text('status').notNull(),
  /** The last sequence delivered (or dead-lettered); delivery resumes after it. */
  offset: bigint('offset', { mode: 'number' }).notNull(),
  maxAttempts: integer('max_attempts').notNull(),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
  /** A delivery worker holds the subscription until then, so one worker delivers it at a time, in order. */
  leaseUntil: timestamp('lease_until', { withTimezone: true }),
  delivered: bigint('delivered', { mode: 'number' }).notNull().default(0),
  /** Who made it, and what that client may read: a webhook or rule sees only those events. */
  createdBy: text('created_by'),
  readerScopes: jsonb('reader_scopes').$type<string[]>(),
  readerHomes: jsonb('reader_homes').$type<string[] | null>(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const deadLetters = eventsSchema.table(
  'dead_letters',
  {
    organisationId: text('organisation_id').notNull(),
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => eventSubscriptions.id, { onDelete: 'cascade' }),
    sequence: bigint('sequence', { mode: 'number' }).notNull(),
    eventId: uuid('event_id').notNull(),
    attempts: integer('attempts').notNull(),
    error: text('error').notNull(),
    failedAt: timestamp('failed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('dead_letters_subscription').on(t.subscriptionId, t.id)],
);

/** A JSON Schema that every event of a type must satisfy (its payload), versioned by replacement. */
export const eventSchemas = eventsSchema.table('schemas', {
    organisationId: text('organisation_id').notNull(),
  type: text('type').notNull(),
  schema: jsonb('schema').$type<Record<string, unknown>>().notNull(),
  version: integer('version').notNull().default(1),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.organisationId, t.type] })]);
