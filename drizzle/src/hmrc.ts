import { jsonb, pgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/** Tables of the hmrc subgraph: the organisation's HMRC authorisation, and the VAT returns the hub submitted. */
export const hmrcSchema = pgSchema('hmrc');

/**
 * The OAuth grant an HMRC user gave the hub (authorization code flow): its tokens sealed by the vault, never in
 * clear. One row per grant name ('default': the care group's Government Gateway login).
 */
export const hmrcGrants = hmrcSchema.table('grants', {
    organisationId: text('organisation_id').notNull(),
  id: text('id').notNull(),
  sealed: text('sealed').notNull(),
  keyId: text('key_id').notNull(),
  scope: text('scope').notNull(),
  accessExpiresAt: timestamp('access_expires_at', { withTimezone: true }).notNull(),
  grantedAt: timestamp('granted_at', { withTimezone: true }).notNull(),
  grantedBy: text('granted_by').notNull(),
  refreshedAt: timestamp('refreshed_at', { withTimezone: true }),
}, (t) => [primaryKey({ columns: [t.organisationId, t.id] })]);

/**
 * Every VAT return the hub submitted, with HMRC's receipt. A return is written before it is sent (status SENDING) and
 * completed with the receipt, so a retry after a lost answer is recognised, and a period is never submitted twice.
 */
export const vatSubmissions = hmrcSchema.table(
  'vat_submissions',
  {
    organisationId: text('organisation_id').notNull(),
    vrn: text('vrn').notNull(),
    periodKey: text('period_key').notNull(),
    status: text('status').notNull(),
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
    receipt: jsonb('receipt').$type<Record<string, unknown> | null>(),
    correlationId: text('correlation_id'),
    submittedBy: text('submitted_by').notNull(),
    submittedAt: timestamp('submitted_at', { withTimezone: true }).notNull().defaultNow(),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.vrn, t.periodKey] })],
);

export const hmrcOutbox = outboxTable(hmrcSchema);
