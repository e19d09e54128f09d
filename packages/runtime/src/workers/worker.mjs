// The entry of every worker thread of a pool (pool.ts). Plain JavaScript, so that it loads the same way under `npm
// start` (tsx), under vitest and under bare node: it loads the pool's task module, compiling TypeScript with tsx's
// API when the module is a .ts file, and answers each task with its result or with the HubError it threw (a
// HubError's code and details would not survive the thread boundary as an Error).
import { workerData } from 'node:worker_threads';

const { module } = workerData;
const loaded = module.endsWith('.ts') ? await (await import('tsx/esm/api')).tsImport(module, import.meta.url) : await import(module);
const tasks = loaded.tasks ?? loaded.default;

export default async function run({ task, input, started }) {
  const fn = tasks[task];
  if (typeof fn !== 'function') throw new Error(`worker ${module} has no task ${task}`);
  // The pool's clock for this task starts now: not while it waited for a thread, nor while a thread started.
  started?.postMessage(0);
  started?.close();
  try {
    return { ok: await fn(input) };
  } catch (err) {
    if (err && err.name === 'HubError') return { error: { code: err.code, message: err.message, details: err.details } };
    throw err;
  }
}
