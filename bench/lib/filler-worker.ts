/**
 * The delivery case's filler flow, in a worker thread: paced publishEvents batches, sent on their own event loop
 * so that building, sending and parsing them never delays the latency probe's clock in the main thread (which
 * would be counted as the hub's delivery latency). Started by measureDelivery in delivery.ts.
 *
 * in:  { kind: 'phase', phase }   batches sent from now on are counted under `phase`
 *      { kind: 'stop' }           stop sending; reply `stopped` once every batch in flight has settled
 * out: { kind: 'batch', ... }     one per settled batch
 *      { kind: 'stopped', skipped }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pause } from './env.ts';
import { publishGraphQL, PUBLISH_MANY } from './publish-request.ts';

export interface FillerOptions {
  endpoint: string;
  batchesPerSecond: number;
  inputs: unknown[];
  maxInFlight: number;
}

export type FillerIn = { kind: 'phase'; phase: string } | { kind: 'stop' };
export type FillerOut =
  | { kind: 'batch'; phase: string; ackMs?: number; sequences?: [number, number]; events: number; failed?: string }
  | { kind: 'stopped'; skipped: number };

const o = workerData as FillerOptions;
const port = parentPort!;
let phase = 'warmup';
let stopping = false;
let inFlight = 0;
let skipped = 0;

port.on('message', (m: FillerIn) => {
  if (m.kind === 'phase') phase = m.phase;
  else stopping = true;
});

async function send(): Promise<void> {
  const at = phase;
  inFlight++;
  const t = Date.now();
  try {
    const sequences = await publishGraphQL(o.endpoint, PUBLISH_MANY, { inputs: o.inputs }, 'publishEvents');
    port.postMessage({ kind: 'batch', phase: at, ackMs: Date.now() - t, sequences: [sequences[0]!, sequences.at(-1)!], events: sequences.length } satisfies FillerOut);
  } catch (err) {
    port.postMessage({ kind: 'batch', phase: at, events: 0, failed: (err as Error).message } satisfies FillerOut);
  } finally {
    inFlight--;
  }
}

const intervalMs = 1000 / o.batchesPerSecond;
const start = performance.now();
for (let k = 0; !stopping; k++) {
  const wait = start + k * intervalMs - performance.now();
  if (wait > 0) await pause(wait);
  if (stopping) break;
  if (inFlight >= o.maxInFlight) skipped++;
  else void send();
}
while (inFlight) await pause(5);
port.postMessage({ kind: 'stopped', skipped } satisfies FillerOut);
port.close();
