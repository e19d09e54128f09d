// Tasks for pool.test.ts, loaded in the worker threads (TypeScript, through worker.mjs).
import { badInput } from '../errors.ts';

export const tasks = {
  double: (n: number) => n * 2,
  refuse: (why: string) => {
    throw badInput(why, { field: 'why' });
  },
  crash: () => {
    throw new TypeError('not a HubError');
  },
  // Catastrophic backtracking: exponential in the length of the a's.
  backtrack: (n: number) => /^(a+)+$/.test(`${'a'.repeat(n)}!`),
  hog: () => {
    const keep: string[][] = [];
    for (;;) keep.push(new Array(1_000_000).fill('x'));
  },
  threadId: async () => (await import('node:worker_threads')).threadId,
};
