import { and, desc, eq, lt } from 'drizzle-orm';
import { hmrcGrants, hmrcOutbox, vatSubmissions, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type GrantRow = typeof hmrcGrants.$inferSelect;
export type SubmissionRow = typeof vatSubmissions.$inferSelect;

/** Queries of the hmrc tables. */
export function createHmrcStore(db: Db<Schema>) {
  return {
    async grant(id: string): Promise<GrantRow | undefined> {
      return (await db.select().from(hmrcGrants).where(eq(hmrcGrants.id, id)))[0];
    },
    /** A new grant (the user authorised the hub again) and the event announcing it. */
    async saveGrant(row: GrantRow, announce: OutboxEvent): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.insert(hmrcGrants).values(row).onConflictDoUpdate({ target: hmrcGrants.id, set: { ...row } });
        await tx.insert(hmrcOutbox).values(outboxRow(announce));
      });
    },
    /** Refreshed tokens, only if nobody refreshed since `seen` (another process may have): false otherwise. */
    async replaceTokens(id: string, seen: string, next: Pick<GrantRow, 'sealed' | 'keyId' | 'scope' | 'accessExpiresAt' | 'refreshedAt'>): Promise<boolean> {
      const r = await db
        .update(hmrcGrants)
        .set(next)
        .where(and(eq(hmrcGrants.id, id), eq(hmrcGrants.sealed, seen)))
        .returning({ id: hmrcGrants.id });
      return r.length > 0;
    },
    async removeGrant(id: string): Promise<void> {
      await db.delete(hmrcGrants).where(eq(hmrcGrants.id, id));
    },
    async submission(vrn: string, periodKey: string): Promise<SubmissionRow | undefined> {
      return (await db.select().from(vatSubmissions).where(and(eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey))))[0];
    },
    /** Claims a period for submission; false when a submission of it already exists. */
    async claimSubmission(row: Pick<SubmissionRow, 'vrn' | 'periodKey' | 'body' | 'submittedBy'>): Promise<boolean> {
      const r = await db
        .insert(vatSubmissions)
        .values({ ...row, status: 'SENDING' })
        .onConflictDoNothing()
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /**
     * A submission left SENDING longer than `olderThan` ago (its process stopped mid-call): its outcome is unknown, so it
     * becomes FAILED with "no answer", and a retry reads the return back if HMRC says it was filed.
     */
    async expireSending(vrn: string, periodKey: string, olderThan: Date): Promise<boolean> {
      const r = await db
        .update(vatSubmissions)
        .set({ status: 'FAILED', error: 'no answer from HMRC: the submitting process stopped before it heard back' })
        .where(and(eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey), eq(vatSubmissions.status, 'SENDING'), lt(vatSubmissions.submittedAt, olderThan)))
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /** Re-claims a submission whose earlier attempt failed before HMRC accepted it. */
    async retryFailed(vrn: string, periodKey: string, body: Record<string, unknown>, by: string): Promise<boolean> {
      const r = await db
        .update(vatSubmissions)
        .set({ status: 'SENDING', body, submittedBy: by, submittedAt: new Date(), error: null })
        .where(and(eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey), eq(vatSubmissions.status, 'FAILED')))
        .returning({ vrn: vatSubmissions.vrn });
      return r.length > 0;
    },
    /** HMRC's receipt, and the event announcing the return, in one transaction. */
    async complete(vrn: string, periodKey: string, receipt: Record<string, unknown>, correlationId: string | null, announce: OutboxEvent): Promise<SubmissionRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx
          .update(vatSubmissions)
          .set({ status: 'ACCEPTED', receipt, correlationId, error: null })
          .where(and(eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey)))
          .returning();
        await tx.insert(hmrcOutbox).values(outboxRow(announce));
        return r!;
      });
    },
    async fail(vrn: string, periodKey: string, error: string): Promise<void> {
      await db
        .update(vatSubmissions)
        .set({ status: 'FAILED', error })
        .where(and(eq(vatSubmissions.vrn, vrn), eq(vatSubmissions.periodKey, periodKey), eq(vatSubmissions.status, 'SENDING')));
    },
    submissions: (vrn: string) => db.select().from(vatSubmissions).where(eq(vatSubmissions.vrn, vrn)).orderBy(desc(vatSubmissions.submittedAt)),
  };
}

export type HmrcStore = ReturnType<typeof createHmrcStore>;
