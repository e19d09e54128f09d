import { and, desc, eq, lt } from 'drizzle-orm';
import { hmrcGrants, hmrcOutbox, vatSubmissions, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type GrantRow = typeof hmrcGrants.$inferSelect;
export type SubmissionRow = typeof vatSubmissions.$inferSelect;

/**
 * Queries of the hmrc tables. Every function takes the organisation first and reads and writes only its rows: a grant
 * or a return of another organisation is, to the caller, one that does not exist.
 */
export function createHmrcStore(db: Db<Schema>) {
  const grantIs = (org: string, id: string) => and(eq(hmrcGrants.organisationId, org), eq(hmrcGrants.id, id));
  const periodIs = (org: string, vrn: string, periodKey: string) =>
    and(eq(vatSubmissions.organisationId, org), eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey));
  return {
    async grant(org: string, id: string): Promise<GrantRow | undefined> {
      return (await db.select().from(hmrcGrants).where(grantIs(org, id)))[0];
    },
    /** A new grant (the user authorised the hub again) and the event announcing it. */
    async saveGrant(org: string, row: Omit<GrantRow, 'organisationId'>, announce: Omit<OutboxEvent, 'organisationId'>): Promise<void> {
      const owned = { ...row, organisationId: org };
      await db.transaction(async (tx) => {
        await tx.insert(hmrcGrants).values(owned).onConflictDoUpdate({ target: [hmrcGrants.organisationId, hmrcGrants.id], set: owned });
        await tx.insert(hmrcOutbox).values(outboxRow({ ...announce, organisationId: org }));
      });
    },
    /** Refreshed tokens, only if nobody refreshed since `seen` (another process may have): false otherwise. */
    async replaceTokens(org: string, id: string, seen: string, next: Pick<GrantRow, 'sealed' | 'keyId' | 'scope' | 'accessExpiresAt' | 'refreshedAt'>): Promise<boolean> {
      const r = await db
        .update(hmrcGrants)
        .set(next)
        .where(and(grantIs(org, id), eq(hmrcGrants.sealed, seen)))
        .returning({ id: hmrcGrants.id });
      return r.length > 0;
    },
    async removeGrant(org: string, id: string): Promise<void> {
      await db.delete(hmrcGrants).where(grantIs(org, id));
    },
    async submission(org: string, vrn: string, periodKey: string): Promise<SubmissionRow | undefined> {
      return (await db.select().from(vatSubmissions).where(periodIs(org, vrn, periodKey)))[0];
    },
    /** Claims a period for submission; false when a submission of it already exists (in this organisation). */
    async claimSubmission(org: string, row: Pick<SubmissionRow, 'vrn' | 'periodKey' | 'body' | 'submittedBy'>): Promise<boolean> {
      const r = await db
        .insert(vatSubmissions)
        .values({ ...row, organisationId: org, status: 'SENDING' })
        .onConflictDoNothing()
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /**
     * A submission left SENDING longer than `olderThan` ago (its process stopped mid-call): its outcome is unknown, so it
     * becomes FAILED with "no answer", and a retry reads the return back if HMRC says it was filed.
     */
    async expireSending(org: string, vrn: string, periodKey: string, olderThan: Date): Promise<boolean> {
      const r = await db
        .update(vatSubmissions)
        .set({ status: 'FAILED', error: 'no answer from HMRC: the submitting process stopped before it heard back' })
        .where(and(periodIs(org, vrn, periodKey), eq(vatSubmissions.status, 'SENDING'), lt(vatSubmissions.submittedAt, olderThan)))
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /** Re-claims a submission whose earlier attempt failed before HMRC accepted it. */
    async retryFailed(org: string, vrn: string, periodKey: string, body: Record<string, unknown>, by: string): Promise<boolean> {
      const r = await db
        .update(vatSubmissions)
        .set({ status: 'SENDING', body, submittedBy: by, submittedAt: new Date(), error: null })
        .where(and(periodIs(org, vrn, periodKey), eq(vatSubmissions.status, 'FAILED')))
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /** HMRC's receipt, and the event announcing the return, in one transaction. */
    async complete(org: string, vrn: string, periodKey: string, receipt: Record<string, unknown>, correlationId: string | null, announce: Omit<OutboxEvent, 'organisationId'>): Promise<SubmissionRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(vatSubmissions)
          .set({ status: 'ACCEPTED', receipt, correlationId, error: null })
          .where(periodIs(org, vrn, periodKey))
          .returning();
        await tx.insert(hmrcOutbox).values(outboxRow({ ...announce, organisationId: org }));
        return r!;
      });
    },
    async fail(org: string, vrn: string, periodKey: string, error: string): Promise<void> {
      await db
        .update(vatSubmissions)
        .set({ status: 'FAILED', error })
        .where(and(periodIs(org, vrn, periodKey), eq(vatSubmissions.status, 'SENDING')));
    },
    submissions: (org: string, vrn: string) =>
      db
        .select()
        .from(vatSubmissions)
        .where(and(eq(vatSubmissions.organisationId, org), eq(vatSubmissions.vrn, vrn)))
        .orderBy(desc(vatSubmissions.submittedAt)),
  };
}

export type HmrcStore = ReturnType<typeof createHmrcStore>;
