import { and, asc, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import { apiCallStats, apis, metricsOutbox, type Schema } from '@hub/db';
import { outboxRow, uniqueViolation, type Db, type OutboxEvent } from '@hub/runtime';

export type ApiRow = typeof apis.$inferSelect;
export type NewApiRow = Omit<typeof apis.$inferInsert, 'organisationId'>;
export type StatRow = Omit<typeof apiCallStats.$inferSelect, 'organisationId'>;

/**
 * Queries of the metrics tables (the API registry and its call statistics). Every function takes the organisation
 * first and puts it in every WHERE and INSERT (the statistics included).
 */
export function createMetricsStore(db: Db<Schema>) {
  const announced = (org: string, e: OutboxEvent) => outboxRow({ ...e, organisationId: org });
  return {
    /** The API and the event announcing it; or which unique constraint it broke. */
    async insert(org: string, row: NewApiRow, announce: (r: ApiRow) => OutboxEvent): Promise<ApiRow | { taken: string }> {
      try {
        return await db.transaction(async (tx) => {
          const [r] = await tx
            .insert(apis)
            .values({ ...row, organisationId: org })
            .returning();
          await tx.insert(metricsOutbox).values(announced(org, announce(r!)));
          return r!;
        });
      } catch (err) {
        const taken = uniqueViolation(err);
        if (taken) return { taken };
        throw err;
      }
    },
    async update(org: string, id: string, set: Partial<NewApiRow>, announce: (r: ApiRow) => OutboxEvent): Promise<ApiRow | undefined> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(apis)
          .set({ ...set, updatedAt: new Date() })
          .where(and(eq(apis.organisationId, org), eq(apis.id, id)))
          .returning();
        if (r) await tx.insert(metricsOutbox).values(announced(org, announce(r)));
        return r;
      });
    },
    async byId(org: string, id: string): Promise<ApiRow | undefined> {
      return (await db.select().from(apis).where(and(eq(apis.organisationId, org), eq(apis.id, id))))[0];
    },
    byIds: (org: string, ids: readonly string[]) =>
      ids.length ? db.select().from(apis).where(and(eq(apis.organisationId, org), inArray(apis.id, [...ids]))) : Promise.resolve([]),
    list: (org: string) => db.select().from(apis).where(eq(apis.organisationId, org)).orderBy(asc(apis.name), asc(apis.version)),
    /** Adds one flush of one organisation's tallies to the stored rows (several processes add to the same rows). */
    async addStats(org: string, rows: StatRow[]): Promise<void> {
      if (!rows.length) return;
      await db
        .insert(apiCallStats)
        .values(rows.map((r) => ({ ...r, organisationId: org })))
        .onConflictDoUpdate({
          target: [apiCallStats.apiId, apiCallStats.minute, apiCallStats.outcome],
          set: {
            requests: sql`${apiCallStats.requests} + excluded.requests`,
            totalMs: sql`${apiCallStats.totalMs} + excluded.total_ms`,
            maxMs: sql`greatest(${apiCallStats.maxMs}, excluded.max_ms)`,
            buckets: sql`(select array_agg(coalesce(a, 0) + coalesce(b, 0) order by i) from unnest(${apiCallStats.buckets}, excluded.buckets) with ordinality as u(a, b, i))`,
          },
          setWhere: eq(apiCallStats.organisationId, org),
        });
    },
    stats: (org: string, apiId: string, from: Date, to: Date) =>
      db
        .select()
        .from(apiCallStats)
        .where(and(eq(apiCallStats.organisationId, org), eq(apiCallStats.apiId, apiId), gte(apiCallStats.minute, from), lt(apiCallStats.minute, to)))
        .orderBy(asc(apiCallStats.minute)),
  };
}

export type MetricsStore = ReturnType<typeof createMetricsStore>;
