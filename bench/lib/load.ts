import autocannon from 'autocannon';
import { graphqlRequest, postGraphQL, type GraphQLBody } from './graphql.ts';

export interface LoadSettings {
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface Measurement {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  totalRequests: number;
  durationSeconds: number;
  /** Responses outside 2xx. */
  non2xx: number;
  /** Connection errors and timeouts (autocannon's `errors`) plus 200 responses that carried GraphQL `errors`. */
  errors: number;
  transportErrors: number;
  timeouts: number;
  graphqlErrors: number;
  /** 200 responses without `errors` whose data differed from the preflight answer. */
  wrongData: number;
  statusCodes: Record<string, number>;
}

/**
 * Checks every response body. The data is static while measuring, so a body equal to the preflight answer is
 * right; anything else is parsed and classified (GraphQL errors, or data that changed), never waved through.
 */
function bodyVerifier(expectedText: string, expectedData: string) {
  const counts = { graphqlErrors: 0, wrongData: 0 };
  const verify = (text: string): boolean => {
    if (text === expectedText) return true;
    let body: GraphQLBody;
    try {
      body = JSON.parse(text) as GraphQLBody;
    } catch {
      counts.graphqlErrors++;
      return false;
    }
    if (body.errors?.length) {
      counts.graphqlErrors++;
      return false;
    }
    if (JSON.stringify(body.data) !== expectedData) {
      counts.wrongData++;
      return false;
    }
    return true; // same data, different framing (e.g. extensions): still a correct answer
  };
  return { verify, counts };
}

/**
 * One case: a warm-up (fills the gateway's query-plan cache and the connection pools, then is thrown away)
 * followed by the measured run, both at the same concurrency over keep-alive connections.
 */
export async function measure(endpoint: string, query: string, settings: LoadSettings, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<Measurement> {
  const reference = await postGraphQL(endpoint, query, variables, headers);
  if (reference.status !== 200 || reference.body.errors?.length) {
    throw new Error(`preflight ${endpoint} answered HTTP ${reference.status}: ${reference.text.slice(0, 500)}`);
  }
  const request = graphqlRequest(query, variables, headers);
  const base = { url: endpoint, connections: settings.connections, ...request };

  if (settings.warmupSeconds > 0) await autocannon({ ...base, duration: settings.warmupSeconds });

  const { verify, counts } = bodyVerifier(reference.text, JSON.stringify(reference.body.data));
  const r = await autocannon({ ...base, duration: settings.seconds, verifyBody: verify });
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
  return {
    requestsPerSecond: r.requests.mean,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyMeanMs: r.latency.mean,
    totalRequests: r.requests.total,
    durationSeconds: r.duration,
    non2xx: r.non2xx,
    errors: r.errors + counts.graphqlErrors,
    transportErrors: r.errors - r.timeouts,
    timeouts: r.timeouts,
    graphqlErrors: counts.graphqlErrors,
    wrongData: counts.wrongData,
    statusCodes,
  };
}

/** Why a measurement cannot be trusted, if it cannot: anything but 200s with the right data. */
export function problemsOf(m: Measurement): string[] {
  const problems: string[] = [];
  if (m.totalRequests === 0) problems.push('no request completed');
  const other = Object.keys(m.statusCodes).filter((c) => c !== '200');
  if (m.non2xx || other.length) problems.push(`non-200 responses: ${JSON.stringify(m.statusCodes)}`);
  if (m.transportErrors) problems.push(`${m.transportErrors} connection errors`);
  if (m.timeouts) problems.push(`${m.timeouts} timeouts`);
  if (m.graphqlErrors) problems.push(`${m.graphqlErrors} responses with GraphQL errors`);
  if (m.wrongData) problems.push(`${m.wrongData} responses with different data than the preflight`);
  return problems;
}
