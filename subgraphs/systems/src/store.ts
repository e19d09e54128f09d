import { and, desc, eq, ilike, inArray, sql, type SQL } from 'drizzle-orm';
import { externalSystems, healthChecks, systemCredentials, systemsOutbox, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type SystemRow = typeof externalSystems.$inferSelect;
export type NewSystemRow = Omit<typeof externalSystems.$inferInsert, 'organisationId'>;
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

/**
 * Queries of the systems tables. Nothing outside the systems subgraph touches them. Every function that reads or
 * writes an organisation's rows takes the organisation first and puts it in every WHERE and INSERT (credentials and
 * health checks included), so a caller cannot reach another organisation's system by forgetting a filter.
 */
export function createSystemsStore(db: Db<Schema>) {
  // The hot reads are prepared once: drizzle builds their SQL a single time and the server plans it once.
  const all = db
    .select()
    .from(externalSystems)
    .where(eq(externalSystems.organisationId, sql.placeholder('org')))
    .orderBy(externalSystems.name)
    .prepare('systems_all');
  const someById = db
    .select()
    .from(externalSystems)
    .where(and(eq(externalSystems.organisationId, sql.placeholder('org')), sql`${externalSystems.id} = any(${sql.placeholder('ids')}::uuid[])`))
    .prepare('systems_by_ids');
  const ofOrg = (org: string, ...where: Array<SQL | undefined>) => and(eq(externalSystems.organisationId, org), ...where);
  const credsOf = (org: string, ...where: Array<SQL | undefined>) => and(eq(systemCredentials.organisationId, org), ...where);
  const announced = (org: string, e: OutboxEvent) => outboxRow({ ...e, organisationId: org });
  return {
    /** The new system and the event announcing it, in one transaction. */
    async insert(org: string, row: NewSystemRow, announce: (r: SystemRow) => OutboxEvent): Promise<SystemRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx.insert(externalSystems).values({ ...row, organisationId: org }).returning();
        await tx.insert(systemsOutbox).values(announced(org, announce(r!)));
        return r!;
      });
    },
    async byId(org: string, id: string): Promise<SystemRow | undefined> {
      const [r] = await db.select().from(externalSystems).where(ofOrg(org, eq(externalSystems.id, id)));
      return r;
    },
    async byIds(org: string, ids: readonly string[]): Promise<SystemRow[]> {
      if (ids.length === 0) return [];
      return someById.execute({ org, ids: [...ids] });
    },
    async byName(org: string, name: string): Promise<SystemRow | undefined> {
      const [r] = await db.select().from(externalSystems).where(ofOrg(org, eq(externalSystems.name, name)));
      return r;
    },
    async list(org: string, f: SystemFilter = {}): Promise<SystemRow[]> {
      if (!f.type && !f.status && !f.nameContains) return all.execute({ org });
      const where: SQL[] = [];
      if (f.type) where.push(eq(externalSystems.type, f.type));
      if (f.status) where.push(eq(externalSystems.status, f.status));
      if (f.nameContains) where.push(ilike(externalSystems.name, `%${f.nameContains.replace(/[%_\\]/g, '\\$&')}%`));
      return db
        .select()
        .from(externalSystems)
        .where(ofOrg(org, ...where))
        .orderBy(externalSystems.name);
    },
    async credentials(org: string, systemId: string): Promise<{ sealed: string; keyId: string } | undefined> {
      const [r] = await db.select().from(systemCredentials).where(credsOf(org, eq(systemCredentials.systemId, systemId)));
      return r;
    },
    /** Which of these systems have stored credentials (one query for a whole list). */
    async credentialed(org: string, ids: readonly string[]): Promise<Set<string>> {
      if (!ids.length) return new Set();
      const rows = await db.select({ id: systemCredentials.systemId }).from(systemCredentials).where(credsOf(org, inArray(systemCredentials.systemId, [...ids])));
      return new Set(rows.map((r) => r.id));
    },
    /**
     * Background work only (queueing every connected system's next check after a restart): the connected systems of
     * every organisation, each with its organisation, which the health check then acts with.
     */
    async connectedOfEveryOrganisation(): Promise<Array<{ organisationId: string; systemId: string }>> {
      return db.select({ organisationId: systemCredentials.organisationId, systemId: systemCredentials.systemId }).from(systemCredentials);
    },
    /** The outcome of a health check or handshake, its history row and (on a successful connect) the sealed credentials, in one transaction. */
    async recordHealth(
      org: string,
      systemId: string,
      o: HealthOutcome,
      sealed?: { sealed: string; keyId: string },
      onlyIfConnected = false,
      announce?: (before: SystemRow, after: SystemRow) => OutboxEvent | undefined,
    ): Promise<SystemRow | undefined> {
      return db.transaction(async (tx) => {
        const [before] = await tx.select().from(externalSystems).where(ofOrg(org, eq(externalSystems.id, systemId)));
        if (!before) return undefined;
        // A check that was under way when the system was disconnected must not bring its status back.
        if (onlyIfConnected) {
          const [c] = await tx
            .select({ id: systemCredentials.systemId })
            .from(systemCredentials)
            .where(credsOf(org, eq(systemCredentials.systemId, systemId)))
            .for('update');
          if (!c) return (await tx.select().from(externalSystems).where(ofOrg(org, eq(externalSystems.id, systemId))))[0];
        }
        if (sealed) {
          await tx
            .insert(systemCredentials)
            .values({ organisationId: org, systemId, ...sealed })
            .onConflictDoUpdate({ target: systemCredentials.systemId, set: { ...sealed, updatedAt: o.at }, setWhere: eq(systemCredentials.organisationId, org) });
        }
        await tx.insert(healthChecks).values({
          organisationId: org,
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
          .where(ofOrg(org, eq(externalSystems.id, systemId)))
          .returning();
        const event = announce?.(before, r!);
        if (event) await tx.insert(systemsOutbox).values(announced(org, event));
        return r!;
      });
    },
    async disconnect(org: string, systemId: string, announce: (r: SystemRow) => OutboxEvent): Promise<SystemRow | undefined> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(externalSystems)
          .set({ status: 'DISCONNECTED', updatedAt: new Date() })
          .where(ofOrg(org, eq(externalSystems.id, systemId)))
          .returning();
        if (!r) return undefined;
        await tx.delete(systemCredentials).where(credsOf(org, eq(systemCredentials.systemId, systemId)));
        await tx.insert(systemsOutbox).values(announced(org, announce(r)));
        return r;
      });
    },
    async healthHistory(org: string, systemId: string, last: number): Promise<HealthCheckRow[]> {
      return db
        .select()
        .from(healthChecks)
        .where(and(eq(healthChecks.organisationId, org), eq(healthChecks.systemId, systemId)))
        .orderBy(desc(healthChecks.checkedAt), desc(healthChecks.id))
        .limit(last);
    },
    /** Background work only (re-sealing under a new vault key, an operator's task): every organisation's credentials. */
    async credentialsOfEveryOrganisation(): Promise<Array<{ organisationId: string; systemId: string; sealed: string; keyId: string }>> {
      return db
        .select({ organisationId: systemCredentials.organisationId, systemId: systemCredentials.systemId, sealed: systemCredentials.sealed, keyId: systemCredentials.keyId })
        .from(systemCredentials);
    },
    async replaceSealed(org: string, systemId: string, sealed: string, keyId: string): Promise<void> {
      await db.update(systemCredentials).set({ sealed, keyId, updatedAt: new Date() }).where(credsOf(org, eq(systemCredentials.systemId, systemId)));
    },
  };
}

export type SystemsStore = ReturnType<typeof createSystemsStore>;
