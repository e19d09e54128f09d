// autocannon ships no type declarations and @types/autocannon is not installed: this declares the small part
// of its programmatic API that the bench uses (autocannon 8, lib/init.js and lib/aggregateResult.js).
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      method?: 'GET' | 'POST';
      headers?: Record<string, string>;
      body?: string;
      /** Seconds before a request counts as a timeout (and an error). */
      timeout?: number;
      /** Called with every response body; returning false counts the response as a mismatch. */
      verifyBody?: (body: string) => boolean;
    }

    /** A histogram summary; latency values are milliseconds, request values are requests per second. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      p50: number;
      p90: number;
      p99: number;
      [percentile: string]: number;
    }

    interface Result {
      url: string;
      connections: number;
      /** Seconds the run actually took. */
      duration: number;
      latency: Histogram & { totalCount: number };
      requests: Histogram & { total: number; sent: number };
      throughput: Histogram;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      resets: number;
      statusCodeStats: Record<string, { count: number }>;
    }
  }

  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export = autocannon;
}
