import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, lt } from 'drizzle-orm';
import { dischargeSummaries, nhsAudit, nhsOutbox } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';
import type { CallRecord } from './spine.ts';

export type DischargeRow = typeof dischargeSummaries.$inferSelect;
export type AuditRow = typeof nhsAudit.$inferSelect;

/**
 * A PDS search's stated purpose travels in the audit row's operation (`SEARCH_PATIENTS: <purpose>`) until nhs.audit
 * has a column of its own for it.
 */
export const PURPOSE_SEPARATOR = ': ';

/** Queries of the nhs tables; every one takes the organisation first and reads or writes only its rows. */
export function createNhsStore(db: Db) {
  return {
    /** Audit rows and the events announcing the calls commit together, many calls per transaction. */
    async recordCalls(org: string, calls: Array<{ record: CallRecord; event: OutboxEvent }>): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.insert(nhsAudit).values(
          calls.map(({ record: r }) => ({
            organisationId: org,
            id: randomUUID(),
            actor: r.actor,
            requestId: r.requestId ?? null,
            api: r.api,
            operation: r.purpose ? `${r.operation}${PURPOSE_SEPARATOR}${r.purpose}` : r.operation,
            nhsNumber: r.nhsNumber ?? null,
            outcome: r.outcome,
            httpStatus: r.httpStatus ?? null,
            latencyMs: r.latencyMs,
            upstreamRequestId: r.upstreamRequestId,
          })),
        );
        await tx.insert(nhsOutbox).values(calls.map((c) => outboxRow({ ...c.event, organisationId: org })));
      });
    },
    async announce(org: string, event: OutboxEvent): Promise<void> {
      await db.insert(nhsOutbox).values(outboxRow({ ...event, organisationId: org }));
    },
    async audit(org: string, o: { nhsNumber?: string; first: number; before?: Date }): Promise<AuditRow[]> {
      return db
        .select()
        .from(nhsAudit)
        .where(and(eq(nhsAudit.organisationId, org), o.nhsNumber ? eq(nhsAudit.nhsNumber, o.nhsNumber) : undefined, o.before ? lt(nhsAudit.at, o.before) : undefined))
        .orderBy(desc(nhsAudit.at))
        .limit(o.first);
    },
    async insertDischarge(org: string, row: Omit<typeof dischargeSummaries.$inferInsert, 'organisationId'>, event: OutboxEvent): Promise<DischargeRow> {
      return db.transaction(async (tx) => {
        const [inserted] = await tx
          .insert(dischargeSummaries)
          .values({ ...row, organisationId: org })
          .returning();
        await tx.insert(nhsOutbox).values(outboxRow({ ...event, organisationId: org }));
        return inserted!;
      });
    },
    async discharge(org: string, id: string): Promise<DischargeRow | undefined> {
      const [row] = await db
        .select()
        .from(dischargeSummaries)
        .where(and(eq(dischargeSummaries.organisationId, org), eq(dischargeSummaries.id, id)));
      return row;
    },
    async dischargesOf(org: string, nhsNumber: string): Promise<DischargeRow[]> {
      return db
        .select()
        .from(dischargeSummaries)
        .where(and(eq(dischargeSummaries.organisationId, org), eq(dischargeSummaries.nhsNumber, nhsNumber)))
        .orderBy(desc(dischargeSummaries.createdAt));
    },
    /** Subject access: every call the hub made to the NHS about this resident for the organisation, oldest first. */
    async callsAbout(org: string, nhsNumber: string, limit: number): Promise<AuditRow[]> {
      return db
        .select()
        .from(nhsAudit)
        .where(and(eq(nhsAudit.organisationId, org), eq(nhsAudit.nhsNumber, nhsNumber)))
        .orderBy(asc(nhsAudit.at))
        .limit(limit);
    },
    /**
     * Erasure of one resident's personal data from the organisation's NHS tables, in one transaction: their discharge
     * summaries go (the FHIR documents hold their name, history and care), and the record of each call the hub made
     * keeps what was done, when and by whom, without the NHS number.
     */
    async eraseResident(org: string, nhsNumber: string): Promise<{ dischargeSummaries: number; nhsCalls: number }> {
      return db.transaction(async (tx) => {
        const gone = await tx
          .delete(dischargeSummaries)
          .where(and(eq(dischargeSummaries.organisationId, org), eq(dischargeSummaries.nhsNumber, nhsNumber)))
          .returning({ id: dischargeSummaries.id });
        const calls = await tx
          .update(nhsAudit)
          .set({ nhsNumber: null })
          .where(and(eq(nhsAudit.organisationId, org), eq(nhsAudit.nhsNumber, nhsNumber)))
          .returning({ id: nhsAudit.id });
        return { dischargeSummaries: gone.length, nhsCalls: calls.length };
      });
    },
    /** Moves a summary on, announcing the move in the same transaction; only from the status it is expected in. */
    async updateDischarge(org: string, id: string, from: string[], set: Partial<typeof dischargeSummaries.$inferInsert>, event?: OutboxEvent): Promise<DischargeRow | undefined> {
      const mine = and(eq(dischargeSummaries.organisationId, org), eq(dischargeSummaries.id, id));
      return db.transaction(async (tx) => {
        const [current] = await tx.select().from(dischargeSummaries).where(mine).for('update');
        if (!current || !from.includes(current.status)) return undefined;
        const { organisationId: _, ...changes } = set;
        const [row] = await tx
          .update(dischargeSummaries)
          .set({ ...changes, updatedAt: new Date() })
          .where(mine)
          .returning();
        if (event && row!.status !== current.status) await tx.insert(nhsOutbox).values(outboxRow({ ...event, organisationId: org }));
        return row;
      });
    },
  };
}

export type NhsStore = ReturnType<typeof createNhsStore>;
