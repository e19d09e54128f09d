import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { HubError, type ErrorCode } from '../errors.ts';

/**
 * A pool of worker threads for CPU-heavy and caller-programmable work (transforms, format conversions, caller JSON
 * Schemas, FHIRPath): the event loop that answers every other request never runs it. Each task has a time limit
 * (the worker running it is terminated when it is up: a regular expression that backtracks for ever, say, is
 * stopped from outside, which nothing inside a thread can do) and each worker a heap limit (a document that needs
 * more memory ends its worker, not the process). Either way the caller gets a clear error and the pool starts a
 * fresh worker for the next task.
 */
export interface WorkerPoolOptions {
  /** For metrics and messages: `mappings`. */
  name: string;
  /** The task module (TypeScript or JavaScript): it exports `tasks`, an object of functions of one argument. */
  module: URL;
  /** Worker threads at most (default: one less than the CPUs, at least 1, at most 4). */
  threads?: number;
  /** How long one task may run, in milliseconds. */
  timeoutMs: number;
  /** Old-generation heap of each worker, in MB. */
  maxMemoryMb: number;
  /** Tasks waiting for a thread at most; past it a task is refused (RATE_LIMITED) rather than queued. */
  maxQueue?: number;
  metrics?: Registry;
  /** A worker that failed outside any task (its module did not load, say); without it such an error is dropped. */
  onError?: (err: Error) => void;
}

export interface WorkerPool {
  run<T>(task: string, input: unknown, opts?: { signal?: AbortSignal }): Promise<T>;
  /** Starts a worker now, in the background, so that the first task does not wait for one to load. */
  warm(): void;
  /** Tasks running now and waiting, for readiness and tests. */
  stats(): { running: number; queued: number; threads: number; completed: number };
  close(): Promise<void>;
}

const WORKER = new URL('./worker.mjs', import.meta.url);

export const defaultWorkerThreads = () => Math.max(1, Math.min(4, availableParallelism() - 1));

interface PoolView {
  name: string;
  running(): number;
  queued(): number;
}

// One set of metrics per registry, shared by the pools of a process (the mappings subgraph's, the events subgraph's).
const shared = new WeakMap<Registry, { durations: Histogram; pools: Set<PoolView> }>();
function metricsOf(registry: Registry) {
  let m = shared.get(registry);
  if (m) return m;
  const pools = new Set<PoolView>();
  m = {
    pools,
    durations: new Histogram({
      name: 'hub_worker_task_duration_seconds',
      help: 'Tasks run in a worker pool, by pool, task and outcome (ok, error, timeout, memory, cancelled, refused, crash)',
      labelNames: ['pool', 'task', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'hub_worker_tasks_running',
    help: 'Tasks a worker pool is running now',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const p of pools) this.set({ pool: p.name }, p.running());
    },
  });
  new Gauge({
    name: 'hub_worker_tasks_queued',
    help: 'Tasks waiting for a worker thread',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const p of pools) this.set({ pool: p.name }, p.queued());
    },
  });
  shared.set(registry, m);
  return m;
}

export function createWorkerPool(o: WorkerPoolOptions): WorkerPool {
  const threads = o.threads ?? defaultWorkerThreads();
  // Made on the first task (or by warm()): a pool that is never used holds no thread. From then on one thread at least stays
  // (minThreads 0 would strand the queue: piscina replaces a terminated worker only up to minThreads, and a
  // queued task then waits for a worker that nothing starts).
  let made: Piscina | undefined;
  const pool = () => made ?? (made = start());
  const start = () => new Piscina({
    filename: WORKER.href,
    workerData: { module: o.module.href },
    minThreads: 1,
    maxThreads: threads,
    idleTimeout: 30_000,
    maxQueue: o.maxQueue ?? threads * 64,
    resourceLimits: { maxOldGenerationSizeMb: o.maxMemoryMb, maxYoungGenerationSizeMb: Math.max(16, Math.round(o.maxMemoryMb / 8)), stackSizeMb: 4 },
  }).on('error', (err: Error) => o.onError?.(err));
  let running = 0;
  const metrics = o.metrics ? metricsOf(o.metrics) : undefined;
  const self = { name: o.name, running: () => running, queued: () => made?.queueSize ?? 0 };
  metrics?.pools.add(self);
  const durations = metrics?.durations;

  /** Set by close(): tasks it stops answer that the process is shutting down, not an internal error. */
  let closing = false;
  const fail = (code: ErrorCode, message: string, details: Record<string, unknown>) => new HubError(code, message, { ...details, pool: o.name });

  return {
    async run<T>(task: string, input: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
      const started = performance.now();
      // The time limit counts from when a worker starts the task (it says so on this channel), so a task that
      // waited for a thread, or for a fresh worker to load, still has all of its time.
      const timeout = new AbortController();
      const channel = new MessageChannel();
      let timer: NodeJS.Timeout | undefined;
      channel.port1.once('message', () => {
        running++;
        timer = setTimeout(() => timeout.abort(), o.timeoutMs);
      });
      const signal = opts.signal ? AbortSignal.any([timeout.signal, opts.signal]) : timeout.signal;
      let outcome = 'ok';
      try {
        const r = (await pool().run({ task, input, started: channel.port2 }, { signal, transferList: [channel.port2] as never })) as { ok?: T; error?: { code: ErrorCode; message: string; details?: Record<string, unknown> } };
        if (r.error) {
          outcome = 'error';
          throw new HubError(r.error.code, r.error.message, r.error.details);
        }
        return r.ok as T;
      } catch (err) {
        if (err instanceof HubError) throw err;
        const e = err as Error & { code?: string };
        if (timeout.signal.aborted) {
          outcome = 'timeout';
          throw fail('TIMEOUT', `${task} took longer than ${o.timeoutMs} ms and was stopped (WORKER_TASK_TIMEOUT_MS); an expression or pattern that backtracks, or more data than fits that time, does this`, { task, timeoutMs: o.timeoutMs });
        }
        if (opts.signal?.aborted) {
          outcome = 'cancelled';
          throw opts.signal.reason instanceof HubError ? opts.signal.reason : fail('TIMEOUT', `${task} was stopped: the request ended`, { task });
        }
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY' || /out of memory|heap/i.test(e.message)) {
          outcome = 'memory';
          throw fail('PAYLOAD_TOO_LARGE', `${task} needed more than ${o.maxMemoryMb} MB and was stopped (WORKER_MAX_MEMORY_MB); send less data at a time`, { task, maxMemoryMb: o.maxMemoryMb });
        }
        if (closing) {
          outcome = 'closed';
          throw fail('UPSTREAM_UNAVAILABLE', `this hub process is shutting down and stopped ${task}; send it again (another process, or this one once restarted, takes it)`, { task, system: `hub.${o.name}`, reason: 'shutting down' });
        }
        if (/queue is at limit/i.test(e.message)) {
          outcome = 'refused';
          throw fail('RATE_LIMITED', `too many ${o.name} tasks are waiting; try again shortly`, { task });
        }
        outcome = 'crash';
        throw err;
      } finally {
        if (timer !== undefined) {
          clearTimeout(timer);
          running--;
        }
        channel.port1.close();
        durations?.observe({ pool: o.name, task, outcome }, (performance.now() - started) / 1000);
      }
    },
    warm: () => void pool(),
    stats: () => ({ running, queued: made?.queueSize ?? 0, threads: made?.threads.length ?? 0, completed: made?.completed ?? 0 }),
    async close() {
      closing = true;
      metrics?.pools.delete(self);
      await made?.close({ force: true });
    },
  };
}
