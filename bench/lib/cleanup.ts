import { stopAll } from './processes.ts';

const tasks = new Set<() => Promise<void>>();

/**
 * Registers a clean-up step that must run once the children are gone (drop a database, delete Redis keys).
 * Returns it as a run-once function: a bench calls it when it is done; `cleanupAll` runs whatever is left
 * (on error, SIGINT). A failing step is reported, not thrown, so the other steps still run.
 */
export function registerCleanup(what: string, task: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = () =>
    (done ??= (async () => {
      tasks.delete(run);
      await task().catch((err) => console.error(`could not ${what}: ${(err as Error).message}`));
    })());
  tasks.add(run);
  return run;
}

/** Stops every child, then runs the registered steps (a database cannot be dropped while children hold connections). */
export async function cleanupAll(): Promise<void> {
  await stopAll();
  for (const task of [...tasks]) await task();
}
