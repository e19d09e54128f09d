import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsDocument, PublishEventsDocument } from '../generated/graphql.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { collect, wsClient } from '../support/ws.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.close();
});

describe('a restart in the middle of a stream', () => {
  it('loses no acknowledged event, and a subscriber resuming from its last sequence misses nothing', async () => {
    const type = `restart.${Math.random().toString(36).slice(2)}`;
    const acknowledged: Array<{ id: string; sequence: string }> = [];
    const publish = async (from: number, n: number) => {
      const r = await hub.ok(PublishEventsDocument, { inputs: Array.from({ length: n }, (_, i) => ({ type, source: 'tests', payload: { n: from + i } })) });
      acknowledged.push(...r.publishEvents.map((p) => p.event));
    };

    let ws = wsClient(hub.url);
    const before = collect(ws, EventsDocument, { filter: { types: [type] }, fromSequence: '0' });
    for (let i = 0; i < 5; i++) await publish(i * 10, 10);
    await before.waitFor(50);
    const lastSeen = before.received.at(-1)!.events.sequence;
    before.stop();
    await ws.dispose();

    // What was acknowledged before the stop must survive it; publishing resumes once the hub is back.
    await hub.restart();
    for (let i = 5; i < 10; i++) await publish(i * 10, 10);

    ws = wsClient(hub.url);
    const resumed = collect(ws, EventsDocument, { filter: { types: [type] }, fromSequence: lastSeen });
    const rest = await resumed.waitFor(50);
    await new Promise((r) => setTimeout(r, 500));
    resumed.stop();
    await ws.dispose();

    expect(resumed.received).toHaveLength(50);
    expect(rest.map((r) => (r.events.payload as { n: number }).n)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    const all = [...before.received.slice(0, 50), ...rest].map((r) => r.events.id);
    expect(all).toEqual(acknowledged.map((a) => a.id));
  });
});
