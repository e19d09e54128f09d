import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { EventPublisher, OutboxEvent } from '@hub/runtime';
import { composeSupergraph } from '@hub/gateway';
import { typeDefs as eventsTypeDefs } from '@hub/subgraph-events';
import {
  CreateEventRuleDocument,
  EventByIdDocument,
  EventLogHeadDocument,
  EventsInFullDocument,
  EventSubscriptionDocument,
  EventSubscriptionsDocument,
  HistoryDocument,
  PublishEventDocument,
  PublishEventsDocument,
  RegisterEventSchemaDocument,
  ReplayEventsDocument,
  SubscribeToEventsDocument,
  UnsubscribeDocument,
  type PublishEventInput,
} from '../generated/graphql.ts';
import { apiKeys, backend, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

/**
 * Events carry their owner and their scope, through every door: history, event(id), graphql-ws, SSE, webhooks and
 * rules. Absence is proved with a sentinel: a visible event published after the hidden ones, waited for (the log is
 * ordered, so once the sentinel is in, anything before it that was going to arrive has).
 */
const A = testClient('care-a', 'org-a'); // every scope
const READER = testClient('reader-a', 'org-a', 'read+write'); // no health, no finance
const HEALTH = testClient('health-a', 'org-a', 'read+write+health');
const HOME1 = testClient('home1-a', 'org-a', 'read+write', ['home-1']);
const B = testClient('care-b', 'org-b');

let hub: TestHub;
let port: EventPublisher;
const closers: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(A, READER, HEALTH, HOME1, B), WEBHOOK_RETRY_BASE_MS: '50' });
  // The trusted path the outbox relays use: the hub itself, naming each event's organisation.
  port = hub.hub.subgraphs.find((s) => s.name === 'events')!.provides!.eventPublisher!;
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await hub?.close();
});

const tag = () => randomBytes(4).toString('hex');
async function ok<T, V>(c: TestClient, doc: TypedDocumentNode<T, V>, vars?: V): Promise<T> {
  const r = await hub.gqlAs(c, doc, vars);
  if (r.errors?.length) throw new Error(`${c.client}: ${JSON.stringify(r.errors)}`);
  return r.data!;
}
const publishAs = async (c: TestClient, input: PublishEventInput) => (await ok(c, PublishEventDocument, { input })).publishEvent.event;
/** Hidden events, as the hub's relays hand them over; returns their ids by type. */
async function hubEvents(org: string, t: string, extra: Partial<OutboxEvent> = {}) {
  const types = [`nhs.record.read`, `hmrc.vat.submitted`, `bank.payment.settled`];
  const events = types.map((type) => ({ organisationId: org, type, source: 'hub.tests', payload: { t }, idempotencyKey: `${t}:${type}:${org}`, ...extra }));
  await port.publish(events);
  const ids: Record<string, string> = {};
  for (const e of events) ids[e.type] = (await idByKey(org, e.idempotencyKey))!;
  return ids;
}
async function idByKey(org: string, key: string): Promise<string | undefined> {
  const r = (await hub.hub.runtime!.database.db.execute(sql`select id from events.events where organisation_id = ${org} and idempotency_key = ${key}`)) as unknown as { rows?: Array<{ id: string }> } & Array<{ id: string }>;
  return (r.rows ?? r)[0]?.id;
}
async function stored(id: string) {
  const r = (await hub.hub.runtime!.database.db.execute(sql`select organisation_id, home_id, resident_id, publisher from events.events where id = ${id}`)) as unknown as { rows?: any[] } & any[];
  return (r.rows ?? r)[0];
}
async function historyIds(c: TestClient): Promise<string[]> {
  const out: string[] = [];
  let after: string | null | undefined = null;
  do {
    const page: any = (await ok(c, HistoryDocument, { first: 1000, after })).eventHistory;
    out.push(...page.events.map((e: { id: string }) => e.id));
    after = page.endCursor;
  } while (after);
  return out;
}
async function restHistory(c: TestClient, query = '') {
  const res = await fetch(`${hub.url}/api/integration/events/history?first=1000${query}`, { headers: c.headers });
  return { status: res.status, body: (await res.json()) as any };
}

