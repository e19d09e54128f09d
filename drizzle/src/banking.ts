import { sql } from 'drizzle-orm';
import { bigint, boolean, date, index, integer, pgSchema, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/** Tables of the banking subgraph: imported bank statements, their entries, and the payments the care group expects. */
export const bankingSchema = pgSchema('banking');

/** One statement of an account (ISO 20022 camt.053 `Stmt`), imported once: the bank's statement id is unique per account. */
export const bankStatements = bankingSchema.table(
  'statements',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    account: text('account').notNull(),
    currency: text('currency'),
    statementId: text('statement_id').notNull(),
    messageId: text('message_id'),
    createdAt: timestamp('created_at', { withTimezone: true }),
    fromAt: timestamp('from_at', { withTimezone: true }),
    toAt: timestamp('to_at', { withTimezone: true }),
    /** Booked opening and closing balances in minor units (pence), signed; with their currency. */
    openingMinor: bigint('opening_minor', { mode: 'bigint' }),
    closingMinor: bigint('closing_minor', { mode: 'bigint' }),
    balanceCurrency: text('balance_currency'),
    /** Opening + credits − debits = closing, when both balances are there in one currency. */
    balanced: boolean('balanced'),
    importedAt: timestamp('imported_at', { withTimezone: true }).notNull().defaultNow(),
    importedBy: text('imported_by').notNull(),
  },
  (t) => [unique('bank_statements_org_account_statement').on(t.organisationId, t.account, t.statementId)],
);

export const bankEntries = bankingSchema.table(
  'entries',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    statementId: uuid('statement_id')
      .notNull()
      .references(() => bankStatements.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    amountMinor: bigint('amount_minor', { mode: 'bigint' }).notNull(),
    currency: text('currency').notNull(),
    /** CREDIT (money in) or DEBIT. */
    direction: text('direction').notNull(),
    status: text('status').notNull(),
    reversal: boolean('reversal').notNull(),
    bookingDate: date('booking_date'),
    valueDate: date('value_date'),
    reference: text('reference'),
    remittance: text('remittance'),
    counterpartyName: text('counterparty_name'),
    counterpartyAccount: text('counterparty_account'),
    bankReference: text('bank_reference'),
    expectedPaymentId: uuid('expected_payment_id'),
  },
  (t) => [index('bank_entries_statement').on(t.statementId, t.position), index('bank_entries_expected').on(t.expectedPaymentId)],
);

/** A payment the care group expects (a resident's fees invoice, a local-authority contribution): matched by reference. */
export const expectedPayments = bankingSchema.table('expected_payments', {
    organisationId: text('organisation_id').notNull(),
  id: uuid('id').primaryKey(),
  reference: text('reference').notNull(),
  amountMinor: bigint('amount_minor', { mode: 'bigint' }).notNull(),
  currency: text('currency').notNull(),
  receivedMinor: bigint('received_minor', { mode: 'bigint' }).notNull().default(sql`0`),
  /** EXPECTED, PART_PAID, PAID or OVERPAID. */
  status: text('status').notNull().default('EXPECTED'),
  payer: text('payer'),
  dueDate: date('due_date'),
  description: text('description'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [unique('expected_payments_org_reference').on(t.organisationId, t.reference)]);

export const bankingOutbox = outboxTable(bankingSchema);

/**
 * A payment the hub initiates through the bank's Open Banking API (UK domestic payment): the consent, the payer's
 * authorisation at the bank, the submission and its settlement. The idempotency keys are kept so a retry can never
 * pay twice.
 */
export const outgoingPayments = bankingSchema.table(
  'outgoing_payments',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    reference: text('reference').notNull(),
    amountMinor: bigint('amount_minor', { mode: 'bigint' }).notNull(),
    currency: text('currency').notNull(),
    creditorName: text('creditor_name').notNull(),
    creditorSortCode: text('creditor_sort_code').notNull(),
    creditorAccountNumber: text('creditor_account_number').notNull(),
    description: text('description'),
    /** CREATING_CONSENT, AWAITING_AUTHORISATION, SUBMITTING, IN_SETTLEMENT, COMPLETED, REJECTED or FAILED. */
    status: text('status').notNull(),
    consentId: text('consent_id'),
    consentIdempotencyKey: text('consent_idempotency_key').notNull(),
    paymentIdempotencyKey: text('payment_idempotency_key').notNull(),
    /** The OAuth state the bank sends back with the payer's decision (single use). */
    authState: text('auth_state').unique(),
    bankPaymentId: text('bank_payment_id'),
    error: text('error'),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('outgoing_payments_status').on(t.status)],
);
