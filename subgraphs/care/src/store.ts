import { and, asc, desc, eq, gte, inArray, isNull, isNotNull, or, type SQL } from 'drizzle-orm';
import { admissions, careOutbox, homes, organisations, residents, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type OrganisationRow = typeof organisations.$inferSelect;
export type HomeRow = typeof homes.$inferSelect;
export type AdmissionRow = typeof admissions.$inferSelect;

/** Which homes a caller sees: null is every home of its organisation. */
export type HomeScope = readonly string[] | null;

export interface AdmissionQuery {
  homes: HomeScope;
  homeId?: string | null;
  current?: boolean | null;
  first: number;
}

const inHomes = (scope: HomeScope): SQL | undefined => (scope === null ? undefined : inArray(admissions.homeId, scope.length ? [...scope] : ['']));

/**
 * Queries of the care tables. Every function takes the organisation first and filters by it: a caller can only ever
 * reach its own organisation's homes, stays and residents.
 */
export function createCareStore(db: Db<Schema>) {
  return {
    async organisation(org: string): Promise<OrganisationRow | undefined> {
      const [r] = await db.select().from(organisations).where(eq(organisations.id, org));
      return r;
    },
    async homes(org: string, scope: HomeScope): Promise<HomeRow[]> {
      const where = and(eq(homes.organisationId, org), scope === null ? undefined : inArray(homes.id, scope.length ? [...scope] : ['']));
      return db.select().from(homes).where(where).orderBy(asc(homes.name), asc(homes.id));
    },
    async homesByIds(org: string, ids: readonly string[]): Promise<HomeRow[]> {
      if (!ids.length) return [];
      return db
        .select()
        .from(homes)
        .where(and(eq(homes.organisationId, org), inArray(homes.id, [...ids])));
    },
    /**
     * The home, its organisation (created on the organisation's first write) and the event, in one transaction.
     * Undefined when the id is taken: home ids are global, as API keys name them.
     */
    async insertHome(org: string, row: Omit<typeof homes.$inferInsert, 'organisationId'>, announce: (h: HomeRow) => OutboxEvent): Promise<HomeRow | undefined> {
      return db.transaction(async (tx) => {
        await tx.insert(organisations).values({ id: org, name: org }).onConflictDoNothing({ target: organisations.id });
        const [h] = await tx
          .insert(homes)
          .values({ ...row, organisationId: org })
          .onConflictDoNothing({ target: homes.id })
          .returning();
        if (!h) return undefined;
        await tx.insert(careOutbox).values(outboxRow({ ...announce(h), organisationId: org }));
        return h;
      });
    },
    /**
     * A new stay, under the resident's pseudonym (made on their first admission), and its event in one transaction.
     * The resident's row is locked first, so two admissions of one person race to one stay. A current stay found
     * instead comes back as `current`.
     */
    async admit(
      org: string,
      a: { id: string; homeId: string; nhsNumber: string; admittedOn: string; admittedBy: string },
      newResidentId: string,
      announce: (r: AdmissionRow) => OutboxEvent,
    ): Promise<{ admission: AdmissionRow } | { current: AdmissionRow }> {
      return db.transaction(async (tx) => {
        await tx.insert(residents).values({ id: newResidentId, organisationId: org, nhsNumber: a.nhsNumber }).onConflictDoNothing({ target: [residents.organisationId, residents.nhsNumber] });
        const [resident] = await tx
          .select()
          .from(residents)
          .where(and(eq(residents.organisationId, org), eq(residents.nhsNumber, a.nhsNumber)))
          .for('update');
        const [current] = await tx
          .select()
          .from(admissions)
          .where(and(eq(admissions.organisationId, org), eq(admissions.nhsNumber, a.nhsNumber), isNull(admissions.dischargedOn)));
        if (current) return { current };
        const [r] = await tx
          .insert(admissions)
          .values({ ...a, organisationId: org, residentId: resident!.id })
          .returning();
        await tx.insert(careOutbox).values(outboxRow({ ...announce(r!), organisationId: org }));
        return { admission: r! };
      });
    },
    async admission(org: string, id: string): Promise<AdmissionRow | undefined> {
      const [r] = await db
        .select()
        .from(admissions)
        .where(and(eq(admissions.organisationId, org), eq(admissions.id, id)));
      return r;
    },
    async admissions(org: string, q: AdmissionQuery): Promise<AdmissionRow[]> {
      return db
        .select()
        .from(admissions)
        .where(
          and(
            eq(admissions.organisationId, org),
            inHomes(q.homes),
            q.homeId ? eq(admissions.homeId, q.homeId) : undefined,
            q.current === true ? isNull(admissions.dischargedOn) : q.current === false ? isNotNull(admissions.dischargedOn) : undefined,
          ),
        )
        .orderBy(desc(admissions.admittedOn), desc(admissions.createdAt))
        .limit(q.first);
    },
    /** Ends a current stay and announces it; undefined if it has ended already (or is not the organisation's). */
    async discharge(org: string, id: string, set: { dischargedOn: string; dischargedBy: string }, announce: (r: AdmissionRow) => OutboxEvent): Promise<AdmissionRow | undefined> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(admissions)
          .set({ ...set, updatedAt: new Date() })
          .where(and(eq(admissions.organisationId, org), eq(admissions.id, id), isNull(admissions.dischargedOn)))
          .returning();
        if (r) await tx.insert(careOutbox).values(outboxRow({ ...announce(r), organisationId: org }));
        return r;
      });
    },
    /**
     * The stay that lets the caller read a resident's records: a current one at one of its homes, else the latest
     * one at one of them that ended on or after `endedSince` (YYYY-MM-DD).
     */
    async stay(org: string, nhsNumber: string, scope: HomeScope, endedSince: string): Promise<AdmissionRow | undefined> {
      const [r] = await db
        .select()
        .from(admissions)
        .where(and(eq(admissions.organisationId, org), eq(admissions.nhsNumber, nhsNumber), inHomes(scope), or(isNull(admissions.dischargedOn), gte(admissions.dischargedOn, endedSince))))
        // Current stays first (nulls first in descending order), then the latest to end.
        .orderBy(desc(admissions.dischargedOn), desc(admissions.admittedOn))
        .limit(1);
      return r;
    },
    async residentId(org: string, nhsNumber: string): Promise<string | undefined> {
      const [r] = await db
        .select({ id: residents.id })
        .from(residents)
        .where(and(eq(residents.organisationId, org), eq(residents.nhsNumber, nhsNumber)));
      return r?.id;
    },
    /** The organisation's resident by pseudonym or NHS number (subject access and erasure). */
    async resident(org: string, by: { residentId?: string; nhsNumber?: string }): Promise<typeof residents.$inferSelect | undefined> {
      const [r] = await db
        .select()
        .from(residents)
        .where(and(eq(residents.organisationId, org), by.residentId ? eq(residents.id, by.residentId) : eq(residents.nhsNumber, by.nhsNumber!)));
      return r;
    },
    /** Every stay of the resident at the organisation's homes, oldest first. */
    async staysOf(org: string, residentId: string): Promise<AdmissionRow[]> {
      return db
        .select()
        .from(admissions)
        .where(and(eq(admissions.organisationId, org), eq(admissions.residentId, residentId)))
        .orderBy(asc(admissions.admittedOn), asc(admissions.createdAt));
    },
    /**
     * The last step of erasure: the resident's stays and the link from their pseudonym to their NHS number go, in one
     * transaction with the event that says so (which names the pseudonym only). Refused (undefined) while a stay is current.
     */
    async forget(org: string, residentId: string, announce: OutboxEvent): Promise<{ stays: number } | undefined> {
      return db.transaction(async (tx) => {
        const [resident] = await tx
          .select()
          .from(residents)
          .where(and(eq(residents.organisationId, org), eq(residents.id, residentId)))
          .for('update');
        if (!resident) return { stays: 0 };
        const [current] = await tx
          .select({ id: admissions.id })
          .from(admissions)
          .where(and(eq(admissions.organisationId, org), eq(admissions.residentId, residentId), isNull(admissions.dischargedOn)));
        if (current) return undefined;
        const stays = await tx
          .delete(admissions)
          .where(and(eq(admissions.organisationId, org), eq(admissions.residentId, residentId)))
          .returning({ id: admissions.id });
        await tx.delete(residents).where(and(eq(residents.organisationId, org), eq(residents.id, residentId)));
        await tx.insert(careOutbox).values(outboxRow({ ...announce, organisationId: org }));
        return { stays: stays.length };
      });
    },
    /** The NHS numbers behind these pseudonyms in the organisation. */
    async nhsNumbersOf(org: string, ids: readonly string[]): Promise<Map<string, string>> {
      if (!ids.length) return new Map();
      const rows = await db
        .select({ id: residents.id, nhsNumber: residents.nhsNumber })
        .from(residents)
        .where(and(eq(residents.organisationId, org), inArray(residents.id, [...ids])));
      return new Map(rows.map((r) => [r.id, r.nhsNumber]));
    },
    /** Which of these NHS numbers the organisation has ever admitted. */
    async knownResidents(org: string, nhsNumbers: readonly string[]): Promise<Set<string>> {
      if (!nhsNumbers.length) return new Set();
      const rows = await db
        .select({ nhsNumber: residents.nhsNumber })
        .from(residents)
        .where(and(eq(residents.organisationId, org), inArray(residents.nhsNumber, [...nhsNumbers])));
      return new Set(rows.map((r) => r.nhsNumber));
    },
  };
}

export type CareStore = ReturnType<typeof createCareStore>;
