import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { EventsDocument, EventsInFullDocument, EventsWithSystemDocument, HistoryDocument, PublishEventDocument, PublishEventsDocument, RegisterEventSchemaDocument, RegisterSystemDocument, type PublishEventInput } from '../generated/graphql.ts';
import { backend, eventually, startTestHub, type TestHub } from '../support/hub.ts';
import { collect, wsClient } from '../support/ws.ts';

let hub: TestHub;
let ws: Client;
beforeAll(async () => {
  hub = await startTestHub();
  ws = wsClient(hub.url);
});
afterAll(async () => {
  await ws?.dispose();
  await hub?.close();
});

const event = (over: Partial<PublishEventInput> = {}): PublishEventInput => ({ type: 'test.ping', source: 'tests', payload: { n: 1 }, ...over });
const historyCount = async () => {
  let n = 0;
  let after: string | null | undefined = null;
  do {
    const page: any = (await hub.ok(HistoryDocument, { first: 1000, after })).eventHistory;
    n += page.events.length;
    after = page.endCursor;
  } while (after);
  return n;
};

describe('publishing', () => {
  it('publishes one event with every field of the seed', async () => {
    const { publishEvent } = await hub.ok(PublishEventDocument, {
      input: event({ type: 'resident.demographics.updated', destination: 'care-app', correlationId: 'c-1', causationId: 'x-0', metadata: { actor: 'ops' }, payload: { nhsNumber: '9000000009' } }),
    });
    expect(publishEvent.duplicate).toBe(false);
    expect(publishEvent.event).toMatchObject({
      type: 'resident.demographics.updated',
      source: 'tests',
      destination: 'care-app',
      correlationId: 'c-1',
      causationId: 'x-0',
      metadata: { actor: 'ops' },
      status: 'PUBLISHED',
      payload: { nhsNumber: '9000000009' },
    });
    expect(Number(publishEvent.event.sequence)).toBeGreaterThan(0);
  });

  it('publishes a batch in order with consecutive sequences', async () => {
    const { publishEvents } = await hub.ok(PublishEventsDocument, { inputs: Array.from({ length: 200 }, (_, i) => event({ payload: { i } })) });
    const seqs = publishEvents.map((r) => Number(r.event.sequence));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
  });

  it('gives back the first event for a repeated idempotency key, concurrently too', async () => {
    const input = event({ idempotencyKey: `key-${Math.random()}` });
    const results = await Promise.all(Array.from({ length: 10 }, () => hub.ok(PublishEventDocument, { input })));
    const ids = new Set(results.map((r) => r.publishEvent.event.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.publishEvent.duplicate)).toHaveLength(1);
    const batch = await hub.ok(PublishEventsDocument, { inputs: [input, event(), input] });
    expect(batch.publishEvents.map((r) => r.duplicate)).toEqual([true, false, true]);
    expect(batch.publishEvents[0]!.event.id).toBe([...ids][0]);
  });

  it('rejects bad events with clear errors and appends nothing', async () => {
    const before = await historyCount();
    const bad: Array<[unknown, RegExp]> = [
      [{ source: 's', payload: {} }, /type/],
      [{ type: 'no spaces allowed', source: 's', payload: {} }, /type must be a dotted name/],
      [{ type: 'ok.type', source: '  ', payload: {} }, /source is required/],
      [{ type: 'ok.type', source: 's', payload: { blob: 'x'.repeat(300_000) } }, /payload is \d+ bytes/],
    ];
    for (const [input, msg] of bad) {
      const r = await hub.gql(PublishEventDocument, { input: input as PublishEventInput });
      expect(r.errors?.[0]?.message, JSON.stringify(input).slice(0, 80)).toMatch(msg);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const mixed = await hub.gql(PublishEventsDocument, { inputs: [event(), event({ type: 'bad type' })] });
    expect(mixed.errors?.[0]?.message).toMatch(/inputs\[1\]\.type/);
    const tooMany = await hub.gql(PublishEventsDocument, { inputs: Array.from({ length: 1001 }, () => event()) });
    expect(tooMany.errors?.[0]?.message).toMatch(/at most 1000/);
    expect(await historyCount()).toBe(before);
  });
});

describe('history', () => {
  it('filters by type wildcard, source and correlation, and pages with a cursor', async () => {
    const corr = `corr-${Math.random()}`;
    await hub.ok(PublishEventsDocument, {
      inputs: [
        event({ type: 'tax.vat.submitted', correlationId: corr }),
        event({ type: 'tax.rti.accepted', correlationId: corr }),
        event({ type: 'payments.payment.settled', correlationId: corr, source: 'bank-sim' }),
      ],
    });
    const hmrc = await hub.ok(HistoryDocument, { filter: { types: ['tax.*'], correlationId: corr } });
    expect(hmrc.eventHistory.events.map((e) => e.type)).toEqual(['tax.vat.submitted', 'tax.rti.accepted']);
    const bank = await hub.ok(HistoryDocument, { filter: { source: 'bank-sim', correlationId: corr } });
    expect(bank.eventHistory.events.map((e) => e.type)).toEqual(['payments.payment.settled']);
    const page1 = await hub.ok(HistoryDocument, { filter: { correlationId: corr }, first: 2 });
    expect(page1.eventHistory.events).toHaveLength(2);
    const page2 = await hub.ok(HistoryDocument, { filter: { correlationId: corr }, first: 2, after: page1.eventHistory.endCursor });
    expect(page2.eventHistory.events.map((e) => e.type)).toEqual(['payments.payment.settled']);
    expect(page2.eventHistory.endCursor).toBeNull();
    const future = await hub.ok(HistoryDocument, { filter: { correlationId: corr, from: new Date(Date.now() + 3_600_000).toISOString() } });
    expect(future.eventHistory.events).toEqual([]);
  });
});

describe('live subscriptions over graphql-ws', () => {
  it('delivers every event published over HTTP, in order, once', async () => {
    const type = `live.${Math.random().toString(36).slice(2)}`;
    const sub = collect(ws, EventsDocument, { filter: { types: [type] } });
    await new Promise((r) => setTimeout(r, 300)); // the subscription is registered before publishing
    for (let i = 0; i < 10; i++) await hub.ok(PublishEventsDocument, { inputs: Array.from({ length: 5 }, (_, j) => event({ type, payload: { n: i * 5 + j } })) });
    const got = await sub.waitFor(50);
    sub.stop();
    expect(got.map((g) => (g.events.payload as { n: number }).n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const seqs = got.map((g) => Number(g.events.sequence));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it('replays from a sequence, then continues live with no gap and no duplicate at the seam', async () => {
    const type = `seam.${Math.random().toString(36).slice(2)}`;
    const first = await hub.ok(PublishEventsDocument, { inputs: Array.from({ length: 30 }, (_, i) => event({ type, payload: { n: i } })) });
    const from = first.publishEvents[9]!.event.sequence; // everything after the 10th
    const sub = collect(ws, EventsDocument, { filter: { types: [type] }, fromSequence: from });
    // Keep publishing while the subscriber catches up.
    for (let i = 30; i < 130; i += 10) {
      await hub.ok(PublishEventsDocument, { inputs: Array.from({ length: 10 }, (_, j) => event({ type, payload: { n: i + j } })) });
    }
    const got = await sub.waitFor(120);
    await new Promise((r) => setTimeout(r, 500));
    sub.stop();
    expect(sub.received).toHaveLength(120);
    expect(got.map((g) => (g.events.payload as { n: number }).n)).toEqual(Array.from({ length: 120 }, (_, i) => i + 10));
  });

  it('resolves fields other subgraphs own for each event', async () => {
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, {
      input: { name: 'event subject', type: 'REGULATOR', endpoint: 'https://example.org', authentication: { kind: 'NONE' } },
    });
    const type = `federated.${Math.random().toString(36).slice(2)}`;
    const sub = collect(ws, EventsWithSystemDocument, { filter: { types: [type] } });
    await new Promise((r) => setTimeout(r, 300));
    await hub.ok(PublishEventDocument, { input: event({ type, systemId: sys.id }) });
    await hub.ok(PublishEventDocument, { input: event({ type }) });
    const got = await sub.waitFor(2);
    sub.stop();
    expect(got[0]!.events.system).toEqual({ id: sys.id, name: 'event subject', status: 'REGISTERED' });
    expect(got[1]!.events.system).toBeNull();
  });

  it('rejects a bad fromSequence and an unknown field with clear errors', async () => {
    const sub = collect(ws, EventsDocument, { fromSequence: 'yesterday' });
    await expect(sub.waitFor(1, 5000)).rejects.toThrow(/fromSequence must be a sequence number/);
  });

  it.runIf(backend === 'services')('delivers across two hub processes sharing PostgreSQL and Redis', async () => {
    // The subscriber's own look at the log is made rare, so only the Redis fan-out can deliver in time.
    const second = await startTestHub({ DATABASE_URL: hub.config.databaseUrl!, REDIS_PREFIX: hub.config.redisPrefix, VAULT_KEYS: hub.config.vaultKeys!, EVENTS_LOG_POLL_MS: '600000' });
    const ws2 = wsClient(second.url);
    try {
      const type = `cross.${Math.random().toString(36).slice(2)}`;
      const sub = collect(ws2, EventsDocument, { filter: { types: [type] } });
      await new Promise((r) => setTimeout(r, 500));
      const full = collect(ws2, EventsInFullDocument, { filter: { types: [type] } });
      await new Promise((r) => setTimeout(r, 500));
      // Published through the first process only: what reaches the second's subscriber came through Redis. Every
      // other event carries each optional field, so absent and present fields both cross the bus as they were.
      const acknowledged = [];
      for (let i = 0; i < 20; i++) {
        const optional = i % 2 ? { destination: 'hmrc', correlationId: `c-${i}`, causationId: `k-${i}`, metadata: { care: 'home', i }, status: 'DELIVERED' } : {};
        acknowledged.push((await hub.ok(PublishEventDocument, { input: event({ type, payload: { n: i }, ...optional }) })).publishEvent.event);
      }
      const got = await sub.waitFor(20, 15_000);
      sub.stop();
      expect(got.map((g) => (g.events.payload as { n: number }).n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const gotFull = await full.waitFor(20, 15_000);
      full.stop();
      expect(gotFull.map((g) => g.events)).toEqual(acknowledged);
    } finally {
      await ws2.dispose();
      await second.close();
    }
  });
});

describe('a live subscriber that stops reading', () => {
  it('costs bounded memory: past EVENTS_SUBSCRIBER_BUFFER its events are dropped, then read from the log, each once and in order', async () => {
    const slow = await startTestHub({ EVENTS_SUBSCRIBER_BUFFER: '50' });
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    const client = createClient({ url: `${slow.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: Tracked, retryAttempts: 0, lazy: true });
    const overflows = async () => Number(/^hub_event_subscriber_overflows_total (\d+)/m.exec(await (await fetch(`${slow.url}/metrics`)).text())?.[1] ?? NaN);
    try {
      const type = `slow.${Math.random().toString(36).slice(2)}`;
      const sub = collect(client, EventsDocument, { filter: { types: [type] } });
      await eventually(async () => {
        await slow.ok(PublishEventDocument, { input: event({ type, payload: 'live yet?' }) });
        return sub.received.length > 0;
      }, 10_000, 300);
      await new Promise((r) => setTimeout(r, 300)); // any probe still on its way
      const live = sub.received.length;
      expect(await overflows()).toBe(0);

      // The client stops reading its socket: once the kernel's buffers are full, the hub cannot send, and the
      // events that keep coming wait in the subscriber's inbox, which holds 50.
      const socket = (sockets[0] as unknown as { _socket: Socket })._socket;
      socket.pause();
      const blob = 'x'.repeat(8_000);
      const BATCHES = 40;
      const PER_BATCH = 50;
      for (let b = 0; b < BATCHES; b++) {
        await slow.ok(PublishEventsDocument, { inputs: Array.from({ length: PER_BATCH }, (_, i) => event({ type, payload: { n: b * PER_BATCH + i, blob } })) });
      }
      await eventually(async () => (await overflows()) > 0, 10_000);

      // Reading again, it gets every event from the log: none missed, none twice, in order.
      socket.resume();
      const total = live + BATCHES * PER_BATCH;
      const got = await sub.waitFor(total, 60_000);
      const numbered = got.slice(live).map((g) => (g.events.payload as { n: number }).n);
      expect(numbered).toEqual(Array.from({ length: BATCHES * PER_BATCH }, (_, n) => n));
      const sequences = got.map((g) => Number(g.events.sequence));
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      await new Promise((r) => setTimeout(r, 500));
      expect(sub.received).toHaveLength(total);
      sub.stop();
    } finally {
      await client.dispose();
      await slow.close();
    }
  });
});

describe('publishing edge cases', () => {
  it('takes a payload written inline in the query, and concurrent batches of 1,000', async () => {
    const inline = await hub.raw(JSON.stringify({ query: 'mutation { publishEvent(input: { type: "inline.literal", source: "tests", payload: { resident: "R-1", vitals: { t: 37.2 }, tags: ["a"] } }) { event { payload } } }' }));
    const body = (await inline.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.publishEvent.event.payload).toEqual({ resident: 'R-1', vitals: { t: 37.2 }, tags: ['a'] });
    const batches = await Promise.all(Array.from({ length: 6 }, (_, b) => hub.gql(PublishEventsDocument, { inputs: Array.from({ length: 1000 }, (_, i) => event({ type: 'bulk.load', payload: { b, i } })) })));
    expect(batches.map((r) => r.errors)).toEqual(Array(6).fill(undefined));
    const seqs = batches.flatMap((r) => r.data!.publishEvents.map((p) => Number(p.event.sequence))).sort((a, b) => a - b);
    expect(seqs).toHaveLength(6000);
    expect(seqs.at(-1)! - seqs[0]!).toBe(5999); // one gap-free run
  });
});

describe('JSON Schemas per event type', () => {
  it('enforces a registered schema on every publish of that type, and only that type', async () => {
    const type = `vitals${Math.random().toString(36).slice(2, 7)}.recorded`;
    const schema = { type: 'object', required: ['nhsNumber', 'temperature'], properties: { nhsNumber: { type: 'string', pattern: '^\\d{10}$' }, temperature: { type: 'number', minimum: 30, maximum: 45 } } };
    const { registerEventSchema } = await hub.ok(RegisterEventSchemaDocument, { type, schema });
    expect(registerEventSchema).toMatchObject({ type, version: 1 });
    const ok = await hub.gql(PublishEventDocument, { input: event({ type, payload: { nhsNumber: '9000000009', temperature: 37.1 } }) });
    expect(ok.errors).toBeUndefined();
    const bad = await hub.gql(PublishEventDocument, { input: event({ type, payload: { nhsNumber: '12', temperature: 60 } }) });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/does not match the schema/);
    expect(bad.errors?.[0]?.message).toMatch(/nhsNumber/);
    expect(bad.errors?.[0]?.message).toMatch(/temperature/);
    const batch = await hub.gql(PublishEventsDocument, { inputs: [event(), event({ type, payload: {} })] });
    expect(batch.errors?.[0]?.message).toMatch(/inputs\[1\]\.payload/);
    expect((await hub.ok(HistoryDocument, { filter: { types: [type] } })).eventHistory.events).toHaveLength(1);
    const v2 = await hub.ok(RegisterEventSchemaDocument, { type, schema: { type: 'object' } });
    expect(v2.registerEventSchema.version).toBe(2);
    const invalid = await hub.gql(RegisterEventSchemaDocument, { type, schema: { type: 'no-such-type' } });
    expect(invalid.errors?.[0]?.message).toMatch(/not a valid JSON Schema/);
  });
});
