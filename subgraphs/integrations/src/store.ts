import { and, asc, count, desc, eq, gt, lt, sql, type SQL } from 'drizzle-orm';
import { integrations, integrationsOutbox, syncedRecords, syncLogs, syncRuns, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type IntegrationRow = typeof integrations.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type SyncLogRow = typeof syncLogs.$inferSelect;
export type LogEntry = { level: 'INFO' | 'WARN' | 'ERROR'; message: string; data?: Record<string, unknown> };
type NewRun = Omit<typeof syncRuns.$inferInsert, 'organisationId'>;

/**
 * Queries of the integrations tables. Every function that reads or writes an organisation's rows takes the
 * organisation first and puts it in every WHERE and INSERT (runs, logs and synced records included).
 */
/** Retention, for every organisation at once (the daily job): records synced from other systems before `before` go. */
export async function deleteSyncedRecordsBefore(db: Db<Schema>, before: Date): Promise<number> {
  const rows = await db.delete(syncedRecords).where(lt(syncedRecords.receivedAt, before)).returning({ id: syncedRecords.externalId });
  return rows.length;
}

export function createIntegrationsStore(db: Db<Schema>) {
  // The hot reads are prepared once: drizzle builds their SQL a single time and the server plans it once.
  const orgPlaceholder = eq(integrations.organisationId, sql.placeholder('org'));
  const all = db.select().from(integrations).where(orgPlaceholder).orderBy(asc(integrations.createdAt), asc(integrations.id)).prepare('integrations_all');
  const someById = db
    .select()
    .from(integrations)
    .where(and(orgPlaceholder, sql`${integrations.id} = any(${sql.placeholder('ids')}::uuid[])`))
    .prepare('integrations_by_ids');
  const ofSystems = db
    .select()
    .from(integrations)
    .where(and(orgPlaceholder, sql`${integrations.externalSystemId} = any(${sql.placeholder('ids')}::uuid[])`))
    .orderBy(asc(integrations.createdAt))
    .prepare('integrations_of_systems');
  const ofOrg = (org: string, ...where: Array<SQL | undefined>) => and(eq(integrations.organisationId, org), ...where);
  const runOf = (org: string, ...where: Array<SQL | undefined>) => and(eq(syncRuns.organisationId, org), ...where);
  const logOf = (org: string, ...where: Array<SQL | undefined>) => and(eq(syncLogs.organisationId, org), ...where);
  const recordOf = (org: string, ...where: Array<SQL | undefined>) => and(eq(syncedRecords.organisationId, org), ...where);
  const announced = (org: string, e: OutboxEvent) => outboxRow({ ...e, organisationId: org });
  return {
    async insert(org: string, row: Omit<typeof integrations.$inferInsert, 'organisationId'>, announce: (r: IntegrationRow) => OutboxEvent): Promise<IntegrationRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx.insert(integrations).values({ ...row, organisationId: org }).returning();
        await tx.insert(integrationsOutbox).values(announced(org, announce(r!)));
        return r!;
      });
    },
    async byId(org: string, id: string): Promise<IntegrationRow | undefined> {
      const [r] = await db.select().from(integrations).where(ofOrg(org, eq(integrations.id, id)));
      return r;
    },
    async byIds(org: string, ids: readonly string[]): Promise<IntegrationRow[]> {
      if (!ids.length) return [];
      return someById.execute({ org, ids: [...ids] });
    },
    async list(org: string, f: { externalSystemId?: string | null; status?: string | null } = {}): Promise<IntegrationRow[]> {
      if (!f.externalSystemId && !f.status) return all.execute({ org });
      const where: SQL[] = [];
      if (f.externalSystemId) where.push(eq(integrations.externalSystemId, f.externalSystemId));
      if (f.status) where.push(eq(integrations.status, f.status));
      return db.select().from(integrations).where(ofOrg(org, ...where)).orderBy(asc(integrations.createdAt), asc(integrations.id));
    },
    async bySystems(org: string, systemIds: readonly string[]): Promise<IntegrationRow[]> {
      if (!systemIds.length) return [];
      return ofSystems.execute({ org, ids: [...systemIds] });
    },
    /** Background work only (queueing every schedule after a restart): every organisation's scheduled integrations, each naming its organisation. */
    async scheduledOfEveryOrganisation(): Promise<IntegrationRow[]> {
      return db.select().from(integrations).where(sql`(${integrations.syncSchedule} ->> 'enabled')::boolean is true`);
    },
    async setSchedule(org: string, id: string, schedule: IntegrationRow['syncSchedule']): Promise<IntegrationRow | undefined> {
      const [r] = await db
        .update(integrations)
        .set({ syncSchedule: schedule, scheduleVersion: sql`${integrations.scheduleVersion} + 1`, updatedAt: new Date() })
        .where(ofOrg(org, eq(integrations.id, id)))
        .returning();
      return r;
    },
    async createRun(org: string, row: NewRun): Promise<SyncRunRow> {
      const [r] = await db.insert(syncRuns).values({ ...row, organisationId: org }).returning();
      return r!;
    },
    /** Inserts the run unless one with its id exists; returns whichever is stored (of this organisation). */
    async createRunOnce(org: string, row: NewRun): Promise<SyncRunRow | undefined> {
      const [r] = await db.insert(syncRuns).values({ ...row, organisationId: org }).onConflictDoNothing({ target: syncRuns.id }).returning();
      if (r) return r;
      const [existing] = await db.select().from(syncRuns).where(runOf(org, eq(syncRuns.id, row.id)));
      return existing;
    },
    async runById(org: string, id: string): Promise<SyncRunRow | undefined> {
      const [r] = await db.select().from(syncRuns).where(runOf(org, eq(syncRuns.id, id)));
      return r;
    },
    async runs(org: string, integrationId: string, first: number): Promise<SyncRunRow[]> {
      return db.select().from(syncRuns).where(runOf(org, eq(syncRuns.integrationId, integrationId))).orderBy(desc(syncRuns.queuedAt), desc(syncRuns.id)).limit(first);
    },
    async startRun(org: string, runId: string, at: Date, announce: (r: SyncRunRow) => OutboxEvent): Promise<SyncRunRow | undefined> {
      // Only a queued run starts; a retried job after a crash restarts a RUNNING one from the beginning (upserts are idempotent).
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(syncRuns)
          .set({ status: 'RUNNING', startedAt: at, pages: 0, recordsReceived: 0, recordsStored: 0, errorCount: 0, error: null })
          .where(runOf(org, eq(syncRuns.id, runId), sql`${syncRuns.status} in ('QUEUED', 'RUNNING')`))
          .returning();
        if (r) await tx.insert(integrationsOutbox).values(announced(org, announce(r)));
        return r;
      });
    },
    /** One page: its records upserted, the run's counters and a log line, in one transaction. */
    async storePage(org: string, run: SyncRunRow, records: Array<{ externalId: string; data: Record<string, unknown> }>, log: LogEntry, skipped: number) {
      await db.transaction(async (tx) => {
        if (records.length) {
          await tx
            .insert(syncedRecords)
            .values(records.map((r) => ({ organisationId: org, integrationId: run.integrationId, externalId: r.externalId, data: r.data, runId: run.id })))
            .onConflictDoUpdate({
              target: [syncedRecords.integrationId, syncedRecords.externalId],
              set: { data: sql`excluded.data`, runId: sql`excluded.run_id`, receivedAt: sql`now()` },
              setWhere: eq(syncedRecords.organisationId, org),
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
          .where(runOf(org, eq(syncRuns.id, run.id)));
        await tx.insert(syncLogs).values({ organisationId: org, runId: run.id, integrationId: run.integrationId, ...log });
      });
    },
    async log(org: string, run: { id: string; integrationId: string }, entry: LogEntry) {
      await db.insert(syncLogs).values({ organisationId: org, runId: run.id, integrationId: run.integrationId, ...entry });
    },
    /** Ends a run and counts it on its integration, in one transaction. */
    async finishRun(org: string, run: SyncRunRow, ok: boolean, error: string | null, at: Date, entry: LogEntry, announce: (r: SyncRunRow) => OutboxEvent) {
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
          .where(runOf(org, eq(syncRuns.id, run.id)))
          .returning();
        if (!done) return;
        await tx.insert(integrationsOutbox).values(announced(org, announce(done)));
        await tx
          .update(integrations)
          .set({
            lastSyncAt: at,
            status: ok ? 'ACTIVE' : 'FAILING',
            updatedAt: at,
            ...(ok ? { successCount: sql`${integrations.successCount} + 1` } : { errorCount: sql`${integrations.errorCount} + 1` }),
          })
          .where(ofOrg(org, eq(integrations.id, run.integrationId)));
        await tx.insert(syncLogs).values({ organisationId: org, runId: run.id, integrationId: run.integrationId, ...entry });
      });
    },
    async logs(org: string, integrationId: string, first: number, runId?: string | null): Promise<SyncLogRow[]> {
      const where = runId ? logOf(org, eq(syncLogs.integrationId, integrationId), eq(syncLogs.runId, runId)) : logOf(org, eq(syncLogs.integrationId, integrationId));
      return db.select().from(syncLogs).where(where).orderBy(desc(syncLogs.id)).limit(first);
    },
    async runLogs(org: string, runId: string, first: number): Promise<SyncLogRow[]> {
      return db.select().from(syncLogs).where(logOf(org, eq(syncLogs.runId, runId))).orderBy(asc(syncLogs.id)).limit(first);
    },
    async records(org: string, integrationId: string, first: number, after?: string | null) {
      const mine = eq(syncedRecords.integrationId, integrationId);
      const rows = await db
        .select()
        .from(syncedRecords)
        .where(recordOf(org, mine, after ? gt(syncedRecords.externalId, after) : undefined))
        .orderBy(asc(syncedRecords.externalId))
        .limit(first + 1);
      const [total] = await db.select({ n: count() }).from(syncedRecords).where(recordOf(org, mine));
      const page = rows.slice(0, first);
      return { records: page, endCursor: rows.length > first ? page.at(-1)!.externalId : null, totalCount: Number(total?.n ?? 0) };
    },
  };
}

export type IntegrationsStore = ReturnType<typeof createIntegrationsStore>;
