import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph } from '@hub/gateway';
import { print } from 'graphql';
import { DEFAULT_ORGANISATION, internalFetch, parseInternalKeys, SCOPES } from '@hub/runtime';
import { typeDefs as eventsTypeDefs } from '@hub/subgraph-events';
import { backend, eventually, startTestHub, TEST_INTERNAL_KEYS, type TestHub } from '../support/hub.ts';
import { collect, wsClient } from '../support/ws.ts';
import { EventsDocument, PublishEventDocument } from '../generated/graphql.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const PUBLISH = '/api/integration/events/publish';
const HISTORY = '/api/integration/events/history';
const STREAM = '/api/integration/events/stream';
const EVENT_FIELDS = ['id', 'sequence', 'type', 'source', 'destination', 'payload', 'timestamp', 'correlationId', 'causationId', 'metadata', 'status', 'publisher'];

const unique = (prefix: string) => `${prefix}.${randomBytes(5).toString('hex')}`;
const event = (over: Record<string, unknown> = {}) => ({ type: 'test.ping', source: 'tests', payload: { n: 1 }, ...over });

async function post(path: string, body: string, contentType: string) {
  const res = await fetch(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as any };
}
const ndjson = (body: string) => post(PUBLISH, body, 'application/x-ndjson');

/** Every event in the log, page by page, through the REST history endpoint. */
async function allEvents(query = ''): Promise<any[]> {
  const out: any[] = [];
  let after: string | null = null;
  do {
    const r = await hub.rest('GET', `${HISTORY}?first=1000${query}${after ? `&after=${after}` : ''}`);
    expect(r.status).toBe(200);
    out.push(...r.body.events);
    after = r.body.endCursor;
  } while (after);
  return out;
}

interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/** An SSE client over fetch: parses messages and comments as they arrive; `close()` aborts the request. */
async function openStream(query = '', headers: Record<string, string> = {}, startReading: Promise<unknown> = Promise.resolve()) {
  const ac = new AbortController();
  const res = await fetch(`${hub.url}${STREAM}${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let notify = () => {};
  let ended = false;
  const aborted = new Promise<void>((r) => ac.signal.addEventListener('abort', () => r(), { once: true }));
  const pump = (async () => {
    await Promise.race([startReading, aborted]);
    if (!res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const m: SseMessage = { data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments.push(line.slice(1).trim());
              continue;
            }
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            isMessage = true;
            if (field === 'id') m.id = value;
            else if (field === 'event') m.event = value;
            else if (field === 'data') m.data += (m.data ? '\n' : '') + value;
          }
          if (isMessage) messages.push(m);
          notify();
        }
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true;
      notify();
    }
  })();
  return {
    res,
    messages,
    comments,
    /** Resolves once `n` messages have arrived in all. */
    async waitFor(n: number, ms = 15_000): Promise<SseMessage[]> {
      const until = Date.now() + ms;
      while (messages.length < n) {
        if (ended) throw new Error(`the stream ended after ${messages.length} of ${n} messages`);
        if (Date.now() > until) throw new Error(`${messages.length} of ${n} messages within ${ms} ms`);
        await new Promise<void>((r) => {
          notify = r;
          setTimeout(r, 100);
        });
      }
      return messages.slice(0, n);
    },
    /** Resolves once the server has sent its opening comment (the stream is being served). */
    async opened() {
      await eventually(async () => comments.includes('connected'), 10_000, 20);
    },
    async close() {
      ac.abort();
      await pump;
    },
  };
}
type Stream = Awaited<ReturnType<typeof openStream>>;

async function openStreams(): Promise<number> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  return Number(/^hub_event_streams_open (\d+)/m.exec(text)?.[1] ?? NaN);
}

describe('POST /api/integration/events/publish', () => {
  it('publishes one event: 201 with {duplicate, event} in the GraphQL shape', async () => {
    const r = await hub.rest('POST', PUBLISH, event({ type: 'resident.demographics.updated', destination: 'care-app', correlationId: 'c-1', causationId: 'x-0', metadata: { actor: 'ops' }, payload: { nhsNumber: '9000000009' } }));
    expect(r.status).toBe(201);
    expect(r.body.duplicate).toBe(false);
    expect(Object.keys(r.body.event)).toEqual(EVENT_FIELDS);
    expect(r.body.event).toMatchObject({
      type: 'resident.demographics.updated',
      source: 'tests',
      destination: 'care-app',
      correlationId: 'c-1',
      causationId: 'x-0',
      metadata: { actor: 'ops' },
      status: 'PUBLISHED',
      payload: { nhsNumber: '9000000009' },
    });
    expect(r.body.event.sequence).toMatch(/^\d+$/);
    expect(new Date(r.body.event.timestamp).toISOString()).toBe(r.body.event.timestamp);
  });

  it('a repeated idempotency key answers 200 with the first event and appends nothing', async () => {
    const input = event({ idempotencyKey: unique('key') });
    const first = await hub.rest('POST', PUBLISH, input);
    expect(first.status).toBe(201);
    const count = (await allEvents()).length;
    const again = await hub.rest('POST', PUBLISH, input);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ duplicate: true, event: first.body.event });
    expect((await allEvents()).length).toBe(count);
  });

  it('publishes a JSON array in order: 201 with one result each, duplicates marked', async () => {
    const key = unique('key');
    const r = await hub.rest('POST', PUBLISH, [event({ payload: { i: 0 }, idempotencyKey: key }), event({ payload: { i: 1 } }), event({ payload: { i: 2 }, idempotencyKey: key })]);
    expect(r.status).toBe(201);
    expect(r.body).toHaveLength(3);
    expect(r.body.map((x: any) => x.duplicate)).toEqual([false, false, true]);
    expect(r.body[2].event.id).toBe(r.body[0].event.id);
    const seqs = r.body.slice(0, 2).map((x: any) => Number(x.event.sequence));
    expect(seqs[1]).toBe(seqs[0] + 1);
  });

  it('publishes NDJSON, one event a line, blank lines (and CRLF) ignored', async () => {
    const type = unique('ndjson');
    const body = ['', JSON.stringify(event({ type, payload: { n: 0 } })), '   ', JSON.stringify(event({ type, payload: { n: 1 } })), '', JSON.stringify(event({ type, payload: { n: 2 } })), ''].join('\r\n');
    const r = await ndjson(body);
    expect(r.status).toBe(201);
    expect(r.body.map((x: any) => x.event.payload.n)).toEqual([0, 1, 2]);
    const seqs = r.body.map((x: any) => Number(x.event.sequence));
    expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
    expect((await allEvents(`&types=${type}`)).map((e) => e.payload.n)).toEqual([0, 1, 2]);
  });

  it('a malformed NDJSON line is a 400 naming the line, and nothing is appended', async () => {
    const before = await allEvents();
    const type = unique('ndjson');
    const lines = [JSON.stringify(event({ type })), '', '{"type": "broken", ', JSON.stringify(event({ type }))];
    const r = await ndjson(lines.join('\n'));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: { line: 3 } });
    expect(r.body.error.message).toMatch(/line 3\b/);
    const notObject = await ndjson(`${JSON.stringify(event({ type }))}\n[1, 2]\n`);
    expect(notObject.status).toBe(400);
    expect(notObject.body.error.message).toMatch(/line 2 .*not a JSON object/);
    const badEvent = await ndjson(`${JSON.stringify(event({ type }))}\n${JSON.stringify(event({ type: 'bad type' }))}\n`);
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.message).toMatch(/inputs\[1\]\.type/);
    expect(await allEvents()).toEqual(before);
  });

  it('400 for malformed JSON, a body that is not events, a missing type, a bad event in a batch and more than 1000 events; nothing appended', async () => {
    const before = await allEvents();
    const malformed = await hub.rest('POST', PUBLISH, '{"type": "x",');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/not valid JSON/) } } });
    const ndjsonAsJson = await hub.rest('POST', PUBLISH, `${JSON.stringify(event())}\n${JSON.stringify(event())}`);
    expect(ndjsonAsJson.status).toBe(400);
    expect(ndjsonAsJson.body.error.message).toMatch(/application\/x-ndjson/);
    for (const body of ['42', '"event"', 'null', '']) {
      const r = await post(PUBLISH, body, 'application/json');
      expect(r.status, body).toBe(400);
      expect(r.body.error.message, body).toMatch(/must be one event/);
    }
    const empty = await hub.rest('POST', PUBLISH, []);
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/at least one event/);

    const missingType = await hub.rest('POST', PUBLISH, { source: 'tests', payload: {} });
    expect(missingType.status).toBe(400);
    expect(missingType.body.error.code).toBe('BAD_USER_INPUT');
    expect(missingType.body.error.message).toMatch(/"type"/);
    const badType = await hub.rest('POST', PUBLISH, event({ type: 'no spaces allowed' }));
    expect(badType.status).toBe(400);
    expect(badType.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'type' } });
    const unknownField = await hub.rest('POST', PUBLISH, event({ colour: 'blue' }));
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.message).toMatch(/colour/);
    const mixed = await hub.rest('POST', PUBLISH, [event(), event({ source: ' ' })]);
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.message).toMatch(/inputs\[1\]\.source/);

    const tooMany = await hub.rest('POST', PUBLISH, Array.from({ length: 1001 }, () => event()));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/inputs has 1001 items; at most 1000/) });
    const tooManyLines = await ndjson(Array.from({ length: 1001 }, () => JSON.stringify(event())).join('\n'));
    expect(tooManyLines.status).toBe(400);
    expect(tooManyLines.body.error.message).toMatch(/at most 1000/);
    expect(await allEvents()).toEqual(before);

    const exactly1000 = await hub.rest('POST', PUBLISH, Array.from({ length: 1000 }, (_, i) => event({ payload: { i } })));
    expect(exactly1000.status).toBe(201);
    expect(exactly1000.body).toHaveLength(1000);
  });

  it('405 for a wrong method', async () => {
    const r = await hub.rest('GET', PUBLISH);
    expect(r.status).toBe(405);
    expect(r.body.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', message: expect.stringMatching(/use POST$/) });
    expect((await hub.rest('POST', HISTORY, {})).status).toBe(405);
    expect((await hub.rest('POST', STREAM, {})).status).toBe(405);
  });
});

describe('GET /api/integration/events/history', () => {
  it('filters by type (exact and prefix), source, destination, correlation and time, and pages with a cursor', async () => {
    const corr = unique('corr');
    const published = await hub.rest('POST', PUBLISH, [
      event({ type: 'tax.vat.submitted', correlationId: corr }),
      event({ type: 'tax.rti.accepted', correlationId: corr, destination: 'payroll' }),
      event({ type: 'payments.payment.settled', correlationId: corr, source: 'bank-sim' }),
      event({ type: 'gp.registration.recorded', correlationId: corr }),
    ]);
    expect(published.status).toBe(201);
    const types = async (query: string) => {
      const r = await hub.rest('GET', `${HISTORY}?correlationId=${corr}&${query}`);
      expect(r.status, query).toBe(200);
      return r.body.events.map((e: any) => e.type);
    };
    expect(await types('types=tax.*')).toEqual(['tax.vat.submitted', 'tax.rti.accepted']);
    expect(await types('types=tax.*,payments.payment.settled')).toEqual(['tax.vat.submitted', 'tax.rti.accepted', 'payments.payment.settled']);
    expect(await types('types=gp.registration.recorded&types=payments.*')).toEqual(['payments.payment.settled', 'gp.registration.recorded']);
    expect(await types('source=bank-sim')).toEqual(['payments.payment.settled']);
    expect(await types('destination=payroll')).toEqual(['tax.rti.accepted']);
    const at = published.body[0].event.timestamp;
    expect(await types(`from=${encodeURIComponent(new Date(Date.parse(at) + 3_600_000).toISOString())}`)).toEqual([]);
    expect(await types(`to=${encodeURIComponent(new Date(Date.parse(at) - 3_600_000).toISOString())}`)).toEqual([]);
    expect(await types(`from=${encodeURIComponent(new Date(Date.parse(at) - 60_000).toISOString())}&to=${encodeURIComponent(new Date(Date.parse(at) + 60_000).toISOString())}`)).toHaveLength(4);

    const page1 = await hub.rest('GET', `${HISTORY}?correlationId=${corr}&first=3`);
    expect(page1.status).toBe(200);
    expect(page1.body.events.map((e: any) => e.type)).toEqual(['tax.vat.submitted', 'tax.rti.accepted', 'payments.payment.settled']);
    expect(Object.keys(page1.body.events[0])).toEqual(EVENT_FIELDS);
    expect(page1.body.events[0]).toEqual(published.body[0].event);
    expect(page1.body.endCursor).toBe(page1.body.events[2].sequence);
    const page2 = await hub.rest('GET', `${HISTORY}?correlationId=${corr}&first=3&after=${page1.body.endCursor}`);
    expect(page2.body).toEqual({ events: [published.body[3].event], endCursor: null });
  });

  it('400 for a bad first, after or date', async () => {
    for (const [query, field] of [
      ['first=ten', 'first'],
      ['first=0', 'first'],
      ['first=1001', 'first'],
      ['first=2.5', 'first'],
      ['after=yesterday', 'after'],
      ['from=last%20week', 'from'],
      ['to=2024-13-45T00:00:00Z', 'to'],
      ['from=2024-05-01', 'from'],
    ] as const) {
      const r = await hub.rest('GET', `${HISTORY}?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error, query).toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
    }
  });
});

