import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { deadLetters, eventSubscriptions, type Schema } from '@hub/db';
import type { Db } from '@hub/runtime';

export type SubscriptionRow = typeof eventSubscriptions.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** Queries of the durable subscriptions and their dead letters. */
export function createSubscriptionsStore(db: Db<Schema>) {
  return {
    async insert(row: typeof eventSubscriptions.$inferInsert): Promise<SubscriptionRow> {
      const [r] = await db.insert(eventSubscriptions).values(row).returning();
      return r!;
    },
    async byId(id: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db.select().from(eventSubscriptions).where(eq(eventSubscriptions.id, id));
      return r;
    },
    list: () => db.select().from(eventSubscriptions).orderBy(eventSubscriptions.createdAt),
    active: () => db.select().from(eventSubscriptions).where(eq(eventSubscriptions.status, 'ACTIVE')),
    /** Takes the subscription for one worker until `until`; undefined when another worker holds it. */
    async lease(id: string, until: Date): Promise<SubscriptionRow | undefined> {
      const [r] = await db
        .update(eventSubscriptions)
        .set({ leaseUntil: until })
        .where(and(eq(eventSubscriptions.id, id), or(isNull(eventSubscriptions.leaseUntil), lt(eventSubscriptions.leaseUntil, sql`now()`))))
        .returning();
      return r;
    },
    async release(id: string) {
      await db.update(eventSubscriptions).set({ leaseUntil: null }).where(eq(eventSubscriptions.id, id));
    },
    async delivered(id: string, sequence: number) {
      await db
        .update(eventSubscriptions)
        .set({ offset: sequence, attempts: 0, lastError: null, nextAttemptAt: null, delivered: sql`${eventSubscriptions.delivered} + 1` })
        .where(eq(eventSubscriptions.id, id));
    },
    async failed(id: string, attempts: number, error: string, nextAttemptAt: Date) {
      await db.update(eventSubscriptions).set({ attempts, lastError: error, nextAttemptAt }).where(eq(eventSubscriptions.id, id));
    },
    /** Gives up on one event: it goes to the dead letters and delivery moves past it, in one transaction. */
    async deadLetter(s: SubscriptionRow, sequence: number, eventId: string, attempts: number, error: string) {
      await db.transaction(async (tx) => {
        await tx.insert(deadLetters).values({ subscriptionId: s.id, sequence, eventId, attempts, error });
        await tx.update(eventSubscriptions).set({ offset: sequence, attempts: 0, lastError: error, nextAttemptAt: null }).where(eq(eventSubscriptions.id, s.id));
      });
    },
    async setOffset(id: string, offset: number, status?: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db
        .update(eventSubscriptions)
        .set({ offset, attempts: 0, lastError: null, nextAttemptAt: null, ...(status ? { status } : {}) })
        .where(eq(eventSubscriptions.id, id))
        .returning();
      return r;
    },
    async setStatus(id: string, status: string): Promise<SubscriptionRow | undefined> {
      const [r] = await db.update(eventSubscriptions).set({ status }).where(eq(eventSubscriptions.id, id)).returning();
      return r;
    },
    deadLetters: (id: string, first: number) =>
      db.select().from(deadLetters).where(eq(deadLetters.subscriptionId, id)).orderBy(desc(deadLetters.id)).limit(first),
  };
}
