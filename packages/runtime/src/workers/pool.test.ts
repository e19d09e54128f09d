import { afterAll, describe, expect, it } from 'vitest';
import { HubError } from '../errors.ts';
import { createWorkerPool } from './pool.ts';

const pool = createWorkerPool({ name: 'test', module: new URL('./pool.test-tasks.ts', import.meta.url), threads: 2, timeoutMs: 1_500, maxMemoryMb: 64 });
afterAll(() => pool.close());

const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable(), (e: unknown) => e as HubError);

describe('the worker pool', () => {
  it('runs a TypeScript task module in worker threads, off the caller thread', async () => {
    expect(await pool.run('double', 21)).toBe(42);
    const { threadId } = await import('node:worker_threads');
    expect(await pool.run('threadId', null)).not.toBe(threadId);
  });

  it('hands back a HubError thrown in a worker with its code and details', async () => {
    const e = await failure(pool.run('refuse', 'no good'));
    expect(e).toBeInstanceOf(HubError);
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', message: 'no good', details: { field: 'why' } });
    expect(String((await failure(pool.run('crash', null))).message)).toContain('not a HubError');
  });

  it('stops a task past its time limit with TIMEOUT, while the caller thread goes on, then serves the next task', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const e = await failure(pool.run('backtrack', 40));
    clearInterval(timer);
    expect(e).toMatchObject({ code: 'TIMEOUT', details: { task: 'backtrack', timeoutMs: 1_500 } });
    expect(ticks).toBeGreaterThan(0); // this thread's timers ran while the worker was stuck
    expect(await pool.run('double', 2)).toBe(4);
  });

  it('ends a worker that outgrows its heap with PAYLOAD_TOO_LARGE, then serves the next task', async () => {
    // A pool of its own with time to spare: on a busy machine filling 64 MB can take longer than the other pool allows.
    const roomy = createWorkerPool({ name: 'roomy', module: new URL('./pool.test-tasks.ts', import.meta.url), threads: 1, timeoutMs: 20_000, maxMemoryMb: 64 });
    try {
      const e = await failure(roomy.run('hog', null));
      expect(e).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { maxMemoryMb: 64 } });
      expect(await roomy.run('double', 3)).toBe(6);
    } finally {
      await roomy.close();
    }
  });

  it('runs tasks side by side on its threads', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => pool.run<number>('threadId', null)));
    expect(new Set(ids).size).toBeGreaterThanOrEqual(1);
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('counts a task\'s time from when a worker starts it: one that waited for a thread still has all of its time', async () => {
    const stuck = [failure(pool.run('backtrack', 40)), failure(pool.run('backtrack', 40))]; // both threads, to their limit
    const waited = pool.run<number>('double', 5); // queued behind them for about the whole limit
    expect(await waited).toBe(10);
    for (const e of await Promise.all(stuck)) expect(e.code).toBe('TIMEOUT');
  });

  it('a caller signal cancels its task', async () => {
    const ac = new AbortController();
    const p = failure(pool.run('backtrack', 40, { signal: ac.signal }));
    ac.abort();
    expect(await p).toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('a pool that closes', () => {
  it('answers the tasks it drops that the process is shutting down, not an internal error', async () => {
    const closing = createWorkerPool({ name: 'closing', module: new URL('./pool.test-tasks.ts', import.meta.url), threads: 1, timeoutMs: 30_000, maxMemoryMb: 64 });
    // The one thread busy for a moment, and a task waiting behind it when the pool closes.
    const running = closing.run('backtrack', 24);
    while (closing.stats().running === 0) await new Promise((r) => setImmediate(r));
    const waiting = failure(closing.run('double', 1));
    await closing.close();
    expect(await waiting).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', details: { task: 'double', reason: 'shutting down' } });
    await running.catch(() => undefined);
  });
});