describe('GET /api/integration/events/stream (Server-Sent Events)', () => {
  const streams: Stream[] = [];
  const track = async (s: Promise<Stream>) => {
    const stream = await s;
    streams.push(stream);
    return stream;
  };
  afterAll(async () => {
    for (const s of streams) await s.close();
  });

  it('streams events published over REST, in order, each with id = sequence, event = type and the GraphQL JSON', async () => {
    const type = unique('live');
    const other = unique('other');
    const stream = await track(openStream(`?types=${type}`));
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.res.headers.get('cache-control')).toMatch(/no-cache/);
    await stream.opened();
    await new Promise((r) => setTimeout(r, 300)); // "from now": the stream has read the head of the log
    const published: any[] = [];
    published.push((await hub.rest('POST', PUBLISH, event({ type, payload: { n: 0 } }))).body.event);
    await hub.rest('POST', PUBLISH, event({ type: other })); // filtered out
    published.push(...(await hub.rest('POST', PUBLISH, [1, 2, 3].map((n) => event({ type, payload: { n } })))).body.map((r: any) => r.event));
    published.push(...(await ndjson([4, 5].map((n) => JSON.stringify(event({ type, payload: { n }, correlationId: 'c-sse' }))).join('\n'))).body.map((r: any) => r.event));
    const got = await stream.waitFor(6);
    expect(got.map((m) => m.event)).toEqual(Array(6).fill(type));
    expect(got.map((m) => m.id)).toEqual(published.map((e) => e.sequence));
    expect(got.map((m) => JSON.parse(m.data))).toEqual(published); // the same JSON as REST (and GraphQL) gives
    expect(got.map((m) => JSON.parse(m.data).payload.n)).toEqual([0, 1, 2, 3, 4, 5]);
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.messages).toHaveLength(6);
    await stream.close();
  });

  it('resumes with Last-Event-ID after a disconnect: exactly the events after it, no gap, no duplicate', async () => {
    const type = unique('resume');
    const first = (await hub.rest('POST', PUBLISH, Array.from({ length: 10 }, (_, n) => event({ type, payload: { n } })))).body;
    const before = Number(first[0].event.sequence) - 1;
    const a = await track(openStream(`?types=${type}&fromSequence=${before}`));
    const seen = await a.waitFor(4);
    await a.close(); // disconnect mid-way
    const lastId = seen.at(-1)!.id!;
    expect(lastId).toBe(first[3].event.sequence);
    // More events while disconnected, and more again after reconnecting.
    await hub.rest('POST', PUBLISH, Array.from({ length: 10 }, (_, i) => event({ type, payload: { n: 10 + i } })));
    await hub.rest('POST', PUBLISH, event({ type: unique('noise') }));
    const b = await track(openStream(`?types=${type}`, { 'last-event-id': lastId }));
    const replayed = await b.waitFor(16);
    await hub.rest('POST', PUBLISH, Array.from({ length: 5 }, (_, i) => event({ type, payload: { n: 20 + i } })));
    const all = await b.waitFor(21);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.messages).toHaveLength(21);
    expect(all.map((m) => JSON.parse(m.data).payload.n)).toEqual(Array.from({ length: 21 }, (_, i) => i + 4));
    const ids = all.map((m) => Number(m.id));
    expect(ids[0]).toBeGreaterThan(Number(lastId));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(replayed[0]!.id).toBe(first[4].event.sequence);
    await b.close();
  });

  it('a client that reads slowly holds the stream back (backpressure) and still gets every event once, in order', async () => {
    const type = unique('slow');
    let go!: () => void;
    const s = await track(openStream(`?types=${type}`, {}, new Promise<void>((r) => (go = r))));
    await new Promise((r) => setTimeout(r, 300)); // not reading yet: the stream cannot even show its opening comment
    const blob = 'x'.repeat(16 * 1024);
    // ~32 MB in all, far more than the socket buffers hold while the client does not read.
    for (let b = 0; b < 40; b++) {
      const r = await hub.rest('POST', PUBLISH, Array.from({ length: 50 }, (_, i) => event({ type, payload: { n: b * 50 + i, blob } })));
      expect(r.status).toBe(201);
    }
    go();
    const got = await s.waitFor(2000, 60_000);
    expect(got.map((m) => JSON.parse(m.data).payload.n)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    await s.close();
  });

  it('fromSequence in the query wins over Last-Event-ID', async () => {
    const type = unique('precedence');
    const r = (await hub.rest('POST', PUBLISH, Array.from({ length: 3 }, (_, n) => event({ type, payload: { n } })))).body;
    const s = await track(openStream(`?types=${type}&fromSequence=${r[0].event.sequence}`, { 'last-event-id': r[2].event.sequence }));
    expect((await s.waitFor(2)).map((m) => JSON.parse(m.data).payload.n)).toEqual([1, 2]);
    await s.close();
  });

  it('ends the stream on the server when the client disconnects', async () => {
    const s = await track(openStream(`?types=${unique('gone')}`));
    await s.opened();
    expect(await openStreams()).toBeGreaterThanOrEqual(1);
    await s.close();
    await eventually(async () => (await openStreams()) === 0, 5_000, 50);
  });

  it('400 JSON before the stream starts for a bad fromSequence, Last-Event-ID or filter', async () => {
    for (const [query, headers, field] of [
      ['?fromSequence=yesterday', {}, 'fromSequence'],
      ['?fromSequence=-1', {}, 'fromSequence'],
      ['', { 'last-event-id': 'not-a-number' }, 'Last-Event-ID'],
      ['?from=soon', {}, 'from'],
    ] as const) {
      const res = await fetch(`${hub.url}${STREAM}${query}`, { headers });
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await res.json()) as any, query).toMatchObject({ error: { code: 'BAD_USER_INPUT', details: { field } } });
    }
    expect(await openStreams()).toBe(0);
  });
});

