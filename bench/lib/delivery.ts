import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { pause } from './env.ts';
import type { FillerOptions, FillerOut } from './filler-worker.ts';
import { PUBLISH_ONE, publishGraphQL as publish } from './publish-request.ts';
import type { Acknowledged, MeasuredWindow } from './publish.ts';
import { summarize, type Summary } from './stats.ts';

export const LATENCY_TYPE = 'bench.latency';
export const FLOW_TYPE = 'bench.flow';

export const SUBSCRIPTION = `subscription { events(filter: {types: ["${LATENCY_TYPE}"]}) { sequence payload } }`;
export { PUBLISH_MANY, PUBLISH_ONE } from './publish-request.ts';

/** Requests the paced publisher may have outstanding; past it a tick is skipped (and counted), not queued. */
const MAX_IN_FLIGHT = 200;
const REQUEST_TIMEOUT_MS = 10_000;
const FILLER_MAX_IN_FLIGHT = 50;
const LOOP_RESOLUTION_MS = 5;

export interface DeliveryOptions {
  /** http://host:port; the subscriber connects to ws://host:port/graphql. */
  httpUrl: string;
  warmupSeconds: number;
  seconds: number;
  /** The flow to keep up, all events together (the latency-marked ones included). */
  targetEventsPerMinute: number;
  /** One latency-marked publishEvent per tick. */
  tickMs: number;
  /** One publishEvents batch of filler events every this many ticks. */
  batchEveryTicks: number;
  /** Called around the measured window only, e.g. to sample CPU use. */
  measured?: MeasuredWindow;
}

type Phase = 'handshake' | 'warmup' | 'measure' | 'after';

interface LatencyPayload {
  bench: 'latency';
  phase: Phase;
  i: number;
  /** Date.now() in this process just before the publish request was sent. */
  t: number;
}

interface SentLatency {
  payload: LatencyPayload;
  sequence?: number;
  ackMs?: number;
  failed?: string;
}

interface Receipt {
  sequence: number;
  payload: LatencyPayload | undefined;
  at: number;
}

export interface DeliveryMeasurement {
  durationSeconds: number;
  targetEventsPerMinute: number;
  /** Events of both kinds the hub acknowledged for requests sent during the measured window, per minute. */
  achievedEventsPerMinute: number;
  /** skippedBatches: filler batches not sent because FILLER_MAX_IN_FLIGHT were outstanding (the hub fell behind). */
  pacing: { tickMs: number; latencyEventsPerSecond: number; batchSize: number; batchesPerSecond: number; skippedTicks: number; lateTicks: number; skippedBatches: number; fillerThread: true };
  /** Publish (Date.now() before sending) to arrival at the subscriber, ms, for the measured window's latency events. */
  deliveryMs: Summary | null;
  /** Round trip of those latency events' publishEvent requests, ms: the delivery latency's share spent committing. */
  publishAckMs: Summary | null;
  /** Arrival at the subscriber minus arrival of the publisher's acknowledgement, ms (negative: delivered first): the fan-out's own share. */
  deliveryAfterAckMs: Summary | null;
  /** Round trip of the filler publishEvents batches, ms. */
  batchAckMs: Summary | null;
  /** Exactly once and in order, over every latency event published after the subscription was live (warm-up and measured). */
  latencyEvents: {
    published: number;
    acknowledged: number;
    received: number;
    missing: number;
    duplicates: number;
    outOfOrder: number;
    /** Arrived but never acknowledged, or with a payload that is not the one published under that sequence. */
    unexpected: number;
    wrongPayload: number;
    publishFailures: number;
  };
  flowBatches: { sent: number; acknowledged: number; publishFailures: number };
  /** This process's event-loop delay while measuring: a busy bench would add to the delivery latency it reports. */
  benchEventLoopDelayP99Ms: number;
  subscriptionErrors: string[];
  /** Milliseconds from the end of publishing until the last latency event arrived (or the wait gave up). */
  drainMs: number;
}

