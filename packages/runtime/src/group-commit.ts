/**
 * Group commit: writes that arrive while a batch is being written wait and go together in the next one, so N
 * concurrent callers cost one transaction (one fsync) instead of N. Each caller's promise settles when the
 * transaction holding its item has committed (or failed): nothing is acknowledged before it is durable.
 *
 * With `atomic` (the write is one transaction: all or nothing), one caller's bad item never fails the others: a
 * refused batch of several wrote nothing, so it is written again split in halves until the item the database refused
 * is alone, and only its caller gets the error. (A refusal that is not the item's, the database being down, costs a
 * few more failed attempts and reaches every caller.) Without it, a failed batch fails all its callers: a write that
 * commits in several transactions must not be repeated in part.
 */
export function groupCommit<T>(write: (items: T[]) => Promise<void>, maxBatch = 500, o: { atomic?: boolean } = {}): (item: T) => Promise<void> {
  type Waiter = { item: T; resolve: () => void; reject: (e: unknown) => void };
  let waiting: Waiter[] = [];
  let writing = false;

  const settle = (part: Waiter[], r: { ok: boolean; error?: unknown }) => part.forEach((w) => (r.ok ? w.resolve() : w.reject(r.error)));
  const commit = async (batch: Waiter[]) => {
    if (o.atomic) return commitApart(batch, (part) => write(part.map((w) => w.item)), settle);
    try {
      await write(batch.map((w) => w.item));
      settle(batch, { ok: true });
    } catch (error) {
      settle(batch, { ok: false, error });
    }
  };

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (waiting.length) {
        const batch = waiting.slice(0, maxBatch);
        waiting = waiting.slice(batch.length);
        await commit(batch);
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

/**
 * Writes `batch` with `write`; where the database refuses it, writes it again in halves until each refused part is
 * one caller's alone (see groupCommit): `settle` hears each part's outcome, in order. `write` must be atomic.
 */
export async function commitApart<W, R>(
  batch: W[],
  write: (part: W[]) => Promise<R>,
  settle: (part: W[], outcome: { ok: true; result: R } | { ok: false; error: unknown }) => void,
): Promise<void> {
  let result: R;
  try {
    result = await write(batch);
  } catch (error) {
    if (batch.length === 1) return settle(batch, { ok: false, error });
    const half = Math.ceil(batch.length / 2);
    await commitApart(batch.slice(0, half), write, settle);
    await commitApart(batch.slice(half), write, settle);
    return;
  }
  settle(batch, { ok: true, result });
}
