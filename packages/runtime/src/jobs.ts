import PgBoss from 'pg-boss';
import type { Database } from './db.ts';
import type { Logger } from './logger.ts';

export interface JobOptions {
  /** When the job may first run. */
  startAfter?: Date;
  /** A deterministic id makes sending idempotent: a second send with the same id is a no-op (returns null). */
  id?: string;
  retryLimit?: number;
}

export interface QueueOptions {
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  /** Parallel workers in this process for the queue. */
  concurrency?: number;
}

export type JobHandler<T> = (data: T, job: { id: string; retryCount: number }) => Promise<void>;

/**
 * The hub's job queue: pg-boss, on the hub's own database. On a real server pg-boss has its own small pool;
 * on PGlite it runs through the same embedded connection, so a laptop gets the same durable queue with
 * retries, backoff and exactly-one delivery (SKIP LOCKED) that production has.
 */
export interface JobQueue {
  define<T extends object>(name: string, handler: JobHandler<T>, opts?: QueueOptions): Promise<void>;
  send<T extends object>(name: string, data: T, opts?: JobOptions): Promise<string | null>;
  stop(): Promise<void>;
}

export async function startJobQueue(database: Database<any>, log: Logger, pollSeconds: number): Promise<JobQueue> {
  const boss = new PgBoss(
    database.url
      ? { connectionString: database.url, max: 4, schedule: false, schema: 'pgboss' }
      : ({ db: database.executor, schedule: false, schema: 'pgboss' } as unknown as PgBoss.ConstructorOptions),
  );
  boss.on('error', (err: Error) => log.error({ err }, 'job queue error'));
  await boss.start();
  const created = new Set<string>();
  return {
    async define(name, handler, opts = {}) {
      if (!created.has(name)) {
        await boss.createQueue(name, {
          name,
          retryLimit: opts.retryLimit ?? 3,
          retryDelay: opts.retryDelaySeconds ?? 5,
          retryBackoff: opts.retryBackoff ?? true,
          expireInSeconds: opts.expireInSeconds ?? 15 * 60,
        });
        created.add(name);
      }
      for (let i = 0; i < (opts.concurrency ?? 1); i++) {
        await boss.work<any>(name, { pollingIntervalSeconds: pollSeconds, batchSize: 1 }, async (jobs) => {
          for (const job of jobs) {
            await handler(job.data, { id: job.id, retryCount: (job as { retryCount?: number }).retryCount ?? 0 });
          }
        });
      }
    },
    async send(name, data, opts = {}) {
      const options: PgBoss.SendOptions = {};
      if (opts.startAfter) options.startAfter = opts.startAfter;
      if (opts.id) options.id = opts.id;
      if (opts.retryLimit !== undefined) options.retryLimit = opts.retryLimit;
      return boss.send(name, data, options);
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
