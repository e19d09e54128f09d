import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSubscriptionDocument, PublishEventsDocument, ReplayEventsDocument, SubscribeToEventsDocument, UnsubscribeDocument, type PublishEventInput } from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

/** A webhook receiver that answers `failFirst` requests with 500 (or always, when -1), then 200. */
async function receiver(failFirst: number) {
  const received: Array<{ body: any; headers: Record<string, string | string[] | undefined>; raw: string }> = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      calls++;
      if (failFirst < 0 || calls <= failFirst) {
        res.writeHead(500).end('not now');
        return;
      }
      received.push({ body: JSON.parse(raw), headers: req.headers, raw });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, calls: () => calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let hub: TestHub;
const closers: Array<() => Promise<void>> = [];
beforeAll(async () => {
  hub = await startTestHub({ WEBHOOK_RETRY_BASE_MS: '50' });
});
afterAll(async () => {
  for (const c of closers) await c();
  await hub?.close();
});

const events = (type: string, n: number): PublishEventInput[] => Array.from({ length: n }, (_, i) => ({ type, source: 'tests', payload: { n: i } }));

describe('durable webhook subscriptions', () => {
  it('retries a failing webhook with backoff and then delivers every event once, in order, signed', async () => {
    const hook = await receiver(3);
    closers.push(hook.close);
    const type = `hook.${Math.random().toString(36).slice(2)}`;
    const { subscribeToEvents } = await hub.ok(SubscribeToEventsDocument, { subscription: { name: 'flaky receiver', filter: { types: [type] }, targetUrl: hook.url } });
    const { subscription } = subscribeToEvents;
    const secret = subscribeToEvents.secret!;
    expect(secret.length).toBeGreaterThan(30);
    expect(subscription).toMatchObject({ status: 'ACTIVE', delivered: 0, maxAttempts: 8 });

    await hub.ok(PublishEventsDocument, { inputs: events(type, 10) });
    await hub.ok(PublishEventsDocument, { inputs: events('other.type', 3) });
    await eventually(async () => hook.received.length >= 10);
    await new Promise((r) => setTimeout(r, 500));
    expect(hook.calls()).toBe(13); // three failures, then each event once
    expect(hook.received.map((r) => r.body.payload.n)).toEqual([...Array(10).keys()]);
    for (const r of hook.received) {
      const sig = String(r.headers['x-hub-signature']);
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig)!;
      expect(createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex')).toBe(v1);
      expect(r.headers['x-hub-sequence']).toBe(r.body.sequence);
    }
    const { eventSubscription } = await hub.ok(EventSubscriptionDocument, { id: subscription.id });
    expect(eventSubscription).toMatchObject({ delivered: 10, attempts: 0, lastError: null, offset: hook.received.at(-1)!.body.sequence, deadLetters: [] });
    // The secret is shown once: no field returns it again.
    expect(JSON.stringify(eventSubscription)).not.toContain(secret);
  });

  it('fills the dead-letter list for a dead webhook and moves on', async () => {
    const hook = await receiver(-1);
    closers.push(hook.close);
    const type = `dead.${Math.random().toString(36).slice(2)}`;
    const { subscribeToEvents } = await hub.ok(SubscribeToEventsDocument, { subscription: { name: 'dead receiver', filter: { types: [type] }, targetUrl: hook.url, maxAttempts: 2 } });
    const id = subscribeToEvents.subscription.id;
    await hub.ok(PublishEventsDocument, { inputs: events(type, 3) });
    const dead = await eventually(async () => {
      const s = (await hub.ok(EventSubscriptionDocument, { id })).eventSubscription!;
      return s.deadLetters.length === 3 ? s : undefined;
    });
    expect(dead.deadLetters.map((d) => d.attempts)).toEqual([2, 2, 2]);
    // Newest first. After five failures in a row the webhook's circuit breaker opens: the sixth attempt fails fast.
    expect(dead.deadLetters.at(-1)!.error).toMatch(/HTTP 500/);
    expect(dead.deadLetters[0]!.error).toMatch(/circuit open/);
    expect(dead.deadLetters.every((d) => d.event.type === type)).toBe(true);
    expect(hook.calls()).toBe(5);
    expect(dead.offset).toBe(dead.deadLetters[0]!.sequence);
  });

  it('replays from a sequence, and stops delivering once unsubscribed', async () => {
    const hook = await receiver(0);
    closers.push(hook.close);
    const type = `replay.${Math.random().toString(36).slice(2)}`;
    const published = await hub.ok(PublishEventsDocument, { inputs: events(type, 5) });
    const before = String(Number(published.publishEvents[0]!.event.sequence) - 1);
    const { subscribeToEvents } = await hub.ok(SubscribeToEventsDocument, { subscription: { name: 'replayer', filter: { types: [type] }, targetUrl: hook.url, fromSequence: before } });
    const id = subscribeToEvents.subscription.id;
    await eventually(async () => hook.received.length >= 5);
    await hub.ok(ReplayEventsDocument, { id, from: published.publishEvents[2]!.event.sequence });
    await eventually(async () => hook.received.length >= 7);
    expect(hook.received.map((r) => r.body.payload.n)).toEqual([0, 1, 2, 3, 4, 3, 4]);
    await hub.ok(UnsubscribeDocument, { id });
    await hub.ok(PublishEventsDocument, { inputs: events(type, 2) });
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.received).toHaveLength(7);
  });

  it('refuses a target the hub may not call, and bad input', async () => {
    const refused = await hub.gql(SubscribeToEventsDocument, { subscription: { name: 'x', targetUrl: 'http://169.254.169.254/hook' } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('OUTBOUND_REFUSED');
    const bad = await hub.gql(SubscribeToEventsDocument, { subscription: { name: 'x', targetUrl: 'not a url' } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const attempts = await hub.gql(SubscribeToEventsDocument, { subscription: { name: 'x', targetUrl: 'https://example.org/h', maxAttempts: 0 } });
    expect(attempts.errors?.[0]?.message).toMatch(/maxAttempts/);
    const missing = await hub.gql(ReplayEventsDocument, { id: '00000000-0000-4000-8000-000000000000', from: '0' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
