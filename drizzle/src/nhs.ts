import { index, integer, jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/** Tables of the nhs subgraph: the audit trail of calls to the spine, discharge summaries sent over MESH. */
export const nhsSchema = pgSchema('nhs');

/**
 * One row per call the hub made to an NHS API: who asked, what for, when, and how it went. Identifiers only,
 * never clinical content.
 */
export const nhsAudit = nhsSchema.table(
  'audit',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actor: text('actor').notNull(),
    requestId: text('request_id'),
    api: text('api').notNull(),
    operation: text('operation').notNull(),
    nhsNumber: text('nhs_number'),
    outcome: text('outcome').notNull(),
    httpStatus: integer('http_status'),
    latencyMs: integer('latency_ms'),
    /** The X-Request-ID sent to the spine, to match NHS-side logs. */
    upstreamRequestId: text('upstream_request_id'),
  },
  (t) => [index('nhs_audit_at').on(t.at), index('nhs_audit_nhs_number').on(t.nhsNumber, t.at)],
);

export const dischargeSummaries = nhsSchema.table(
  'discharge_summaries',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    nhsNumber: text('nhs_number').notNull(),
    recipientMailbox: text('recipient_mailbox').notNull(),
    workflowId: text('workflow_id').notNull(),
    /** QUEUED, SENT (MESH accepted the upload), DELIVERED (recipient downloaded), ACKNOWLEDGED, FAILED. */
    status: text('status').notNull(),
    meshMessageId: text('mesh_message_id'),
    document: jsonb('document').$type<Record<string, unknown>>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    requestedBy: text('requested_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true }),
    lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('nhs_discharge_nhs_number').on(t.nhsNumber, t.createdAt)],
);

export const nhsOutbox = outboxTable(nhsSchema);
