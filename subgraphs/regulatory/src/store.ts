import { and, asc, desc, eq, inArray, isNotNull, isNull, lte, type SQL } from 'drizzle-orm';
import { cqcLocations, cqcProviders, dbsChecks, regulatoryOrganisations, regulatoryOutbox, staffMembers, submissions, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type ProfileRow = typeof regulatoryOrganisations.$inferSelect;
export type LocationRow = typeof cqcLocations.$inferSelect;
export type ProviderRow = typeof cqcProviders.$inferSelect;
export type StaffRow = typeof staffMembers.$inferSelect;
export type DbsCheckRow = typeof dbsChecks.$inferSelect;
export type SubmissionRow = typeof submissions.$inferSelect;
export type FollowedFor = 'PROVIDER' | 'HOME' | 'EXPLICIT';

/** Which homes a caller sees: null is every home of its organisation. */
export type HomeScope = readonly string[] | null;

const inHomes = (scope: HomeScope): SQL | undefined => (scope === null ? undefined : inArray(staffMembers.homeId, scope.length ? [...scope] : ['']));

/**
 * Queries of the regulatory tables. Every function takes the organisation first and filters by it: a caller only
 * ever reaches its own organisation's profile, locations, staff and checks.
 */
export function createRegulatoryStore(db: Db<Schema>) {
  const announce = (tx: Pick<Db<Schema>, 'insert'>, org: string, events: OutboxEvent[]) =>
    events.length ? tx.insert(regulatoryOutbox).values(events.map((e) => outboxRow({ ...e, organisationId: org }))) : Promise.resolve();

  return {
    async profile(org: string): Promise<ProfileRow | undefined> {
      const [r] = await db.select().from(regulatoryOrganisations).where(eq(regulatoryOrganisations.organisationId, org));
      return r;
    },
    /** Creates the profile or changes the fields given; a new provider restarts the change feed from a full read. */
    async saveProfile(org: string, set: Partial<Pick<ProfileRow, 'name' | 'dbsContactForename' | 'dbsContactSurname' | 'cqcProviderId'>>): Promise<ProfileRow> {
      return db.transaction(async (tx) => {
        await tx.insert(regulatoryOrganisations).values({ organisationId: org }).onConflictDoNothing();
        const [before] = await tx.select().from(regulatoryOrganisations).where(eq(regulatoryOrganisations.organisationId, org)).for('update');
        const providerChanged = set.cqcProviderId !== undefined && set.cqcProviderId !== before!.cqcProviderId;
        const [r] = await tx
          .update(regulatoryOrganisations)
          .set({ ...set, ...(providerChanged ? { cqcChangesReadTo: null } : {}), updatedAt: new Date() })
          .where(eq(regulatoryOrganisations.organisationId, org))
          .returning();
        return r!;
      });
    },
    /** Organisations that follow anything on the CQC register (the scheduler starts their syncs). */
    async followingOrganisations(): Promise<string[]> {
      const rows = await db.selectDistinct({ org: cqcLocations.organisationId }).from(cqcLocations);
      const withProvider = await db.select({ org: regulatoryOrganisations.organisationId }).from(regulatoryOrganisations).where(isNotNull(regulatoryOrganisations.cqcProviderId));
      return [...new Set([...rows.map((r) => r.org), ...withProvider.map((r) => r.org)])];
    },
    async cqcSynced(org: string, set: { cqcChangesReadTo?: Date; cqcLastError: string | null }): Promise<void> {
      await db.insert(regulatoryOrganisations).values({ organisationId: org }).onConflictDoNothing();
      await db
        .update(regulatoryOrganisations)
        .set({ ...set, cqcLastSyncAt: new Date(), updatedAt: new Date() })
        .where(eq(regulatoryOrganisations.organisationId, org));
    },
    async provider(org: string, providerId: string): Promise<ProviderRow | undefined> {
      const [r] = await db
        .select()
        .from(cqcProviders)
        .where(and(eq(cqcProviders.organisationId, org), eq(cqcProviders.providerId, providerId)));
      return r;
    },
    async saveProvider(org: string, row: Omit<typeof cqcProviders.$inferInsert, 'organisationId'>): Promise<void> {
      const values = { ...row, organisationId: org, fetchedAt: new Date() };
      await db.insert(cqcProviders).values(values).onConflictDoUpdate({ target: [cqcProviders.organisationId, cqcProviders.providerId], set: values });
    },
    async locations(org: string, ids?: readonly string[]): Promise<LocationRow[]> {
      if (ids && !ids.length) return [];
      return db
        .select()
        .from(cqcLocations)
        .where(and(eq(cqcLocations.organisationId, org), ids ? inArray(cqcLocations.locationId, [...ids]) : undefined))
        .orderBy(asc(cqcLocations.name), asc(cqcLocations.locationId));
    },
    /**
     * Keeps the copy CQC answered, and the events its changes make, in one transaction. The copy held is read under
     * lock, so two syncs of one organisation announce one change once. A location followed already keeps its reason
     * unless this one is stronger (a home's beats the provider's).
     */
    async saveLocation(
      org: string,
      row: Omit<typeof cqcLocations.$inferInsert, 'organisationId' | 'fetchedAt' | 'changedAt'>,
      announce_: (before: LocationRow | undefined) => OutboxEvent[],
    ): Promise<{ row: LocationRow; events: number }> {
      return db.transaction(async (tx) => {
        const [before] = await tx
          .select()
          .from(cqcLocations)
          .where(and(eq(cqcLocations.organisationId, org), eq(cqcLocations.locationId, row.locationId)))
          .for('update');
        const events = announce_(before);
        const now = new Date();
        const followedFor = before && before.followedFor !== 'PROVIDER' && row.followedFor === 'PROVIDER' ? before.followedFor : row.followedFor;
        const values = { ...row, followedFor, homeId: row.homeId ?? before?.homeId ?? null, organisationId: org, fetchedAt: now, changedAt: events.length || !before ? now : before.changedAt };
        const [r] = await tx
          .insert(cqcLocations)
          .values(values)
          .onConflictDoUpdate({ target: [cqcLocations.organisationId, cqcLocations.locationId], set: values })
          .returning();
        await announce(tx, org, events);
        return { row: r!, events: events.length };
      });
    },

    /** The home that names a location its provider's list brought in: its events are that home's from now on. */
    async setLocationHome(org: string, locationId: string, homeId: string): Promise<void> {
      await db
        .update(cqcLocations)
        .set({ homeId })
        .where(and(eq(cqcLocations.organisationId, org), eq(cqcLocations.locationId, locationId), isNull(cqcLocations.homeId)));
    },

    async insertStaff(org: string, row: Omit<typeof staffMembers.$inferInsert, 'organisationId'>, event: OutboxEvent): Promise<StaffRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .insert(staffMembers)
          .values({ ...row, organisationId: org })
          .returning();
        await announce(tx, org, [event]);
        return r!;
      });
    },
    async staff(org: string, id: string): Promise<StaffRow | undefined> {
      const [r] = await db
        .select()
        .from(staffMembers)
        .where(and(eq(staffMembers.organisationId, org), eq(staffMembers.id, id)));
      return r;
    },
    async staffList(org: string, scope: HomeScope, homeId?: string | null): Promise<StaffRow[]> {
      return db
        .select()
        .from(staffMembers)
        .where(and(eq(staffMembers.organisationId, org), inHomes(scope), homeId ? eq(staffMembers.homeId, homeId) : undefined))
        .orderBy(asc(staffMembers.surname), asc(staffMembers.forename), asc(staffMembers.id));
    },
    async updateStaff(org: string, id: string, set: Partial<typeof staffMembers.$inferInsert>, event: OutboxEvent): Promise<StaffRow | undefined> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(staffMembers)
          .set({ ...set, updatedAt: new Date() })
          .where(and(eq(staffMembers.organisationId, org), eq(staffMembers.id, id)))
          .returning();
        if (r) await announce(tx, org, [event]);
        return r;
      });
    },
    /** Staff of every organisation whose scheduled status check is due, with consent (the scheduler's batch). */
    async dueDbsChecks(now: Date, limit: number): Promise<StaffRow[]> {
      return db
        .select()
        .from(staffMembers)
        .where(and(lte(staffMembers.nextDbsCheckAt, now), isNotNull(staffMembers.consentRecordedAt), isNotNull(staffMembers.dbsCertificateNumber)))
        .orderBy(asc(staffMembers.nextDbsCheckAt))
        .limit(limit);
    },
    /** A check's result, the member's next check, and its events, in one transaction. */
    async recordDbsCheck(org: string, check: Omit<typeof dbsChecks.$inferInsert, 'organisationId'>, nextCheckAt: Date | null, events: OutboxEvent[]): Promise<DbsCheckRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .insert(dbsChecks)
          .values({ ...check, organisationId: org })
          .returning();
        await tx
          .update(staffMembers)
          .set({ nextDbsCheckAt: nextCheckAt, updatedAt: new Date() })
          .where(and(eq(staffMembers.organisationId, org), eq(staffMembers.id, check.staffMemberId)));
        await announce(tx, org, events);
        return r!;
      });
    },
    async dbsChecks(org: string, staffMemberIds: readonly string[], first: number): Promise<DbsCheckRow[]> {
      if (!staffMemberIds.length) return [];
      return db
        .select()
        .from(dbsChecks)
        .where(and(eq(dbsChecks.organisationId, org), inArray(dbsChecks.staffMemberId, [...staffMemberIds])))
        .orderBy(desc(dbsChecks.checkedAt), desc(dbsChecks.id))
        .limit(first);
    },

    async insertSubmission(org: string, row: Omit<typeof submissions.$inferInsert, 'organisationId'>, event: (s: SubmissionRow) => OutboxEvent): Promise<SubmissionRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .insert(submissions)
          .values({ ...row, organisationId: org })
          .returning();
        await announce(tx, org, [event(r!)]);
        return r!;
      });
    },
    async submission(org: string, id: string): Promise<SubmissionRow | undefined> {
      const [r] = await db
        .select()
        .from(submissions)
        .where(and(eq(submissions.organisationId, org), eq(submissions.id, id)));
      return r;
    },
    async submissionList(org: string, q: { status?: string | null; first: number }): Promise<SubmissionRow[]> {
      return db
        .select()
        .from(submissions)
        .where(and(eq(submissions.organisationId, org), q.status ? eq(submissions.status, q.status) : undefined))
        .orderBy(desc(submissions.createdAt), desc(submissions.id))
        .limit(q.first);
    },
    /**
     * Moves a submission on, only from the states given (so two racing moves make one), with its event, in one
     * transaction. Undefined when it was not in one of them.
     */
    async moveSubmission(
      org: string,
      id: string,
      from: readonly string[],
      set: Partial<typeof submissions.$inferInsert>,
      event: ((s: SubmissionRow) => OutboxEvent) | null,
      extra?: SQL,
    ): Promise<SubmissionRow | undefined> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(submissions)
          .set({ ...set, updatedAt: new Date() })
          .where(and(eq(submissions.organisationId, org), eq(submissions.id, id), inArray(submissions.status, [...from]), extra))
          .returning();
        if (r && event) await announce(tx, org, [event(r)]);
        return r;
      });
    },
  };
}

export type RegulatoryStore = ReturnType<typeof createRegulatoryStore>;
