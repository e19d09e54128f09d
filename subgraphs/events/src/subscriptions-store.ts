import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { deadLetters, eventSubscriptions, type Schema } from '@hub/db';
import type { Db } from '@hub/runtime';

export type SubscriptionRow = typeof eventSubscriptions.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** Queries of the durable subscriptions and their dead letters, each within one organisation. */
export function createSubscriptionsStore(db: Db<Schema>) {
  const one = (org: string, id: string) => and(eq(eventSubscriptions.organisationId, org), eq(eventSubscriptions.id, id));
  return {
    async insert(org: string, row: Omit<typeof eventSubscriptions.$inferInsert, 'organisationId'>): Promise<SubscriptionRow> {
      const [r] = await db
        .insert(eventSubscriptions)
        .values({ ...row, organisationId: org })
        .returning();
      return r!;
    },
    async byId(org: string, id: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db.select().from(eventSubscriptions).where(one(org, id));
      return r;
    },
    list: (org: string) => db.select().from(eventSubscriptions).where(eq(eventSubscriptions.organisationId, org)).orderBy(eventSubscriptions.createdAt),
    /** Every organisation's active subscriptions: the delivery workers' round (each row then acts with its own organisation). */
    activeEverywhere: () => db.select().from(eventSubscriptions).where(eq(eventSubscriptions.status, 'ACTIVE')),
    /** Takes the subscription for one worker until `until`; undefined when another worker holds it. */
    async lease(org: string, id: string, until: Date): Promise<SubscriptionRow | undefined> {
      const [r] = await db
        .update(eventSubscriptions)
        .set({ leaseUntil: until })
        .where(and(one(org, id), or(isNull(eventSubscriptions.leaseUntil), lt(eventSubscriptions.leaseUntil, sql`now()`))))
        .returning();
      return r;
    },
    async release(org: string, id: string) {
      await db.update(eventSubscriptions).set({ leaseUntil: null }).where(one(org, id));
    },
    async delivered(org: string, id: string, sequence: number) {
      await db
        .update(eventSubscriptions)
        .set({ offset: sequence, attempts: 0, lastError: null, nextAttemptAt: null, delivered: sql`${eventSubscriptions.delivered} + 1` })
        .where(one(org, id));
    },
    async failed(org: string, id: string, attempts: number, error: string, nextAttemptAt: Date) {
      await db.update(eventSubscriptions).set({ attempts, lastError: error, nextAttemptAt }).where(one(org, id));
    },
    /** Gives up on one event: it goes to the dead letters and delivery moves past it, in one transaction. */
    async deadLetter(org: string, s: SubscriptionRow, sequence: number, eventId: string, attempts: number, error: string) {
      await db.transaction(async (tx) => {
        await tx.insert(deadLetters).values({ organisationId: org, subscriptionId: s.id, sequence, eventId, attempts, error });
        await tx.update(eventSubscriptions).set({ offset: sequence, attempts: 0, lastError: error, nextAttemptAt: null }).where(one(org, s.id));
      });
    },
    async setOffset(org: string, id: string, offset: number, status?: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db
        .update(eventSubscriptions)
        .set({ offset, attempts: 0, lastError: null, nextAttemptAt: null, ...(status ? { status } : {}) })
        .where(one(org, id))
        .returning();
      return r;
    },
    async setStatus(org: string, id: string, status: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db.update(eventSubscriptions).set({ status }).where(one(org, id)).returning();
      return r;
    },
    deadLetters: (org: string, id: string, first: number) =>
      db
        .select()
        .from(deadLetters)
        .where(and(eq(deadLetters.organisationId, org), eq(deadLetters.subscriptionId, id)))
        .orderBy(desc(deadLetters.id))
        .limit(first),
  };
}
