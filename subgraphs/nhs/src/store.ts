import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt } from 'drizzle-orm';
import { dischargeSummaries, nhsAudit, nhsOutbox } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';
import type { CallRecord } from './spine.ts';

export type DischargeRow = typeof dischargeSummaries.$inferSelect;
export type AuditRow = typeof nhsAudit.$inferSelect;

export function createNhsStore(db: Db) {
  return {
    /** Audit rows and the events announcing the calls commit together, many calls per transaction. */
    async recordCalls(calls: Array<{ record: CallRecord; event: OutboxEvent }>): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.insert(nhsAudit).values(
          calls.map(({ record: r }) => ({
            id: randomUUID(),
            actor: r.actor,
            requestId: r.requestId ?? null,
            api: r.api,
            operation: r.operation,
            nhsNumber: r.nhsNumber ?? null,
            outcome: r.outcome,
            httpStatus: r.httpStatus ?? null,
            latencyMs: r.latencyMs,
            upstreamRequestId: r.upstreamRequestId,
          })),
        );
        await tx.insert(nhsOutbox).values(calls.map((c) => outboxRow(c.event)));
      });
    },
    async announce(event: OutboxEvent): Promise<void> {
      await db.insert(nhsOutbox).values(outboxRow(event));
    },
    async audit(o: { nhsNumber?: string; first: number; before?: Date }): Promise<AuditRow[]> {
      const conds = [o.nhsNumber ? eq(nhsAudit.nhsNumber, o.nhsNumber) : undefined, o.before ? lt(nhsAudit.at, o.before) : undefined].filter(Boolean);
      return db
        .select()
        .from(nhsAudit)
        .where(conds.length ? and(...(conds as never[])) : undefined)
        .orderBy(desc(nhsAudit.at))
        .limit(o.first);
    },
    async insertDischarge(row: typeof dischargeSummaries.$inferInsert, event: OutboxEvent): Promise<DischargeRow> {
      return db.transaction(async (tx) => {
        const [inserted] = await tx.insert(dischargeSummaries).values(row).returning();
        await tx.insert(nhsOutbox).values(outboxRow(event));
        return inserted!;
      });
    },
    async discharge(id: string): Promise<DischargeRow | undefined> {
      const [row] = await db.select().from(dischargeSummaries).where(eq(dischargeSummaries.id, id));
      return row;
    },
    async dischargesOf(nhsNumber: string): Promise<DischargeRow[]> {
      return db.select().from(dischargeSummaries).where(eq(dischargeSummaries.nhsNumber, nhsNumber)).orderBy(desc(dischargeSummaries.createdAt));
    },
    /** Moves a summary on, announcing the move in the same transaction; only from the status it is expected in. */
    async updateDischarge(id: string, from: string[], set: Partial<typeof dischargeSummaries.$inferInsert>, event?: OutboxEvent): Promise<DischargeRow | undefined> {
      return db.transaction(async (tx) => {
        const [current] = await tx.select().from(dischargeSummaries).where(eq(dischargeSummaries.id, id)).for('update');
        if (!current || !from.includes(current.status)) return undefined;
        const [row] = await tx
          .update(dischargeSummaries)
          .set({ ...set, updatedAt: new Date() })
          .where(eq(dischargeSummaries.id, id))
          .returning();
        if (event && row!.status !== current.status) await tx.insert(nhsOutbox).values(outboxRow(event));
        return row;
      });
    },
  };
}

export type NhsStore = ReturnType<typeof createNhsStore>;
