import { deterministicUuid } from './ids.ts';
import type { JobQueue } from './jobs.ts';
import type { Logger } from './logger.ts';

/**
 * One kind of record and how long it is kept. `apply` removes (or redacts, where a row must stay, such as an event in
 * the gap-free log) what is older than `before`, and says how many records it touched.
 */
export interface RetentionPolicy {
  kind: string;
  days: number;
  apply(before: Date): Promise<number>;
}

const QUEUE = 'hub.retention';
const DAY_MS = 86_400_000;

/** The next run: 03:00 UTC after `from`, when care homes are quiet. */
export function nextRetentionRun(from: Date): Date {
  const next = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate(), 3));
  return next > from ? next : new Date(next.getTime() + DAY_MS);
}

/**
 * Enforces every policy once a day through the job queue: each run is queued under an id derived from its date, so
 * several processes (and restarts) queue it once, and one worker runs it.
 */
export function createRetention(jobs: JobQueue, policies: RetentionPolicy[], log: Logger) {
  async function run(now = new Date()): Promise<Record<string, number>> {
    const touched: Record<string, number> = {};
    for (const p of policies) {
      touched[p.kind] = await p.apply(new Date(now.getTime() - p.days * DAY_MS));
      if (touched[p.kind]) log.info({ kind: p.kind, days: p.days, records: touched[p.kind] }, 'retention applied');
    }
    return touched;
  }
  const schedule = (after: Date) => {
    const at = nextRetentionRun(after);
    return jobs.send(QUEUE, { at: at.toISOString() }, { startAfter: at, id: deterministicUuid(`${QUEUE}:${at.toISOString()}`) });
  };
  return {
    run,
    async start(): Promise<void> {
      if (!policies.length) return;
      await jobs.define<{ at: string }>(QUEUE, async (job) => {
        await run(new Date(job.at));
        await schedule(new Date(job.at));
      });
      await schedule(new Date());
    },
  };
}
