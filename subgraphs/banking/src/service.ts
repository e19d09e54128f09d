import { randomUUID } from 'node:crypto';
import { bankingOutbox } from '@hub/db';
import { badInput, conflict, createOutboxRelay, isUuid, type EventPublisher, type HubRuntime } from '@hub/runtime';
import { readCamt053 } from './camt053.ts';
import { fromMinor, toMinor } from './money.ts';
import { createPayments } from './payments.ts';
import { createBankingStore, type EntryRow, type ExpectedPaymentRow, type StatementRow } from './store.ts';

export interface ExpectPaymentInput {
  reference: string;
  amount: string;
  currency: string;
  payer?: string | null;
  dueDate?: string | null;
  description?: string | null;
}

const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9/._-]{2,34}$/;

export function createBankingService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createBankingStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'banking' });
  const relay = createOutboxRelay({ name: 'banking', db: rt.database.db, table: bankingOutbox, publisher, log });

  // What a finance reader of the events needs to follow money by: ids, references, amounts, statuses. Never the payer's
  // or counterparty's name or account, nor the remittance text, which stay in the hub's tables.
  const announce = {
    imported: (s: StatementRow, matched: number) => ({
      type: 'bank.statement_imported',
      source: 'hub.banking',
      payload: { statementId: s.id, account: s.account, bankStatementId: s.statementId, balanced: s.balanced, matchedPayments: matched },
    }),
    received: (p: ExpectedPaymentRow, e: EntryRow) => ({
      type: 'bank.payment_received',
      source: 'hub.banking',
      correlationId: p.reference,
      payload: { expectedPaymentId: p.id, reference: p.reference, amount: fromMinor(e.amountMinor, e.currency), currency: e.currency, received: fromMinor(p.receivedMinor, p.currency), status: p.status, entryId: e.id },
    }),
  };

  const payments = createPayments(rt, rt.database.db, () => relay.kick());

  return {
    outgoing: payments,
    /** Imports every statement of a camt.053 message (all or none: a bad one stops the import before anything is kept). */
    async importStatement(org: string, xml: string, actor: string) {
      const { statements } = readCamt053(xml);
      const out = [];
      for (const s of statements) {
        const r = await store.importStatement(org, s, actor, announce);
        out.push({ ...r.statement, duplicate: r.duplicate, matchedPayments: r.matched });
      }
      relay.kick();
      return out;
    },

    async expectPayment(org: string, input: ExpectPaymentInput) {
      const reference = input.reference.trim();
      if (!REFERENCE.test(reference)) throw badInput('reference must be 3 to 35 letters, digits or / . _ - (what the payer quotes: it travels in the bank payment)', { field: 'reference' });
      const amountMinor = toMinor(input.amount, input.currency, 'amount');
      if (amountMinor <= 0n) throw badInput('amount must be more than zero', { field: 'amount' });
      if (input.dueDate != null && (!/^\d{4}-\d{2}-\d{2}$/.test(input.dueDate) || Number.isNaN(Date.parse(input.dueDate)))) throw badInput('dueDate must be a date such as 2026-01-31', { field: 'dueDate' });
      const row = await store.expect(org, { id: randomUUID(), reference, amountMinor, currency: input.currency, payer: input.payer ?? null, dueDate: input.dueDate ?? null, description: input.description ?? null });
      if (!row) throw conflict(`a payment with reference ${reference} is already expected`, { field: 'reference' });
      return row;
    },

    statements: (org: string, account: string | null | undefined, first: number) => {
      if (first < 1 || first > 500) throw badInput('first must be 1 to 500', { field: 'first' });
      return store.statements(org, account, first);
    },
    statement: (org: string, id: string) => (isUuid(id) ? store.statement(org, id).then((r) => r ?? null) : null),
    entriesOf: store.entriesOf,
    entriesFor: store.entriesFor,
    paymentsByIds: store.paymentsByIds,
    unmatched: async (org: string, account: string | null | undefined) => (await store.unmatched(org, account)).map((r) => r.e),
    payments: (org: string, status: string | null | undefined) => store.payments(org, status),
    start: async () => {
      relay.start();
      await payments.startWorkers();
    },
    stop: () => relay.stop(),
  };
}

export type BankingService = ReturnType<typeof createBankingService>;
