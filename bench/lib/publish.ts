import autocannon from 'autocannon';
import { pause } from './env.ts';
import { graphqlRequest, postGraphQL, type GraphQLBody } from './graphql.ts';

/** Sequences the hub acknowledged, as inclusive ranges (a batch is appended in one transaction, so it is one range). */
export interface Acknowledged {
  firsts: number[];
  lasts: number[];
  events: number;
}

/** Hooks around a measured window (not its warm-up): CPU and database samples. */
export interface MeasuredWindow {
  start(): Promise<void>;
  end(): Promise<void>;
}

export interface PublishCase {
  endpoint: string;
  /** The GraphQL request every connection sends, again and again. */
  query: string;
  variables?: Record<string, unknown>;
  /** `publishEvent` (one event) or `publishEvents` (a batch). */
  field: 'publishEvent' | 'publishEvents';
  /** Events per request. */
  batchSize: number;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Called around the measured run only (not the warm-up), e.g. to sample CPU use. */
  measured?: MeasuredWindow;
}

export interface PublishMeasurement {
  connections: number;
  batchSize: number;
  durationSeconds: number;
  /** Measured requests answered 200 with every event acknowledged. */
  okRequests: number;
  /** okRequests x batchSize per minute of the measured run. */
  eventsPerMinute: number;
  /** autocannon's per-second mean of responses (any status). */
  requestsPerSecond: number;
  /** Request latency (one publish, or one batch), ms: 2xx responses only, as autocannon records them. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  latencyMaxMs: number;
  totalRequests: number;
  non2xx: number;
  /** Connection errors and timeouts plus responses with GraphQL `errors` or without the events asked for. */
  errors: number;
  transportErrors: number;
  timeouts: number;
  graphqlErrors: number;
  /** 200s without `errors` whose data was not one sequence per event (consecutive within a batch). */
  badData: number;
  statusCodes: Record<string, number>;
  /** The first few distinct GraphQL error messages / bad bodies (warm-up included), to tell what went wrong. */
  errorSamples: string[];
  /** The same checks over the warm-up run (its numbers are discarded, its problems are not). */
  warmup: { okRequests: number; problems: number };
}

const MAX_ERROR_SAMPLES = 5;

/**
 * Checks one response: HTTP 200 is autocannon's to count; the body must carry no `errors` and one sequence per
 * event, consecutive within a batch (one transaction under the head lock). The acknowledged range is kept, so
 * the log can be checked afterwards for every acknowledged event.
 */
function publishVerifier(c: PublishCase, ack: Acknowledged, samples: Set<string>) {
  const counts = { ok: 0, graphqlErrors: 0, badData: 0 };
  const sample = (what: string) => samples.size < MAX_ERROR_SAMPLES && samples.add(what.slice(0, 300));
  const verify = (text: string): boolean => {
    let body: GraphQLBody;
    try {
      body = JSON.parse(text) as GraphQLBody;
    } catch {
      counts.graphqlErrors++; // not JSON at all: an error page, a proxy's answer
      sample(`not JSON: ${text}`);
      return false;
    }
    if (body.errors?.length || !body.data) {
      counts.graphqlErrors++;
      sample(JSON.stringify(body.errors ?? body));
      return false;
    }
    const results = c.field === 'publishEvent' ? [body.data.publishEvent] : body.data.publishEvents;
    const sequences = Array.isArray(results) ? results.map((r) => Number((r as { event?: { sequence?: string } } | null)?.event?.sequence)) : [];
    const ok = sequences.length === c.batchSize && sequences.every((s, i) => Number.isSafeInteger(s) && s > 0 && s === sequences[0]! + i);
    if (!ok) {
      counts.badData++;
      sample(`bad data: ${text}`);
      return false;
    }
    ack.firsts.push(sequences[0]!);
    ack.lasts.push(sequences.at(-1)!);
    ack.events += sequences.length;
    counts.ok++;
    return true;
  };
  return { verify, counts };
}

/**
 * Publishing at a fixed concurrency over keep-alive connections: a warm-up, then the measured run. Every
 * response of both is checked, and what the hub acknowledged is added to `ack`.
 */
export async function measurePublish(c: PublishCase, ack: Acknowledged): Promise<PublishMeasurement> {
  const samples = new Set<string>();
  const preflight = await postGraphQL(c.endpoint, c.query, c.variables);
  const check = publishVerifier(c, ack, samples);
  if (preflight.status !== 200 || !check.verify(preflight.text)) {
    throw new Error(`preflight ${c.endpoint} answered HTTP ${preflight.status}: ${preflight.text.slice(0, 500)}`);
  }
  const base = { url: c.endpoint, connections: c.connections, ...graphqlRequest(c.query, c.variables) };

  let warmup = { okRequests: 0, problems: 0 };
  if (c.warmupSeconds > 0) {
    const w = publishVerifier(c, ack, samples);
    const r = await autocannon({ ...base, duration: c.warmupSeconds, verifyBody: w.verify });
    warmup = { okRequests: w.counts.ok, problems: r.non2xx + r.errors + w.counts.graphqlErrors + w.counts.badData };
    // autocannon drops its connections when time is up, but the hub still finishes (and commits) what was in
    // flight: let that settle, so the measured run does not start with the warm-up's requests on top of its own.
    await pause(Math.min(10_000, Math.max(500, 2 * r.latency.p99)));
  }

  const { verify, counts } = publishVerifier(c, ack, samples);
  await c.measured?.start();
  const r = await autocannon({ ...base, duration: c.seconds, verifyBody: verify });
  await c.measured?.end();
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
  return {
    connections: c.connections,
    batchSize: c.batchSize,
    durationSeconds: r.duration,
    okRequests: counts.ok,
    eventsPerMinute: Math.round(((counts.ok * c.batchSize) / r.duration) * 60),
    requestsPerSecond: r.requests.mean,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyMeanMs: r.latency.mean,
    latencyMaxMs: r.latency.max,
    totalRequests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + counts.graphqlErrors + counts.badData,
    transportErrors: r.errors - r.timeouts,
    timeouts: r.timeouts,
    graphqlErrors: counts.graphqlErrors,
    badData: counts.badData,
    statusCodes,
    errorSamples: [...samples],
    warmup,
  };
}

/** Why a publish measurement cannot be trusted, if it cannot. */
export function publishProblems(m: PublishMeasurement): string[] {
  const problems: string[] = [];
  if (m.okRequests === 0) problems.push('no publish was acknowledged');
  const other = Object.keys(m.statusCodes).filter((c) => c !== '200');
  if (m.non2xx || other.length) problems.push(`non-200 responses: ${JSON.stringify(m.statusCodes)}`);
  if (m.transportErrors) problems.push(`${m.transportErrors} connection errors`);
  if (m.timeouts) problems.push(`${m.timeouts} timeouts`);
  if (m.graphqlErrors) problems.push(`${m.graphqlErrors} responses with GraphQL errors`);
  if (m.badData) problems.push(`${m.badData} responses without one (consecutive) sequence per event`);
  if (m.warmup.problems) problems.push(`${m.warmup.problems} failed requests during the warm-up`);
  if (problems.length && m.errorSamples.length) problems.push(`first errors: ${m.errorSamples.join(' | ')}`);
  return problems;
}
