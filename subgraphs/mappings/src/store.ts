import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { mappings, mappingsOutbox, mappingVersions, type Schema } from '@hub/db';
import { outboxRow, uniqueViolation, type Db, type OutboxEvent } from '@hub/runtime';

export type MappingRow = typeof mappings.$inferSelect;
export type MappingVersionRow = typeof mappingVersions.$inferSelect;
export type MappingContent = Pick<MappingRow, 'description' | 'sourceFormat' | 'targetFormat' | 'rules' | 'targetSchema'>;

/**
 * Queries of the mappings tables. A mapping's versions are kept whole and never changed; the head row is the current
 * one. Every function takes the organisation first and puts it in every WHERE and INSERT (versions included).
 */
export function createMappingsStore(db: Db<Schema>) {
  const byId = db
    .select()
    .from(mappings)
    .where(and(eq(mappings.organisationId, sql.placeholder('org')), eq(mappings.id, sql.placeholder('id'))))
    .prepare('mappings_by_id');
  const announced = (org: string, e: OutboxEvent) => outboxRow({ ...e, organisationId: org });
  return {
    /** The new mapping, its first version and the event announcing it, in one transaction; null if the name is taken. */
    async insert(org: string, row: { id: string; name: string } & MappingContent, announce: (r: MappingRow) => OutboxEvent): Promise<MappingRow | null> {
      try {
        return await db.transaction(async (tx) => {
          const [r] = await tx.insert(mappings).values({ ...row, organisationId: org, version: 1 }).returning();
          await tx.insert(mappingVersions).values({ organisationId: org, mappingId: r!.id, version: 1, ...content(row) });
          await tx.insert(mappingsOutbox).values(announced(org, announce(r!)));
          return r!;
        });
      } catch (err) {
        if (uniqueViolation(err)) return null;
        throw err;
      }
    },
    /**
     * A new version, if the caller saw the current one (optimistic concurrency: two editors cannot both win);
     * null when it was not the current version.
     */
    async update(org: string, id: string, expectedVersion: number, next: MappingContent, announce: (r: MappingRow) => OutboxEvent): Promise<MappingRow | null> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(mappings)
          .set({ ...content(next), version: sql`${mappings.version} + 1`, updatedAt: new Date() })
          .where(and(eq(mappings.organisationId, org), eq(mappings.id, id), eq(mappings.version, expectedVersion)))
          .returning();
        if (!r) return null;
        await tx.insert(mappingVersions).values({ organisationId: org, mappingId: id, version: r.version, ...content(next) });
        await tx.insert(mappingsOutbox).values(announced(org, announce(r)));
        return r;
      });
    },
    async remove(org: string, id: string, announce: (r: MappingRow) => OutboxEvent): Promise<MappingRow | null> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .delete(mappings)
          .where(and(eq(mappings.organisationId, org), eq(mappings.id, id)))
          .returning();
        if (r) await tx.insert(mappingsOutbox).values(announced(org, announce(r)));
        return r ?? null;
      });
    },
    async byId(org: string, id: string): Promise<MappingRow | undefined> {
      return (await byId.execute({ org, id }))[0];
    },
    async byIds(org: string, ids: readonly string[]): Promise<MappingRow[]> {
      if (!ids.length) return [];
      return db.select().from(mappings).where(and(eq(mappings.organisationId, org), inArray(mappings.id, [...ids])));
    },
    list: (org: string) => db.select().from(mappings).where(eq(mappings.organisationId, org)).orderBy(asc(mappings.name)),
    async version(org: string, id: string, version: number): Promise<MappingVersionRow | undefined> {
      const [r] = await db
        .select()
        .from(mappingVersions)
        .where(and(eq(mappingVersions.organisationId, org), eq(mappingVersions.mappingId, id), eq(mappingVersions.version, version)));
      return r;
    },
    versions: (org: string, id: string) =>
      db
        .select()
        .from(mappingVersions)
        .where(and(eq(mappingVersions.organisationId, org), eq(mappingVersions.mappingId, id)))
        .orderBy(desc(mappingVersions.version)),
  };
}

const content = (c: MappingContent): MappingContent => ({
  description: c.description,
  sourceFormat: c.sourceFormat,
  targetFormat: c.targetFormat,
  rules: c.rules,
  targetSchema: c.targetSchema,
});

export type MappingsStore = ReturnType<typeof createMappingsStore>;