function ws(c: TestClient, base = hub.url): Client {
  const client = createClient({ url: `${base.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: c.headers.authorization } });
  closers.push(() => client.dispose() as Promise<void>);
  return client;
}

/** A minimal SSE reader: the events' JSON as they arrive. */
async function sse(c: TestClient, query = '', base = hub.url) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/integration/events/stream${query}`, { headers: { accept: 'text/event-stream', ...c.headers }, signal: ac.signal });
  expect(res.status).toBe(200);
  const events: any[] = [];
  let connected = false;
  const pump = (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
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
          if (block.startsWith(': connected')) connected = true;
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      }
    } catch {
      // aborted
    }
  })();
  const close = async () => {
    ac.abort();
    await pump;
  };
  closers.push(close);
  await eventually(async () => connected, 10_000, 20);
  return { events, close, waitFor: (id: string) => eventually(async () => events.some((e) => e.id === id), 15_000, 20) };
}

/** A webhook receiver: what it was sent, in order. */
async function receiver() {
  const received: any[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      received.push(JSON.parse(raw));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, waitFor: (id: string) => eventually(async () => received.some((e) => e.id === id), 20_000, 50) };
}

describe('history and event(id)', () => {
  it('B never sees A’s events; a read-only client of A sees none of its nhs/hmrc/bank events; a health client sees nhs only', async () => {
    // Before anything of its own, B's log is empty: A's activity does not even move B's head.
    const t = tag();
    const own = await publishAs(A, { type: `t${t}.note`, source: 'care-app', payload: { secret: 'org-a only' } });
    const hidden = await hubEvents('org-a', t);
    expect((await ok(B, EventLogHeadDocument)).eventLogHead).toBe('0');
    expect(await historyIds(B)).toEqual([]);
    const restB = await restHistory(B);
    expect(restB).toMatchObject({ status: 200, body: { events: [], endCursor: null } });

    const all = await historyIds(A);
    expect(all).toEqual(expect.arrayContaining([own.id, ...Object.values(hidden)]));
    expect((await ok(A, EventLogHeadDocument)).eventLogHead).toBe(String(Math.max(...(await ok(A, HistoryDocument, { first: 1000 })).eventHistory.events.map((e) => Number(e.sequence)))));

    const reader = await historyIds(READER);
    expect(reader).toContain(own.id);
    for (const id of Object.values(hidden)) expect(reader).not.toContain(id);
    // Asking for the types outright changes nothing.
    const asked = await ok(READER, HistoryDocument, { filter: { types: ['nhs.*', 'hmrc.*', 'bank.*', 'NHS.*'] } });
    expect(asked.eventHistory.events).toEqual([]);
    expect((await restHistory(READER, '&types=nhs.*,hmrc.*,bank.*')).body.events).toEqual([]);

    const health = await historyIds(HEALTH);
    expect(health).toContain(hidden['nhs.record.read']);
    expect(health).not.toContain(hidden['hmrc.vat.submitted']);
    expect(health).not.toContain(hidden['bank.payment.settled']);

    // event(id): another organisation's, or one the scopes do not cover, is null like an id that does not exist.
    expect((await ok(B, EventByIdDocument, { id: own.id })).integrationEvent).toBeNull();
    expect((await ok(B, EventByIdDocument, { id: hidden['nhs.record.read']! })).integrationEvent).toBeNull();
    expect((await ok(READER, EventByIdDocument, { id: hidden['nhs.record.read']! })).integrationEvent).toBeNull();
    expect((await ok(READER, EventByIdDocument, { id: hidden['hmrc.vat.submitted']! })).integrationEvent).toBeNull();
    expect((await ok(READER, EventByIdDocument, { id: own.id })).integrationEvent?.id).toBe(own.id);
    expect((await ok(HEALTH, EventByIdDocument, { id: hidden['nhs.record.read']! })).integrationEvent?.type).toBe('nhs.record.read');
    expect((await ok(HEALTH, EventByIdDocument, { id: hidden['bank.payment.settled']! })).integrationEvent).toBeNull();
    expect((await ok(A, EventByIdDocument, { id: hidden['bank.payment.settled']! })).integrationEvent?.publisher).toBe('hub');

    // Cursors still page through one organisation's part of the global sequence.
    const p1 = (await ok(A, HistoryDocument, { filter: { types: [`t${t}.*`, 'nhs.*', 'hmrc.*', 'bank.*'] }, first: 2 })).eventHistory;
    const p2 = (await ok(A, HistoryDocument, { filter: { types: [`t${t}.*`, 'nhs.*', 'hmrc.*', 'bank.*'] }, first: 1000, after: p1.endCursor })).eventHistory;
    expect([...p1.events, ...p2.events].map((e) => e.id)).toEqual(all.filter((id) => [own.id, ...Object.values(hidden)].includes(id)));
  });

  it('the relays’ organisation, home and resident are stored; a client limited to homes sees only theirs', async () => {
    const t = tag();
    await port.publish([
      { organisationId: 'org-a', homeId: 'home-1', residentId: `res-${t}`, type: `t${t}.home1`, source: 'hub.care', payload: {}, idempotencyKey: `${t}:1` },
      { organisationId: 'org-a', homeId: 'home-2', residentId: `res-${t}`, type: `t${t}.home2`, source: 'hub.care', payload: {}, idempotencyKey: `${t}:2` },
    ]);
    const one = (await idByKey('org-a', `${t}:1`))!;
    const two = (await idByKey('org-a', `${t}:2`))!;
    expect(await stored(one)).toEqual({ organisation_id: 'org-a', home_id: 'home-1', resident_id: `res-${t}`, publisher: 'hub' });
    const seen = (await ok(HOME1, HistoryDocument, { filter: { types: [`t${t}.*`] } })).eventHistory.events.map((e) => e.id);
    expect(seen).toEqual([one]);
    expect((await ok(HOME1, EventByIdDocument, { id: two })).integrationEvent).toBeNull();
    const other = await hub.gqlAs(HOME1, PublishEventDocument, { input: { type: `t${t}.x`, source: 'app', payload: {}, homeId: 'home-2' } });
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('reserved types and sources; the publisher is who authenticated', () => {
  it('refuses a client’s nhs.* type or hub.* source, in one event, a batch, REST, a schema or a rule, and appends nothing', async () => {
    const headA = async () => (await ok(A, EventLogHeadDocument)).eventLogHead;
    const before = await headA();
    const cases: Array<[PublishEventInput, RegExp]> = [
      [{ type: 'nhs.x', source: 'app', payload: {} }, /type nhs\.x is reserved/],
      [{ type: 'NHS.Demographics', source: 'app', payload: {} }, /reserved/],
      [{ type: 'system.registered', source: 'app', payload: {} }, /reserved/],
      [{ type: 'care.admission', source: 'app', payload: {} }, /reserved/],
      [{ type: 'app.ok', source: 'hub.x', payload: {} }, /source hub\.x is reserved/],
      [{ type: 'app.ok', source: 'hub', payload: {} }, /reserved/],
    ];
    for (const c of [READER, A]) {
      for (const [input, message] of cases) {
        const r = await hub.gqlAs(c, PublishEventDocument, { input });
        expect(r.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe('FORBIDDEN');
        expect(r.errors?.[0]?.message).toMatch(message);
      }
    }
    const batch = await hub.gqlAs(A, PublishEventsDocument, { inputs: [{ type: 'app.fine', source: 'app', payload: {} }, { type: 'hmrc.rti.sent', source: 'app', payload: {} }] });
    expect(batch.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringMatching(/inputs\[1\]\.type/) });
    const rest = await fetch(`${hub.url}/api/integration/events/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...A.headers }, body: JSON.stringify({ type: 'bank.x', source: 'app', payload: {} }) });
    expect(rest.status).toBe(403);
    expect(((await rest.json()) as any).error.code).toBe('FORBIDDEN');
    const schema = await hub.gqlAs(A, RegisterEventSchemaDocument, { type: 'nhs.record.read', schema: { type: 'object' } });
    expect(schema.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const publish of [{ type: 'sync.started' }, { type: 'app.derived', source: 'hub.rules' }]) {
      const rule = await hub.gqlAs(A, CreateEventRuleDocument, { input: { name: 'forge', filter: { types: ['app.*'] }, publish } });
      expect(rule.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect(await headA()).toBe(before);
  });

  it('stamps the authenticated client and its organisation, whatever the input or headers claim', async () => {
    const t = tag();
    const res = await fetch(`${hub.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-client': 'care-b', ...READER.headers },
      body: JSON.stringify({
        query: 'mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id publisher } } }',
        variables: { i: { type: `t${t}.claimed`, source: 'care-b', organisationId: 'org-b', metadata: { publisher: 'care-b' }, payload: {} } },
      }),
    });
    const event = ((await res.json()) as any).data.publishEvent.event;
    expect(event.publisher).toBe('reader-a');
    expect(await stored(event.id)).toMatchObject({ organisation_id: 'org-a', publisher: 'reader-a' });
    expect((await ok(B, EventByIdDocument, { id: event.id })).integrationEvent).toBeNull();
    expect((await ok(A, EventByIdDocument, { id: event.id })).integrationEvent?.publisher).toBe('reader-a');
    // Idempotency keys are per organisation: B's use of the same key is its own event.
    const key = `key-${t}`;
    const a = await publishAs(A, { type: `t${t}.k`, source: 'app', payload: {}, idempotencyKey: key });
    const b = await ok(B, PublishEventDocument, { input: { type: `t${t}.k`, source: 'app', payload: {}, idempotencyKey: key } });
    expect(b.publishEvent.duplicate).toBe(false);
    expect(b.publishEvent.event.id).not.toBe(a.id);
    expect(b.publishEvent.event.publisher).toBe('care-b');
    // Payload schemas too: A's schema for a type binds A's events only.
    await ok(A, RegisterEventSchemaDocument, { type: `t${t}.typed`, schema: { type: 'object', required: ['n'] } });
    expect((await hub.gqlAs(A, PublishEventDocument, { input: { type: `t${t}.typed`, source: 'app', payload: {} } })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await hub.gqlAs(B, PublishEventDocument, { input: { type: `t${t}.typed`, source: 'app', payload: {} } })).errors).toBeUndefined();
  });
});

describe('live: graphql-ws and SSE', () => {
  it('each subscriber gets only what it may read, from the log (replay) and live', async () => {
    const t = tag();
    // Any sequence will do as a start: each reader's replay skips what is not theirs.
    const from = (await ok(A, EventLogHeadDocument)).eventLogHead;
    // Phase 1, before anyone listens: read back from the log.
    const hidden1 = await hubEvents('org-a', `${t}-1`);
    const bHidden1 = await hubEvents('org-b', `${t}-1`);

    const subs = {
      B: { ws: collect(ws(B), EventsInFullDocument, {}), sse: await sse(B, `?fromSequence=${from}`) },
      READER: { ws: collect(ws(READER), EventsInFullDocument, {}), sse: await sse(READER, `?fromSequence=${from}`) },
      HEALTH: { ws: collect(ws(HEALTH), EventsInFullDocument, {}), sse: await sse(HEALTH, `?fromSequence=${from}`) },
    };
    // graphql-ws subscriptions start from now; a sentinel each proves they are live before phase 2.
    const wsSeen = (s: (typeof subs)['B']) => s.ws.received.map((r) => r.events.id);
    const waitAll = async (a: string, b: string) => {
      for (const [name, s] of Object.entries(subs)) {
        const id = name === 'B' ? b : a;
        await eventually(async () => wsSeen(s).includes(id), 15_000, 20);
        await s.sse.waitFor(id);
      }
    };
    const ready: Record<'A' | 'B', string[]> = { A: [], B: [] };
    await eventually(
      async () => {
        ready.A.push((await publishAs(A, { type: `t${t}.ready`, source: 'app', payload: {} })).id);
        ready.B.push((await publishAs(B, { type: `t${t}.ready`, source: 'app', payload: {} })).id);
        return Object.entries(subs).every(([name, s]) => wsSeen(s).some((id) => ready[name === 'B' ? 'B' : 'A'].includes(id))) || undefined;
      },
      15_000,
      300,
    ).catch((err) => {
      throw new Error(`${err.message}; ${JSON.stringify(Object.fromEntries(Object.entries(subs).map(([n, x]) => [n, { got: x.ws.received.length, errors: x.ws.errors }])))}`);
    });

    // Phase 2, live: hidden events, then the sentinels.
    const own = await publishAs(A, { type: `t${t}.note`, source: 'app', payload: {} });
    const hidden2 = await hubEvents('org-a', `${t}-2`);
    const bHidden2 = await hubEvents('org-b', `${t}-2`);
    const sentinelA = await publishAs(A, { type: `t${t}.sentinel`, source: 'app', payload: {} });
    const sentinelB = await publishAs(B, { type: `t${t}.sentinel`, source: 'app', payload: {} });
    await waitAll(sentinelA.id, sentinelB.id);

    const orgA = [own.id, ...Object.values(hidden1), ...Object.values(hidden2)];
    const scoped = (h: Record<string, string>, ...types: string[]) => types.map((x) => h[x]!);
    for (const [name, s] of Object.entries(subs)) {
      const seen = [...wsSeen(s), ...s.sse.events.map((e) => e.id)];
      const never =
        name === 'B'
          ? orgA
          : name === 'READER'
            ? [...Object.values(hidden1), ...Object.values(hidden2), ...Object.values(bHidden1), ...Object.values(bHidden2)]
            : [...scoped(hidden1, 'hmrc.vat.submitted', 'bank.payment.settled'), ...scoped(hidden2, 'hmrc.vat.submitted', 'bank.payment.settled'), ...Object.values(bHidden1), ...Object.values(bHidden2)];
      for (const id of never) expect(seen, `${name} saw ${id}`).not.toContain(id);
      expect(s.ws.errors).toEqual([]);
    }
    // What each may read did arrive, on both doors.
    expect(subs.B.sse.events.map((e) => e.id)).toEqual(expect.arrayContaining([bHidden1['nhs.record.read'], bHidden2['bank.payment.settled'], sentinelB.id]));
    expect(wsSeen(subs.B)).toEqual(expect.arrayContaining([bHidden2['nhs.record.read'], sentinelB.id]));
    expect(wsSeen(subs.READER)).toEqual(expect.arrayContaining([own.id, sentinelA.id]));
    expect(subs.HEALTH.sse.events.map((e) => e.id)).toEqual(expect.arrayContaining([hidden1['nhs.record.read'], hidden2['nhs.record.read'], own.id]));
    expect(wsSeen(subs.HEALTH)).toEqual(expect.arrayContaining([hidden2['nhs.record.read'], own.id]));
    for (const s of Object.values(subs)) s.ws.stop();
  });
});

describe('webhooks and rules read what their creator may read', () => {
  it('B’s webhook gets none of A’s events; a read-only client’s webhook none of nhs/hmrc/bank; a health client’s gets nhs', async () => {
    const t = tag();
    const hooks = { B: await receiver(), READER: await receiver(), HEALTH: await receiver() };
    const clients = { B, READER, HEALTH };
    const subs: Record<string, string> = {};
    for (const [name, h] of Object.entries(hooks)) {
      const r = await ok(clients[name as keyof typeof clients], SubscribeToEventsDocument, { subscription: { name: `everything ${t}`, targetUrl: h.url } });
      subs[name] = r.subscribeToEvents.subscription.id;
    }
    const own = await publishAs(A, { type: `t${t}.note`, source: 'app', payload: {} });
    const hidden = await hubEvents('org-a', t);
    const sentinelA = await publishAs(A, { type: `t${t}.sentinel`, source: 'app', payload: {} });
    const sentinelB = await publishAs(B, { type: `t${t}.sentinel`, source: 'app', payload: {} });
    await hooks.B.waitFor(sentinelB.id);
    await hooks.READER.waitFor(sentinelA.id);
    await hooks.HEALTH.waitFor(sentinelA.id);
    const ids = (h: { received: any[] }) => h.received.map((e) => e.id);
    for (const id of [own.id, sentinelA.id, ...Object.values(hidden)]) expect(ids(hooks.B)).not.toContain(id);
    for (const id of Object.values(hidden)) expect(ids(hooks.READER)).not.toContain(id);
    expect(ids(hooks.READER)).toEqual(expect.arrayContaining([own.id, sentinelA.id]));
    expect(ids(hooks.HEALTH)).toEqual(expect.arrayContaining([own.id, hidden['nhs.record.read'], sentinelA.id]));
    expect(ids(hooks.HEALTH)).not.toContain(hidden['hmrc.vat.submitted']);
    expect(ids(hooks.HEALTH)).not.toContain(hidden['bank.payment.settled']);
    expect(hooks.READER.received.find((e) => e.id === own.id).publisher).toBe('care-a');

    // A replay reads the log again as the creator: still nothing it may not read.
    const count = hooks.READER.received.length;
    await ok(READER, ReplayEventsDocument, { id: subs.READER!, from: String(Number(own.sequence) - 1) });
    await eventually(async () => hooks.READER.received.slice(count).some((e) => e.id === sentinelA.id), 20_000, 50);
    for (const id of Object.values(hidden)) expect(ids(hooks.READER)).not.toContain(id);

    // B can neither find, list, replay nor cancel A's subscriptions; A's stay as they were.
    expect((await ok(B, EventSubscriptionDocument, { id: subs.READER! })).eventSubscription).toBeNull();
    expect((await ok(B, EventSubscriptionsDocument)).eventSubscriptions.map((s) => s.id)).toEqual([subs.B]);
    for (const doc of [
      () => hub.gqlAs(B, ReplayEventsDocument, { id: subs.READER!, from: '0' }),
      () => hub.gqlAs(B, UnsubscribeDocument, { id: subs.READER! }),
    ]) {
      const r = await doc();
      expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await ok(A, EventSubscriptionDocument, { id: subs.READER! })).eventSubscription?.status).toBe('ACTIVE');
  });

  it('a read-only client’s rule never reacts to an nhs event; its derived events are its own', async () => {
    const t = tag();
    const rule = await ok(READER, CreateEventRuleDocument, { input: { name: `derive ${t}`, filter: { types: ['nhs.*', `t${t}.trigger`] }, publish: { type: `t${t}.derived` } } });
    expect(rule.createEventRule.subscription.kind).toBe('RULE');
    await hubEvents('org-a', t);
    const trigger = await publishAs(A, { type: `t${t}.trigger`, source: 'app', payload: { n: 1 } });
    const derived = await eventually(async () => {
      const d = (await ok(A, HistoryDocument, { filter: { types: [`t${t}.derived`] } })).eventHistory.events;
      return d.length ? d : undefined;
    });
    // The trigger came after the nhs events: had the rule seen them, their derived events would be in first.
    expect(derived.map((e) => e.causationId)).toEqual([trigger.id]);
    expect(derived[0]).toMatchObject({ publisher: 'reader-a', source: `rule:derive ${t}` });
    expect((await ok(B, HistoryDocument, { filter: { types: [`t${t}.derived`] } })).eventHistory.events).toEqual([]);
  });
});

describe('a gateway in another process than the events subgraph', () => {
  it('reads the remote log signed as each subscriber: SSE and graphql-ws carry only what it may read', async () => {
    const keys = apiKeys(A, READER, B);
    const events = await startTestHub({ ROLE: 'events' });
    const file = join(tmpdir(), `supergraph-${randomBytes(4).toString('hex')}.graphql`);
    let gateway: TestHub | undefined;
    try {
      writeFileSync(file, composeSupergraph([{ name: 'events', url: `${events.url}/graphql`, typeDefs: eventsTypeDefs }]));
      const shared: Record<string, string> =
        backend === 'services' ? { DATABASE_URL: events.config.databaseUrl!, REDIS_PREFIX: events.config.redisPrefix } : { EVENTS_LOG_POLL_MS: '200' };
      gateway = await startTestHub({ ROLE: 'gateway', SUPERGRAPH_FILE: file, SUBGRAPH_EVENTS_URL: `${events.url}/graphql`, AUTH_API_KEYS: keys, ...shared });
      const remotePort = events.hub.subgraphs.find((s) => s.name === 'events')!.provides!.eventPublisher!;
      const t = tag();
      const publish = async (c: TestClient, type: string) => {
        const r = await gateway!.gqlAs(c, PublishEventDocument, { input: { type, source: 'app', payload: {} } });
        if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
        return r.data!.publishEvent.event;
      };
      const first = await publish(A, `t${t}.first`);
      const from = String(Number(first.sequence) - 1);
      const hidden = ['nhs.record.read', 'hmrc.vat.submitted', 'bank.payment.settled'].map((type) => ({ organisationId: 'org-a', type, source: 'hub.tests', payload: {}, idempotencyKey: `${t}:${type}` }));
      await remotePort.publish(hidden);
      const reader = await sse(READER, `?fromSequence=${from}`, gateway.url);
      const other = await sse(B, `?fromSequence=${from}`, gateway.url);
      const readerWs = collect(ws(READER, gateway.url), EventsInFullDocument, {});
      const bWs = collect(ws(B, gateway.url), EventsInFullDocument, {});
      // Live ones too, once the subscriptions are in: repeated until each has seen one.
      const readyA: string[] = [];
      const readyB: string[] = [];
      await eventually(async () => {
        readyA.push((await publish(A, `t${t}.ready`)).id);
        readyB.push((await publish(B, `t${t}.ready`)).id);
        return (readerWs.received.some((r) => readyA.includes(r.events.id)) && bWs.received.some((r) => readyB.includes(r.events.id))) || undefined;
      }, 20_000, 300);
      await remotePort.publish(hidden.map((h) => ({ ...h, idempotencyKey: `${h.idempotencyKey}:live` })));
      const sentinelA = await publish(A, `t${t}.sentinel`);
      const sentinelB = await publish(B, `t${t}.sentinel`);
      await reader.waitFor(sentinelA.id);
      await other.waitFor(sentinelB.id);
      await eventually(async () => readerWs.received.some((r) => r.events.id === sentinelA.id), 15_000, 20);
      await eventually(async () => bWs.received.some((r) => r.events.id === sentinelB.id), 15_000, 20);
      const readerTypes = [...reader.events.map((e) => e.type), ...readerWs.received.map((r) => r.events.type)];
      expect(readerTypes.filter((x) => /^(nhs|hmrc|bank)\./.test(x))).toEqual([]);
      expect(reader.events.map((e) => e.id)).toEqual(expect.arrayContaining([first.id, sentinelA.id]));
      const bIds = [...other.events.map((e) => e.id), ...bWs.received.map((r) => r.events.id)];
      expect(bIds).not.toContain(first.id);
      expect(bIds).not.toContain(sentinelA.id);
      expect([...other.events, ...bWs.received.map((r) => r.events)].every((e) => e.publisher === 'care-b')).toBe(true);
      expect(readerWs.errors).toEqual([]);
      readerWs.stop();
      bWs.stop();
      await reader.close();
      await other.close();
    } finally {
      await gateway?.close();
      await events.close();
      rmSync(file, { force: true });
    }
  });
});
