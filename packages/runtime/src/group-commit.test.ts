import { describe, expect, it } from 'vitest';
import { groupCommit } from './group-commit.ts';

/** A store that writes a batch all or nothing, and refuses any batch holding a "bad" item. */
function atomicStore() {
  const committed: string[] = [];
  const attempts: string[][] = [];
  let gate: Promise<void> = Promise.resolve();
  return {
    committed,
    attempts,
    hold() {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      return open;
    },
    async write(items: string[]) {
      attempts.push(items);
      await gate;
      if (items.some((i) => i.startsWith('bad'))) throw new Error(`refused ${items.find((i) => i.startsWith('bad'))}`);
      committed.push(...items);
    },
  };
}

describe('groupCommit', () => {
  it('writes concurrent callers together, and a refused item fails only its own caller when the write is atomic', async () => {
    const store = atomicStore();
    const write = groupCommit((items: string[]) => store.write(items), 500, { atomic: true });
    const open = store.hold();
    // The first call starts a batch and waits at the gate; the rest queue behind it and go together next.
    const first = write('a0');
    const rest = ['a1', 'a2', 'bad-1', 'a3', 'a4', 'a5', 'a6'].map((i) => write(i).then(() => 'ok', (e: Error) => e.message));
    open();
    await first;
    expect(await Promise.all(rest)).toEqual(['ok', 'ok', 'refused bad-1', 'ok', 'ok', 'ok', 'ok']);
    expect(store.committed.sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    // The second batch went as one first (group commit), then in halves around the refused item.
    expect(store.attempts[1]).toEqual(['a1', 'a2', 'bad-1', 'a3', 'a4', 'a5', 'a6']);
    expect(store.attempts.filter((a) => a.includes('bad-1')).at(-1)).toEqual(['bad-1']);
  });

  it('two bad items among good ones: each bad caller gets its own error, every good one lands', async () => {
    const store = atomicStore();
    const write = groupCommit((items: string[]) => store.write(items), 500, { atomic: true });
    const open = store.hold();
    const items = ['g0', 'bad-a', 'g1', 'g2', 'g3', 'bad-b', 'g4'];
    const all = items.map((i) => write(i).then(() => 'ok', (e: Error) => e.message));
    open();
    expect(await Promise.all(all)).toEqual(['ok', 'refused bad-a', 'ok', 'ok', 'ok', 'refused bad-b', 'ok']);
    expect(store.committed.sort()).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
  });

  it('without atomic, a failed batch fails every caller in it and is not written again in part', async () => {
    const store = atomicStore();
    const write = groupCommit((items: string[]) => store.write(items));
    const open = store.hold();
    const first = write('x0');
    const rest = ['x1', 'bad', 'x2'].map((i) => write(i).then(() => 'ok', () => 'failed'));
    open();
    await first;
    expect(await Promise.all(rest)).toEqual(['failed', 'failed', 'failed']);
    expect(store.attempts).toHaveLength(2);
  });
});
