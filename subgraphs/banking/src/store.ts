import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { bankEntries, bankingOutbox, bankStatements, expectedPayments, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';
import { isBalanced, type Statement } from './camt053.ts';

export type StatementRow = typeof bankStatements.$inferSelect;
export type EntryRow = typeof bankEntries.$inferSelect;
export type ExpectedPaymentRow = typeof expectedPayments.$inferSelect;

/** A reference stands in a payment's text as a word of its own: INV-1 is not found in INV-10. */
function mentions(haystack: string, reference: string): boolean {
  const h = haystack.toUpperCase();
  const r = reference.toUpperCase();
  for (let i = h.indexOf(r); i !== -1; i = h.indexOf(r, i + 1)) {
    const before = h[i - 1];
    const after = h[i + r.length];
    if ((!before || !/[A-Z0-9]/.test(before)) && (!after || !/[A-Z0-9]/.test(after))) return true;
  }
  return false;
}

type Announcement = Omit<OutboxEvent, 'organisationId'>;

/**
 * Queries of the banking tables. Every function takes the organisation first and reads and writes only its rows
 * (joins included): a statement or payment of another organisation is, to the caller, one that does not exist.
 */
export function createBankingStore(db: Db<Schema>) {
  return {
    /**
     * Imports one statement and reconciles its credits, in one transaction: each booked credit whose end-to-end id
     * or remittance text names exactly one open expected payment of the importing organisation in its currency is
     * allocated to it. A statement already imported (same account and statement id) changes nothing and is
     * returned with `duplicate`.
     */
    async importStatement(org: string, s: Statement, by: string, announce: { imported: (r: StatementRow, matched: number) => Announcement; received: (p: ExpectedPaymentRow, e: EntryRow) => Announcement }) {
      const owned = (e: Announcement) => outboxRow({ ...e, organisationId: org });
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(bankStatements)
          .values({
            organisationId: org,
            id: randomUUID(),
            account: s.account,
            currency: s.currency,
            statementId: s.statementId,
            messageId: s.messageId,
            createdAt: s.createdAt,
            fromAt: s.from,
            toAt: s.to,
            openingMinor: s.opening?.minor ?? null,
            closingMinor: s.closing?.minor ?? null,
            balanceCurrency: s.opening?.currency ?? s.closing?.currency ?? null,
            balanced: isBalanced(s),
            importedBy: by,
          })
          .onConflictDoNothing()
          .returning();
        if (!row) {
          const [existing] = await tx
            .select()
            .from(bankStatements)
            .where(and(eq(bankStatements.organisationId, org), eq(bankStatements.account, s.account), eq(bankStatements.statementId, s.statementId)));
          return { statement: existing!, duplicate: true, matched: 0 };
        }
        const entries: EntryRow[] = s.entries.map((e, position) => ({ organisationId: org, id: randomUUID(), statementId: row.id, position, ...e, expectedPaymentId: null }));
        if (entries.length) await tx.insert(bankEntries).values(entries);
        let matched = 0;
        for (const e of entries) {
          if (e.direction !== 'CREDIT' || e.status !== 'BOOK' || e.reversal) continue;
          const said = `${e.reference ?? ''} ${e.remittance ?? ''}`;
          if (!said.trim()) continue;
          // Candidates by substring in SQL, then the word-boundary check here.
          const candidates = (
            await tx
              .select()
              .from(expectedPayments)
              .where(and(eq(expectedPayments.organisationId, org), eq(expectedPayments.currency, e.currency), sql`${expectedPayments.status} in ('EXPECTED', 'PART_PAID')`, sql`strpos(upper(${said}), upper(${expectedPayments.reference})) > 0`))
          ).filter((p) => mentions(said, p.reference));
          if (candidates.length !== 1) continue;
          const [paid] = await tx
            .update(expectedPayments)
            .set({
              receivedMinor: sql`${expectedPayments.receivedMinor} + ${e.amountMinor}`,
              status: sql`case when ${expectedPayments.receivedMinor} + ${e.amountMinor} = ${expectedPayments.amountMinor} then 'PAID' when ${expectedPayments.receivedMinor} + ${e.amountMinor} > ${expectedPayments.amountMinor} then 'OVERPAID' else 'PART_PAID' end`,
              updatedAt: new Date(),
            })
            .where(and(eq(expectedPayments.organisationId, org), eq(expectedPayments.id, candidates[0]!.id)))
            .returning();
          await tx.update(bankEntries).set({ expectedPaymentId: paid!.id }).where(and(eq(bankEntries.organisationId, org), eq(bankEntries.id, e.id)));
          e.expectedPaymentId = paid!.id;
          await tx.insert(bankingOutbox).values(owned(announce.received(paid!, e)));
          matched++;
        }
        await tx.insert(bankingOutbox).values(owned(announce.imported(row, matched)));
        return { statement: row, duplicate: false, matched };
      });
    },
    /** A new expected payment; null when its reference is already expected in this organisation. */
    async expect(org: string, row: Omit<typeof expectedPayments.$inferInsert, 'organisationId'>): Promise<ExpectedPaymentRow | null> {
      const [r] = await db
        .insert(expectedPayments)
        .values({ ...row, organisationId: org })
        .onConflictDoNothing()
        .returning();
      return r ?? null;
    },
    statements: (org: string, account: string | null | undefined, first: number) =>
      db
        .select()
        .from(bankStatements)
        .where(and(eq(bankStatements.organisationId, org), account ? eq(bankStatements.account, account) : undefined))
        .orderBy(desc(bankStatements.importedAt))
        .limit(first),
    async statement(org: string, id: string) {
      return (await db.select().from(bankStatements).where(and(eq(bankStatements.organisationId, org), eq(bankStatements.id, id))))[0];
    },
    entriesOf: (org: string, statementIds: readonly string[]) =>
      statementIds.length
        ? db
            .select()
            .from(bankEntries)
            .where(and(eq(bankEntries.organisationId, org), inArray(bankEntries.statementId, [...statementIds])))
            .orderBy(asc(bankEntries.position))
        : Promise.resolve([]),
    entriesFor: (org: string, paymentIds: readonly string[]) =>
      paymentIds.length
        ? db
            .select()
            .from(bankEntries)
            .where(and(eq(bankEntries.organisationId, org), inArray(bankEntries.expectedPaymentId, [...paymentIds])))
            .orderBy(asc(bankEntries.bookingDate), asc(bankEntries.position))
        : Promise.resolve([]),
    unmatched: (org: string, account: string | null | undefined) =>
      db
        .select({ e: bankEntries })
        .from(bankEntries)
        .innerJoin(bankStatements, and(eq(bankStatements.organisationId, org), eq(bankEntries.statementId, bankStatements.id)))
        .where(and(eq(bankEntries.organisationId, org), eq(bankEntries.direction, 'CREDIT'), sql`${bankEntries.expectedPaymentId} is null`, account ? eq(bankStatements.account, account) : undefined))
        .orderBy(desc(bankStatements.importedAt), asc(bankEntries.position)),
    payments: (org: string, status: string | null | undefined) =>
      db
        .select()
        .from(expectedPayments)
        .where(and(eq(expectedPayments.organisationId, org), status ? eq(expectedPayments.status, status) : undefined))
        .orderBy(asc(expectedPayments.createdAt)),
    paymentsByIds: (org: string, ids: readonly string[]) =>
      ids.length ? db.select().from(expectedPayments).where(and(eq(expectedPayments.organisationId, org), inArray(expectedPayments.id, [...ids]))) : Promise.resolve([]),
  };
}

export type BankingStore = ReturnType<typeof createBankingStore>;
