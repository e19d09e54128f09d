import { bigint, bigserial, index, jsonb, pgSchema, text, timestamp, unique } from 'drizzle-orm/pg-core';

/**
 * The audit trail: every change and every read of health or finance data, append-only (a trigger refuses UPDATE and
 * DELETE; only the retention job, inside `audit.prune`, removes rows past their retention). Rows are hash-chained per
 * organisation: `hash` = SHA-256 of the previous row's hash and this row's canonical content, so an altered, removed
 * or inserted row breaks the chain from there on.
 */
export const auditSchema = pgSchema('audit');

export const auditLog = auditSchema.table(
  'log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    organisationId: text('organisation_id').notNull(),
    /** Position in the organisation's chain, from 1. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    client: text('client').notNull(),
    /** The end user, when the caller's JWT names one (sub). */
    userId: text('user_id'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    /** The pseudonymous resident the action concerned, for subject access and erasure. */
    residentId: text('resident_id'),
    outcome: text('outcome').notNull(),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [unique('audit_log_org_seq').on(t.organisationId, t.seq), index('audit_log_org_at').on(t.organisationId, t.at), index('audit_log_resident').on(t.residentId)],
);

/** The head of each organisation's chain, locked by each writer so rows chain in order. */
export const auditHeads = auditSchema.table('heads', {
  organisationId: text('organisation_id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
  /**
   * Rows up to this sequence were removed by the retention job; `prunedHash` is the last removed row's hash, so the
   * chain is still checked from the first row that remains.
   */
  prunedThrough: bigint('pruned_through', { mode: 'number' }).notNull().default(0),
  prunedHash: text('pruned_hash').notNull().default('0000000000000000000000000000000000000000000000000000000000000000'),
});