function subscribe(client: Client, onReceipt: (r: Receipt) => void, errors: string[]): () => void {
  return client.subscribe<{ events: { sequence: string; payload: LatencyPayload } }>(
    { query: SUBSCRIPTION },
    {
      next: (r) => {
        const at = Date.now();
        if (r.errors?.length) errors.push(...r.errors.map((e) => e.message));
        if (r.data) onReceipt({ sequence: Number(r.data.events.sequence), payload: r.data.events.payload, at });
      },
      error: (e) => errors.push(e instanceof Error ? e.message : JSON.stringify(e)),
      complete: () => errors.push('the subscription completed while it should have been live'),
    },
  );
}

/**
 * (c) Delivery latency under load. A graphql-ws subscriber (in this process, so publish and receive times come
 * from one clock) follows the latency-marked events while a paced, open-loop publisher keeps the target flow
 * going: one latency-marked publishEvent every tick, plus publishEvents batches of filler events sent from a worker
 * thread (filler-worker.ts), so that the load generator's own work does not delay the probe's clock.
 * Every acknowledged event is added to `ack` (per type) for the log check.
 */
export async function measureDelivery(o: DeliveryOptions, ack: Record<string, Acknowledged>): Promise<DeliveryMeasurement> {
  const endpoint = `${o.httpUrl}/graphql`;
  const latencyPerSecond = 1000 / o.tickMs;
  const batchesPerSecond = latencyPerSecond / o.batchEveryTicks;
  const batchSize = Math.max(1, Math.round((o.targetEventsPerMinute / 60 - latencyPerSecond) / batchesPerSecond));
  const fillerInputs = Array.from({ length: batchSize }, (_, n) => ({ type: FLOW_TYPE, source: 'bench', payload: { resident: `R-${String(n % 50).padStart(4, '0')}`, reading: n } }));
  ack[LATENCY_TYPE] ??= { firsts: [], lasts: [], events: 0 };
  ack[FLOW_TYPE] ??= { firsts: [], lasts: [], events: 0 };

  const sent: SentLatency[] = [];
  const batches: { phase: Phase; ackMs?: number; events: number; failed?: string }[] = [];
  const receipts: Receipt[] = [];
  const subscriptionErrors: string[] = [];
  let inFlight = 0;
  let skippedTicks = 0;
  let lateTicks = 0;

  const track = async (work: () => Promise<void>) => {
    inFlight++;
    try {
      await work();
    } finally {
      inFlight--;
    }
  };

  const sendLatency = (phase: Phase, i: number) => {
    const entry: SentLatency = { payload: { bench: 'latency', phase, i, t: 0 } };
    sent.push(entry);
    return track(async () => {
      entry.payload.t = Date.now();
      try {
        const [sequence] = await publish(endpoint, PUBLISH_ONE, { input: { type: LATENCY_TYPE, source: 'bench', payload: entry.payload } }, 'publishEvent');
        entry.ackMs = Date.now() - entry.payload.t;
        entry.sequence = sequence;
        ack[LATENCY_TYPE]!.firsts.push(sequence!);
        ack[LATENCY_TYPE]!.lasts.push(sequence!);
        ack[LATENCY_TYPE]!.events++;
      } catch (err) {
        entry.failed = (err as Error).message;
      }
    });
  };

  // The filler flow runs in a worker thread (its own event loop): see filler-worker.ts.
  // (An eval'd bootstrap registers tsx in the worker: a TypeScript entry with `--import tsx` in execArgv fails on Node 20.)
  const fillerUrl = new URL('./filler-worker.ts', import.meta.url).href;
  const filler = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(fillerUrl)}); })`, {
    eval: true,
    workerData: { endpoint, batchesPerSecond, inputs: fillerInputs, maxInFlight: FILLER_MAX_IN_FLIGHT } satisfies FillerOptions,
  });
  let fillerSkipped = 0;
  let fillerStopped: (() => void) | undefined;
  const fillerError: string[] = [];
  filler.on('error', (err) => {
    fillerError.push(err.message);
    fillerStopped?.();
  });
  filler.on('exit', () => fillerStopped?.());
  filler.on('message', (m: FillerOut) => {
    if (m.kind === 'stopped') {
      fillerSkipped = m.skipped;
      fillerStopped?.();
      return;
    }
    batches.push({ phase: m.phase as Phase, ackMs: m.ackMs, events: m.events, failed: m.failed });
    if (m.sequences) {
      ack[FLOW_TYPE]!.firsts.push(m.sequences[0]);
      ack[FLOW_TYPE]!.lasts.push(m.sequences[1]);
      ack[FLOW_TYPE]!.events += m.events;
    }
  });
  const fillerPhase = (phase: Phase) => filler.postMessage({ kind: 'phase', phase });
  const stopFiller = () =>
    new Promise<void>((resolve) => {
      fillerStopped = resolve;
      filler.postMessage({ kind: 'stop' });
    });

  const client = createClient({ url: `${o.httpUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const unsubscribe = subscribe(client, (r) => receipts.push(r), subscriptionErrors);
  try {
    // The subscription is live once it delivers: publish markers until one arrives (those before may be missed).
    const handshakeDeadline = Date.now() + 20_000;
    for (let i = 0; !receipts.length; i++) {
      if (subscriptionErrors.length) throw new Error(`subscription failed: ${subscriptionErrors.join('; ')}`);
      if (Date.now() > handshakeDeadline) throw new Error('the subscription delivered nothing within 20 s');
      void sendLatency('handshake', i);
      await pause(200);
    }
    while (inFlight) await pause(10);
    const firstCounted = sent.length;

    let i = 0;
    const runPhase = async (phase: Phase, seconds: number) => {
      const start = performance.now();
      const ticks = Math.round((seconds * 1000) / o.tickMs);
      for (let k = 0; k < ticks; k++) {
        const wait = start + k * o.tickMs - performance.now();
        if (wait > 0) await pause(wait);
        else if (-wait > 5 * o.tickMs) lateTicks++;
        if (inFlight >= MAX_IN_FLIGHT) {
          skippedTicks++;
          continue;
        }
        void sendLatency(phase, i++);
      }
      return (performance.now() - start) / 1000;
    };

    fillerPhase('warmup');
    await runPhase('warmup', o.warmupSeconds);
    const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loopDelay.enable();
    await o.measured?.start();
    fillerPhase('measure');
    const durationSeconds = await runPhase('measure', o.seconds);
    fillerPhase('after');
    await o.measured?.end();
    loopDelay.disable();
    await stopFiller();
    if (fillerError.length) throw new Error(`the filler worker failed: ${fillerError.join('; ')}`);

    // Let the publishes finish, then wait for every acknowledged latency event to arrive.
    const publishedAt = Date.now();
    const drainDeadline = publishedAt + REQUEST_TIMEOUT_MS + 5_000;
    while (inFlight && Date.now() < drainDeadline) await pause(10);
    const counted = sent.slice(firstCounted);
    const expected = new Map(counted.filter((s) => s.sequence !== undefined).map((s) => [s.sequence!, s]));
    const arrived = () => new Set(receipts.map((r) => r.sequence));
    const receiveDeadline = Date.now() + 10_000;
    let have = arrived();
    while ([...expected.keys()].some((s) => !have.has(s)) && Date.now() < receiveDeadline && !subscriptionErrors.length) {
      await pause(50);
      have = arrived();
    }
    const drainMs = Math.max(0, (receipts.at(-1)?.at ?? publishedAt) - publishedAt);

    // Exactly once, in log order.
    const seen = new Set<number>();
    let highest = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    let unexpected = 0;
    let wrongPayload = 0;
    const firstArrival = new Map<number, number>();
    for (const r of receipts) {
      if (seen.has(r.sequence)) duplicates++;
      else if (r.sequence < highest) outOfOrder++;
      seen.add(r.sequence);
      highest = Math.max(highest, r.sequence);
      if (r.payload?.phase === 'handshake') continue;
      const published = expected.get(r.sequence);
      if (!published) unexpected++;
      else if (published.payload.i !== r.payload?.i || published.payload.t !== r.payload?.t) wrongPayload++;
      if (!firstArrival.has(r.sequence)) firstArrival.set(r.sequence, r.at);
    }
    const missing = [...expected.keys()].filter((s) => !seen.has(s)).length;

    const measured = counted.filter((s) => s.payload.phase === 'measure');
    const delivered = measured.filter((s) => s.sequence !== undefined && firstArrival.has(s.sequence));
    const deliveries = delivered.map((s) => firstArrival.get(s.sequence!)! - s.payload.t);
    const afterAck = delivered.map((s) => firstArrival.get(s.sequence!)! - (s.payload.t + s.ackMs!));
    const measuredBatches = batches.filter((b) => b.phase === 'measure');
    const acknowledgedEvents = measured.filter((s) => s.sequence !== undefined).length + measuredBatches.reduce((a, b) => a + b.events, 0);

    return {
      durationSeconds: Math.round(durationSeconds * 100) / 100,
      targetEventsPerMinute: o.targetEventsPerMinute,
      achievedEventsPerMinute: Math.round((acknowledgedEvents / durationSeconds) * 60),
      pacing: { tickMs: o.tickMs, latencyEventsPerSecond: latencyPerSecond, batchSize, batchesPerSecond, skippedTicks, lateTicks, skippedBatches: fillerSkipped, fillerThread: true },
      deliveryMs: summarize(deliveries),
      publishAckMs: summarize(measured.flatMap((s) => (s.ackMs !== undefined ? [s.ackMs] : []))),
      deliveryAfterAckMs: summarize(afterAck),
      batchAckMs: summarize(measuredBatches.flatMap((b) => (b.ackMs !== undefined ? [b.ackMs] : []))),
      latencyEvents: {
        published: counted.length,
        acknowledged: expected.size,
        received: receipts.filter((r) => r.payload?.phase !== 'handshake').length,
        missing,
        duplicates,
        outOfOrder,
        unexpected,
        wrongPayload,
        publishFailures: counted.filter((s) => s.failed).length,
      },
      flowBatches: { sent: batches.length, acknowledged: batches.filter((b) => b.ackMs !== undefined).length, publishFailures: batches.filter((b) => b.failed).length },
      // The histogram's figures include its sampling interval; what is beyond it is the delay.
      benchEventLoopDelayP99Ms: Math.max(0, Math.round((loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) * 10) / 10),
      subscriptionErrors: [...new Set(subscriptionErrors)].slice(0, 10),
      drainMs,
    };
  } finally {
    unsubscribe();
    await client.dispose();
    await filler.terminate();
  }
}

export function deliveryProblems(d: DeliveryMeasurement): string[] {
  const p: string[] = [];
  const l = d.latencyEvents;
  if (!d.deliveryMs) p.push('no latency event was delivered');
  if (d.subscriptionErrors.length) p.push(`subscription errors: ${d.subscriptionErrors.join('; ')}`);
  if (l.publishFailures) p.push(`${l.publishFailures} latency-marked publishes failed`);
  if (d.flowBatches.publishFailures) p.push(`${d.flowBatches.publishFailures} filler batches failed`);
  if (l.missing) p.push(`${l.missing} of ${l.acknowledged} acknowledged latency events never reached the subscriber`);
  if (l.duplicates) p.push(`${l.duplicates} latency events delivered more than once`);
  if (l.outOfOrder) p.push(`${l.outOfOrder} latency events delivered out of sequence order`);
  if (l.unexpected) p.push(`${l.unexpected} deliveries of latency events that were never acknowledged`);
  if (l.wrongPayload) p.push(`${l.wrongPayload} deliveries carried another payload than the one published under that sequence`);
  return p;
}