describe('shutdown', () => {
  it('ends open streams at once, so the process need not wait out its grace period', async () => {
    const other = await startTestHub({ SHUTDOWN_GRACE_MS: '10000' });
    const ac = new AbortController();
    try {
      const res = await fetch(`${other.url}${STREAM}`, { signal: ac.signal });
      expect(res.status).toBe(200);
      const body = res.body!.getReader();
      expect(new TextDecoder().decode((await body.read()).value)).toBe(': connected\n\n');
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await body.read()).done).toBe(true);
    } finally {
      ac.abort();
      await other.close();
    }
  });
});

describe('a gateway process without the events subgraph', () => {
  it('without SUBGRAPH_EVENTS_URL answers the stream with 503 and still serves history and publish through the remote subgraph', async () => {
    const events = await startTestHub({ ROLE: 'events' });
    let gateway: TestHub | undefined;
    const file = join(tmpdir(), `supergraph-${randomBytes(4).toString('hex')}.graphql`);
    try {
      writeFileSync(file, composeSupergraph([{ name: 'events', url: `${events.url}/graphql`, typeDefs: eventsTypeDefs }]));
      gateway = await startTestHub({ ROLE: 'gateway', SUPERGRAPH_FILE: file });
      const res = await fetch(`${gateway.url}${STREAM}`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringMatching(/events/) });
      const published = await gateway.rest('POST', PUBLISH, event({ type: 'remote.ping' }));
      expect(published.status).toBe(201);
      const history = await gateway.rest('GET', `${HISTORY}?types=remote.*`);
      expect(history.body.events).toEqual([published.body.event]);
    } finally {
      await gateway?.close();
      await events.close();
      rmSync(file, { force: true });
    }
  });

  it('with SUBGRAPH_EVENTS_URL serves subscriptions and the stream from the events subgraph elsewhere: replay, then live', async () => {
    const events = await startTestHub({ ROLE: 'events' });
    let gateway: TestHub | undefined;
    const file = join(tmpdir(), `supergraph-${randomBytes(4).toString('hex')}.graphql`);
    // On Redis, the log is hardly ever polled: live events can only have come over the bus.
    const shared: Record<string, string> =
      backend === 'services' ? { DATABASE_URL: events.config.databaseUrl!, REDIS_PREFIX: events.config.redisPrefix, EVENTS_LOG_POLL_MS: '600000' } : { EVENTS_LOG_POLL_MS: '200' };
    const ws = () => wsClient(gateway!.url);
    const clients: ReturnType<typeof wsClient>[] = [];
    try {
      writeFileSync(file, composeSupergraph([{ name: 'events', url: `${events.url}/graphql`, typeDefs: eventsTypeDefs }]));
      gateway = await startTestHub({ ROLE: 'gateway', SUPERGRAPH_FILE: file, SUBGRAPH_EVENTS_URL: `${events.url}/graphql`, ...shared });
      const type = unique('remote');
      const first = await gateway.rest('POST', PUBLISH, [0, 1, 2].map((n) => event({ type, payload: { n } })));
      expect(first.status).toBe(201);

      const client = ws();
      clients.push(client);
      const fromStart = String(Number(first.body[0].event.sequence) - 1);
      const sub = collect(client, EventsDocument, { filter: { types: [type] }, fromSequence: fromStart });
      const replayed = await sub.waitFor(3, 15_000);
      expect(replayed.map((r) => (r.events.payload as { n: number }).n)).toEqual([0, 1, 2]);
      // Published straight to the events subgraph, not through this gateway (signed, as a subgraph process demands,
      // for a client of the organisation the gateway's anonymous callers belong to).
      const caller = { client: 'tests', organisationId: DEFAULT_ORGANISATION, homeIds: null, scopes: new Set(SCOPES) };
      for (const n of [3, 4, 5]) {
        const res = await internalFetch(parseInternalKeys(TEST_INTERNAL_KEYS), caller, 'events', `${events.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: print(PublishEventDocument), variables: { input: event({ type, payload: { n } }) } }),
        });
        expect(((await res.json()) as any).errors).toBeUndefined();
      }
      const all = await sub.waitFor(6, 15_000);
      sub.stop();
      expect(all.map((r) => (r.events.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(new Set(all.map((r) => r.events.sequence)).size).toBe(6);

      const ac = new AbortController();
      const res = await fetch(`${gateway.url}${STREAM}?types=${type}&fromSequence=${fromStart}`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while ((text.match(/^id: /gm) ?? []).length < 6) text += (await reader.read()).value ?? '';
      ac.abort();
      expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => m[1])).toEqual(all.map((r) => r.events.sequence));
    } finally {
      for (const c of clients) await c.dispose();
      await gateway?.close();
      await events.close();
      rmSync(file, { force: true });
    }
  });
});
