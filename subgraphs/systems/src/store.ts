import { and, desc, eq, ilike, inArray, sql, type SQL } from 'drizzle-orm';
import { externalSystems, healthChecks, systemCredentials, systemsOutbox, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type SystemRow = typeof externalSystems.$inferSelect;
export type NewSystemRow = typeof externalSystems.$inferInsert;
export type HealthCheckRow = typeof healthChecks.$inferSelect;

export interface SystemFilter {
  type?: string | null;
  status?: string | null;
  nameContains?: string | null;
}

export interface HealthOutcome {
  ok: boolean;
  latencyMs: number | null;
  httpStatus: number | null;
  error: string | null;
  status: string;
  trigger: string;
  connected: boolean;
  at: Date;
}

/** Queries of the systems tables. Nothing outside the systems subgraph touches them. */
export function createSystemsStore(db: Db<Schema>) {
  // The hot reads are prepared once: drizzle builds their SQL a single time and the server plans it once.
  const all = db.select().from(externalSystems).orderBy(externalSystems.name).prepare('systems_all');
  const someById = db
    .select()
    .from(externalSystems)
    .where(sql`${externalSystems.id} = any(${sql.placeholder('ids')}::uuid[])`)
    .prepare('systems_by_ids');
  return {
    /** The new system and the event announcing it, in one transaction. */
    async insert(row: NewSystemRow, announce: (r: SystemRow) => OutboxEvent): Promise<SystemRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx.insert(externalSystems).values(row).returning();
        await tx.insert(systemsOutbox).values(outboxRow(announce(r!)));
        return r!;
      });
    },
    async byId(id: string): Promise<SystemRow | undefined> {
      const [r] = await db.select().from(externalSystems).where(eq(externalSystems.id, id));
      return r;
    },
    async byIds(ids: readonly string[]): Promise<SystemRow[]> {
      if (ids.length === 0) return [];
      return someById.execute({ ids: [...ids] });
    },
    async byName(name: string): Promise<SystemRow | undefined> {
      const [r] = await db.select().from(externalSystems).where(eq(externalSystems.name, name));
      return r;
    },
    async list(f: SystemFilter = {}): Promise<SystemRow[]> {
      if (!f.type && !f.status && !f.nameContains) return all.execute();
      const where: SQL[] = [];
      if (f.type) where.push(eq(externalSystems.type, f.type));
      if (f.status) where.push(eq(externalSystems.status, f.status));
      if (f.nameContains) where.push(ilike(externalSystems.name, `%${f.nameContains.replace(/[%_\\]/g, '\\$&')}%`));
      return db
        .select()
        .from(externalSystems)
        .where(where.length ? and(...where) : undefined)
        .orderBy(externalSystems.name);
    },
    async credentials(systemId: string): Promise<{ sealed: string; keyId: string } | undefined> {
      const [r] = await db.select().from(systemCredentials).where(eq(systemCredentials.systemId, systemId));
      return r;
    },
    /** Which of these systems have stored credentials (one query for a whole list). */
    async credentialed(ids: readonly string[]): Promise<Set<string>> {
      if (!ids.length) return new Set();
      const rows = await db.select({ id: systemCredentials.systemId }).from(systemCredentials).where(inArray(systemCredentials.systemId, [...ids]));
      return new Set(rows.map((r) => r.id));
    },
    async systemsWithCredentials(): Promise<Set<string>> {
      const rows = await db.select({ id: systemCredentials.systemId }).from(systemCredentials);
      return new Set(rows.map((r) => r.id));
    },
    /** The outcome of a health check or handshake, its history row and (on a successful connect) the sealed credentials, in one transaction. */
    async recordHealth(
      systemId: string,
      o: HealthOutcome,
      sealed?: { sealed: string; keyId: string },
      onlyIfConnected = false,
      announce?: (before: SystemRow, after: SystemRow) => OutboxEvent | undefined,
    ): Promise<SystemRow> {
      return db.transaction(async (tx) => {
        const [before] = await tx.select().from(externalSystems).where(eq(externalSystems.id, systemId));
        // A check that was under way when the system was disconnected must not bring its status back.
        if (onlyIfConnected) {
          const [c] = await tx.select({ id: systemCredentials.systemId }).from(systemCredentials).where(eq(systemCredentials.systemId, systemId)).for('update');
          if (!c) return (await tx.select().from(externalSystems).where(eq(externalSystems.id, systemId)))[0]!;
        }
        if (sealed) {
          await tx
            .insert(systemCredentials)
            .values({ systemId, ...sealed })
            .onConflictDoUpdate({ target: systemCredentials.systemId, set: { ...sealed, updatedAt: o.at } });
        }
        await tx.insert(healthChecks).values({
          systemId,
          checkedAt: o.at,
          ok: o.ok,
          latencyMs: o.latencyMs,
          httpStatus: o.httpStatus,
          error: o.error,
          trigger: o.trigger,
        });
        const [r] = await tx
          .update(externalSystems)
          .set({
            status: o.status,
            lastCheckedAt: o.at,
            lastLatencyMs: o.latencyMs,
            lastHttpStatus: o.httpStatus,
            lastError: o.error,
            updatedAt: o.at,
            ...(o.connected ? { lastConnected: o.at } : {}),
          })
          .where(eq(externalSystems.id, systemId))
          .returning();
        const event = announce?.(before!, r!);
        if (event) await tx.insert(systemsOutbox).values(outboxRow(event));
        return r!;
      });
    },
    async disconnect(systemId: string, announce: (r: SystemRow) => OutboxEvent): Promise<SystemRow> {
      return db.transaction(async (tx) => {
        await tx.delete(systemCredentials).where(eq(systemCredentials.systemId, systemId));
        const [r] = await tx
          .update(externalSystems)
          .set({ status: 'DISCONNECTED', updatedAt: new Date() })
          .where(eq(externalSystems.id, systemId))
          .returning();
        await tx.insert(systemsOutbox).values(outboxRow(announce(r!)));
        return r!;
      });
    },
    async healthHistory(systemId: string, last: number): Promise<HealthCheckRow[]> {
      return db
        .select()
        .from(healthChecks)
        .where(eq(healthChecks.systemId, systemId))
        .orderBy(desc(healthChecks.checkedAt), desc(healthChecks.id))
        .limit(last);
    },
    async allCredentials(): Promise<Array<{ systemId: string; sealed: string; keyId: string }>> {
      return db.select({ systemId: systemCredentials.systemId, sealed: systemCredentials.sealed, keyId: systemCredentials.keyId }).from(systemCredentials);
    },
    async replaceSealed(systemId: string, sealed: string, keyId: string): Promise<void> {
      await db.update(systemCredentials).set({ sealed, keyId, updatedAt: new Date() }).where(eq(systemCredentials.systemId, systemId));
    },
  };
}

export type SystemsStore = ReturnType<typeof createSystemsStore>;
