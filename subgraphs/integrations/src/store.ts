import { and, asc, count, desc, eq, gt, sql, type SQL } from 'drizzle-orm';
import { integrations, integrationsOutbox, syncedRecords, syncLogs, syncRuns, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type IntegrationRow = typeof integrations.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type SyncLogRow = typeof syncLogs.$inferSelect;
export type LogEntry = { level: 'INFO' | 'WARN' | 'ERROR'; message: string; data?: Record<string, unknown> };

export function createIntegrationsStore(db: Db<Schema>) {
  // The hot reads are prepared once: drizzle builds their SQL a single time and the server plans it once.
  const all = db.select().from(integrations).orderBy(asc(integrations.createdAt), asc(integrations.id)).prepare('integrations_all');
  const someById = db
    .select()
    .from(integrations)
    .where(sql`${integrations.id} = any(${sql.placeholder('ids')}::uuid[])`)
    .prepare('integrations_by_ids');
  const ofSystems = db
    .select()
    .from(integrations)
    .where(sql`${integrations.externalSystemId} = any(${sql.placeholder('ids')}::uuid[])`)
    .orderBy(asc(integrations.createdAt))
    .prepare('integrations_of_systems');
  return {
    async insert(row: typeof integrations.$inferInsert, announce: (r: IntegrationRow) => OutboxEvent): Promise<IntegrationRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx.insert(integrations).values(row).returning();
        await tx.insert(integrationsOutbox).values(outboxRow(announce(r!)));
        return r!;
      });
    },
    async byId(id: string): Promise<IntegrationRow | undefined> {
      const [r] = await db.select().from(integrations).where(eq(integrations.id, id));
      return r;
    },
    async byIds(ids: readonly string[]): Promise<IntegrationRow[]> {
      if (!ids.length) return [];
      return someById.execute({ ids: [...ids] });
    },
    async list(f: { externalSystemId?: string | null; status?: string | null } = {}): Promise<IntegrationRow[]> {
      if (!f.externalSystemId && !f.status) return all.execute();
      const where: SQL[] = [];
      if (f.externalSystemId) where.push(eq(integrations.externalSystemId, f.externalSystemId));
      if (f.status) where.push(eq(integrations.status, f.status));
      return db.select().from(integrations).where(where.length ? and(...where) : undefined).orderBy(asc(integrations.createdAt), asc(integrations.id));
    },
    async bySystems(systemIds: readonly string[]): Promise<IntegrationRow[]> {
      if (!systemIds.length) return [];
      return ofSystems.execute({ ids: [...systemIds] });
    },
    async scheduled(): Promise<IntegrationRow[]> {
      return db.select().from(integrations).where(sql`(${integrations.syncSchedule} ->> 'enabled')::boolean is true`);
    },
    async setSchedule(id: string, schedule: IntegrationRow['syncSchedule']): Promise<IntegrationRow> {
      const [r] = await db
        .update(integrations)
        .set({ syncSchedule: schedule, scheduleVersion: sql`${integrations.scheduleVersion} + 1`, updatedAt: new Date() })
        .where(eq(integrations.id, id))
        .returning();
      return r!;
    },
    async createRun(row: typeof syncRuns.$inferInsert): Promise<SyncRunRow> {
      const [r] = await db.insert(syncRuns).values(row).returning();
      return r!;
    },
    /** Inserts the run unless one with its id exists; returns whichever is stored. */
    async createRunOnce(row: typeof syncRuns.$inferInsert): Promise<SyncRunRow> {
      const [r] = await db.insert(syncRuns).values(row).onConflictDoNothing({ target: syncRuns.id }).returning();
      if (r) return r;
      const [existing] = await db.select().from(syncRuns).where(eq(syncRuns.id, row.id));
      return existing!;
    },
    async runById(id: string): Promise<SyncRunRow | undefined> {
      const [r] = await db.select().from(syncRuns).where(eq(syncRuns.id, id));
      return r;
    },
    async runs(integrationId: string, first: number): Promise<SyncRunRow[]> {
      return db.select().from(syncRuns).where(eq(syncRuns.integrationId, integrationId)).orderBy(desc(syncRuns.queuedAt), desc(syncRuns.id)).limit(first);
    },
    async startRun(runId: string, at: Date, announce: (r: SyncRunRow) => OutboxEvent): Promise<SyncRunRow | undefined> {
      // Only a queued run starts; a retried job after a crash restarts a RUNNING one from the beginning (upserts are idempotent).
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(syncRuns)
          .set({ status: 'RUNNING', startedAt: at, pages: 0, recordsReceived: 0, recordsStored: 0, errorCount: 0, error: null })
          .where(and(eq(syncRuns.id, runId), sql`${syncRuns.status} in ('QUEUED', 'RUNNING')`))
          .returning();
        if (r) await tx.insert(integrationsOutbox).values(outboxRow(announce(r)));
        return r;
      });
    },
    /** One page: its records upserted, the run's counters and a log line, in one transaction. */
    async storePage(run: SyncRunRow, records: Array<{ externalId: string; data: Record<string, unknown> }>, log: LogEntry, skipped: number) {
      await db.transaction(async (tx) => {
        if (records.length) {
          await tx
            .insert(syncedRecords)
            .values(records.map((r) => ({ integrationId: run.integrationId, externalId: r.externalId, data: r.data, runId: run.id })))
            .onConflictDoUpdate({
              target: [syncedRecords.integrationId, syncedRecords.externalId],
              set: { data: sql`excluded.data`, runId: sql`excluded.run_id`, receivedAt: sql`now()` },
            });
        }
        await tx
          .update(syncRuns)
          .set({
            pages: sql`${syncRuns.pages} + 1`,
            recordsReceived: sql`${syncRuns.recordsReceived} + ${records.length + skipped}`,
            recordsStored: sql`${syncRuns.recordsStored} + ${records.length}`,
            errorCount: sql`${syncRuns.errorCount} + ${skipped}`,
          })
          .where(eq(syncRuns.id, run.id));
        await tx.insert(syncLogs).values({ runId: run.id, integrationId: run.integrationId, ...log });
      });
    },
    async log(run: { id: string; integrationId: string }, entry: LogEntry) {
      await db.insert(syncLogs).values({ runId: run.id, integrationId: run.integrationId, ...entry });
    },
    /** Ends a run and counts it on its integration, in one transaction. */
    async finishRun(run: SyncRunRow, ok: boolean, error: string | null, at: Date, entry: LogEntry, announce: (r: SyncRunRow) => OutboxEvent) {
      await db.transaction(async (tx) => {
        const [done] = await tx
          .update(syncRuns)
          .set({
            status: ok ? 'SUCCEEDED' : 'FAILED',
            finishedAt: at,
            durationMs: run.startedAt ? at.getTime() - run.startedAt.getTime() : null,
            error,
            ...(ok ? {} : { errorCount: sql`${syncRuns.errorCount} + 1` }),
          })
          .where(eq(syncRuns.id, run.id))
          .returning();
        await tx.insert(integrationsOutbox).values(outboxRow(announce(done!)));
        await tx
          .update(integrations)
          .set({
            lastSyncAt: at,
            status: ok ? 'ACTIVE' : 'FAILING',
            updatedAt: at,
            ...(ok ? { successCount: sql`${integrations.successCount} + 1` } : { errorCount: sql`${integrations.errorCount} + 1` }),
          })
          .where(eq(integrations.id, run.integrationId));
        await tx.insert(syncLogs).values({ runId: run.id, integrationId: run.integrationId, ...entry });
      });
    },
    async logs(integrationId: string, first: number, runId?: string | null): Promise<SyncLogRow[]> {
      const where = runId ? and(eq(syncLogs.integrationId, integrationId), eq(syncLogs.runId, runId)) : eq(syncLogs.integrationId, integrationId);
      return db.select().from(syncLogs).where(where).orderBy(desc(syncLogs.id)).limit(first);
    },
    async runLogs(runId: string, first: number): Promise<SyncLogRow[]> {
      return db.select().from(syncLogs).where(eq(syncLogs.runId, runId)).orderBy(asc(syncLogs.id)).limit(first);
    },
    async records(integrationId: string, first: number, after?: string | null) {
      const where = after ? and(eq(syncedRecords.integrationId, integrationId), gt(syncedRecords.externalId, after)) : eq(syncedRecords.integrationId, integrationId);
      const rows = await db.select().from(syncedRecords).where(where).orderBy(asc(syncedRecords.externalId)).limit(first + 1);
      const [total] = await db.select({ n: count() }).from(syncedRecords).where(eq(syncedRecords.integrationId, integrationId));
      const page = rows.slice(0, first);
      return { records: page, endCursor: rows.length > first ? page.at(-1)!.externalId : null, totalCount: Number(total?.n ?? 0) };
    },
  };
}

export type IntegrationsStore = ReturnType<typeof createIntegrationsStore>;
