import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Measurement } from './load.ts';

/** `hub` runs WORKERS processes (one per core, as deployed); `hub-1-process` is the same hub in one process. */
export type TargetName = 'subgraph' | 'hub' | 'hub-1-process' | 'baseline';
export type QueryName = 'single' | 'join';

export interface CaseResult {
  target: TargetName;
  query: QueryName;
  /** null when the case does not exist (the join has no single-subgraph target). */
  measurement: Measurement | null;
  note?: string;
}

export interface Goal {
  description: string;
  pass: boolean;
  perQuery: Partial<Record<QueryName, { pass: boolean; detail: string }>>;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function find(results: CaseResult[], target: TargetName, query: QueryName): Measurement | undefined {
  return results.find((r) => r.target === target && r.query === query)?.measurement ?? undefined;
}

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? round(a / b, 3) : null);

/** Ratios between targets of this one run: only numbers measured side by side on the same machine are compared. */
export function computeRatios(results: CaseResult[]) {
  const perQuery = (q: QueryName) => ({
    hubOverBaselineThroughput: ratio(find(results, 'hub', q)?.requestsPerSecond, find(results, 'baseline', q)?.requestsPerSecond),
    hubP99OverBaselineP99: ratio(find(results, 'hub', q)?.latencyP99Ms, find(results, 'baseline', q)?.latencyP99Ms),
    hubOneProcessOverBaselineThroughput: ratio(find(results, 'hub-1-process', q)?.requestsPerSecond, find(results, 'baseline', q)?.requestsPerSecond),
    hubOneProcessP99OverBaselineP99: ratio(find(results, 'hub-1-process', q)?.latencyP99Ms, find(results, 'baseline', q)?.latencyP99Ms),
  });
  return {
    single: {
      ...perQuery('single'),
      hubOverSubgraphThroughput: ratio(find(results, 'hub', 'single')?.requestsPerSecond, find(results, 'subgraph', 'single')?.requestsPerSecond),
    },
    join: perQuery('join'),
  };
}

function goal(description: string, results: CaseResult[], check: (hub: Measurement, baseline: Measurement | undefined) => { pass: boolean; detail: string }): Goal {
  const perQuery: Goal['perQuery'] = {};
  for (const q of ['single', 'join'] as const) {
    const hub = find(results, 'hub', q);
    perQuery[q] = hub ? check(hub, find(results, 'baseline', q)) : { pass: false, detail: 'hub not measured' };
  }
  return { description, pass: Object.values(perQuery).every((g) => g.pass), perQuery };
}

/** The targets the hub is held to, each judged for both queries. */
export function evaluateGoals(results: CaseResult[]) {
  return {
    hubAtLeast2xBaselineThroughputAtNoWorseP99: goal('hub requests/s >= 2 x baseline, with hub p99 <= baseline p99', results, (hub, base) => {
      if (!base) return { pass: false, detail: 'baseline not measured' };
      const x = hub.requestsPerSecond / base.requestsPerSecond;
      const pass = x >= 2 && hub.latencyP99Ms <= base.latencyP99Ms;
      return { pass, detail: `${round(x)}x throughput; p99 ${hub.latencyP99Ms} ms vs baseline ${base.latencyP99Ms} ms` };
    }),
    hubP99Under200ms: goal('hub p99 < 200 ms', results, (hub) => ({ pass: hub.latencyP99Ms < 200, detail: `p99 ${hub.latencyP99Ms} ms` })),
    hubOver10kRequestsPerMinute: goal('hub > 10,000 requests/minute', results, (hub) => ({
      pass: hub.requestsPerSecond * 60 > 10_000,
      detail: `${Math.round(hub.requestsPerSecond * 60).toLocaleString('en-GB')} requests/minute`,
    })),
  };
}

/** One line per (target, query): the numbers the JSON carries. */
export function printTable(results: CaseResult[]): void {
  const header = ['target', 'query', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non2xx', 'errors'];
  const rows = results.map((r) => {
    const m = r.measurement;
    if (!m) return [r.target, r.query, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
    return [r.target, r.query, round(m.requestsPerSecond, 1).toFixed(1), String(m.latencyP50Ms), String(m.latencyP99Ms), String(m.totalRequests), String(m.non2xx), String(m.errors)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

export function printRatiosAndGoals(ratios: ReturnType<typeof computeRatios>, goals: ReturnType<typeof evaluateGoals>): void {
  const x = (v: number | null) => (v === null ? 'n/a' : `${v}x`);
  console.log(`\nhub / baseline throughput: single ${x(ratios.single.hubOverBaselineThroughput)}, join ${x(ratios.join.hubOverBaselineThroughput)}`);
  console.log(`hub in one process / baseline throughput: single ${x(ratios.single.hubOneProcessOverBaselineThroughput)}, join ${x(ratios.join.hubOneProcessOverBaselineThroughput)}`);
  console.log(`hub / subgraph-direct throughput (single): ${x(ratios.single.hubOverSubgraphThroughput)}`);
  console.log(`hub p99 / baseline p99: single ${x(ratios.single.hubP99OverBaselineP99)}, join ${x(ratios.join.hubP99OverBaselineP99)}`);
  console.log('\ngoals:');
  for (const g of Object.values(goals)) {
    const detail = Object.entries(g.perQuery)
      .map(([q, r]) => `${q}: ${r!.pass ? 'pass' : 'FAIL'} (${r!.detail})`)
      .join('; ');
    console.log(`  [${g.pass ? 'PASS' : 'FAIL'}] ${g.description} — ${detail}`);
  }
}

export function writeJson(file: string, report: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
