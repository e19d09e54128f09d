/**
 * Group commit: writes that arrive while a batch is being written wait and go together in the next one, so N
 * concurrent callers cost one transaction (one fsync) instead of N. Each caller's promise settles when the
 * transaction holding its item has committed (or failed): nothing is acknowledged before it is durable.
 */
export function groupCommit<T>(write: (items: T[]) => Promise<void>, maxBatch = 500): (item: T) => Promise<void> {
  type Waiter = { item: T; resolve: () => void; reject: (e: unknown) => void };
  let waiting: Waiter[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (waiting.length) {
        const batch = waiting.slice(0, maxBatch);
        waiting = waiting.slice(batch.length);
        try {
          await write(batch.map((w) => w.item));
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  }

  return (item) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}
