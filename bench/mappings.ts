/**
 * The mappings and API bench: data transformation and API routing through the gateway, against the subgraph that
 * does the work queried directly, in one run.
 *
 *   transform-csv   transformData of a 1,000-row residents CSV (NHS numbers checked, UK dates, a target JSON Schema)
 *   hl7-to-fhir     convertFormat of the HL7 v2 ADT^A01 sample to a FHIR Patient (the standard mapping)
 *   route           routeRequest to a registered API (the generic REST simulator, in this process) under a rate limit
 *
 * Each against `hub` (ROLE=all) and `subgraph` (ROLE=mappings or ROLE=metrics, queried directly); latency with one
 * connection, throughput with BENCH_CONNECTIONS (50). Goals from the seed: a transformation under 500 ms (p99 of
 * the 1,000-row CSV through the gateway) and API requests at 10,000+ per minute. The CSV's throughput case runs
 * with BENCH_BULK_CONNECTIONS (4) uploads at once. Writes bench/results/mappings.json.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startGenericRestSimulator, syntheticNhsNumbers } from '@hub/simulators';
import { registerCleanup } from './lib/cleanup.ts';
import { openBenchDatabase } from './lib/database.ts';
import { childEnv, envNumber, pause } from './lib/env.ts';
import { mustQuery } from './lib/graphql.ts';
import { measure, problemsOf, type LoadSettings, type Measurement } from './lib/load.ts';
import { machineInfo, reportBackgroundCpu } from './lib/machine.ts';
import { freePort, readyzProbe, startServer, stopAll, waitReady, type ServerProcess } from './lib/processes.ts';
import { writeJson } from './lib/report.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results/mappings.json', import.meta.url));
const ROWS = envNumber('BENCH_CSV_ROWS', 1_000);
const TRANSFORM_P99_GOAL_MS = 500; // the seed: data transformation under 500 ms
const ROUTE_PER_MINUTE_GOAL = 10_000; // the seed: API requests, 10,000+ per minute

const seconds = envNumber('BENCH_SECONDS', 10);
const warmupSeconds = envNumber('BENCH_WARMUP_SECONDS', 2);
const latency: LoadSettings = { connections: 1, warmupSeconds, seconds };
const throughput: LoadSettings = { connections: envNumber('BENCH_CONNECTIONS', 50), warmupSeconds, seconds };
// A 1,000-row transformation is ~20 ms of CPU: 50 of them at once only measure a queue (and autocannon's 10 s
// timeout). Bulk imports come a few at a time; this is that many.
const bulk: LoadSettings = { connections: envNumber('BENCH_BULK_CONNECTIONS', 4), warmupSeconds, seconds };

const TRANSFORM = 'mutation($data: JSON!, $id: ID!) { transformData(data: $data, mappingId: $id) { valid records data } }';
const TO_FHIR = 'mutation($data: JSON!) { convertFormat(data: $data, from: HL7V2, to: FHIR) { data } }';
const ROUTE = 'mutation($id: ID!) { routeRequest(apiId: $id, request: { method: "GET", path: "/health" }) { status body } }';

export const RESIDENTS_MAPPING = {
  name: 'bench residents csv',
  sourceFormat: 'CSV',
  targetFormat: 'JSON',
  rules: {
    fields: {
      nhsNumber: { path: '%record.`NHS Number`', one: true, transform: ['nhsNumber'], required: true },
      name: { path: 'Surname', one: true, fields: { family: { path: '$this', one: true, transform: ['trim', 'upper'] }, given: { path: '%record.Forename', transform: ['trim'] } } },
      birthDate: { path: 'DOB', one: true, transform: ['date'], required: true },
      room: { path: 'Room', one: true, transform: ['integer'] },
      postcode: { path: 'Postcode', one: true, transform: ['postcode'] },
    },
  },
  targetSchema: { type: 'object', required: ['nhsNumber', 'birthDate'], properties: { nhsNumber: { type: 'string', format: 'nhs-number' }, room: { type: 'integer', minimum: 1 } } },
};

export function residentsCsv(rows: number): string {
  const numbers = syntheticNhsNumbers(rows);
  const lines = ['NHS Number,Surname,Forename,DOB,Room,Postcode'];
  for (let i = 0; i < rows; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    lines.push(`${numbers[i]}, Resident${i} ,Ada,${day}/0${(i % 9) + 1}/19${30 + (i % 60)},${(i % 400) + 1},sw1a ${(i % 9) + 1}aa`);
  }
  return lines.join('\r\n');
}

interface Case {
  name: 'transform-csv' | 'hl7-to-fhir' | 'route';
  target: 'hub' | 'subgraph';
  connections: number;
  measurement: Measurement;
  problems: string[];
}

export async function runMappingsBench(): Promise<number> {
  console.log(`care-home integration hub: mappings and API bench (${warmupSeconds} s warm-up + ${seconds} s per case)`);
  const busy = await reportBackgroundCpu();
  const database = await openBenchDatabase();
  const dropDatabase = registerCleanup('drop the bench database', () => database.drop());
  const upstream = await startGenericRestSimulator({ auth: { kind: 'NONE' } });
  const closeUpstream = registerCleanup('stop the REST simulator', () => upstream.close());
  try {
    console.log(`database: ${database.description}`);
    console.log(`redis: ${process.env.REDIS_URL ? 'REDIS_URL (passed through)' : 'none (in-memory)'}`);
    const base = { ...childEnv(database.url), ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) };
    const start = async (name: string, role: string): Promise<ServerProcess> => {
      const s = startServer(name, 'gateway/src/main.ts', await freePort(), { ...base, ROLE: role });
      await waitReady(s, readyzProbe);
      console.log(`  ${name.padEnd(10)} ${s.url}/graphql (ROLE=${role}, pid ${s.child.pid})`);
      return s;
    };
    console.log('\nstarting servers:');
    const hub = await start('hub', 'all');
    const mappings = await start('mappings', 'mappings');
    const metrics = await start('metrics', 'metrics');

    const { createMapping } = await mustQuery<{ createMapping: { id: string } }>(`${hub.url}/graphql`, 'mutation($input: CreateMappingInput!) { createMapping(input: $input) { id } }', { input: RESIDENTS_MAPPING });
    const { registerAPI } = await mustQuery<{ registerAPI: { id: string } }>(`${hub.url}/graphql`, 'mutation($input: RegisterApiInput!) { registerAPI(input: $input) { id } }', {
      input: { name: 'bench upstream', version: 'v1', basePath: '/bench/v1', upstreamUrl: upstream.url, rateLimit: { requests: 1_000_000, perSeconds: 60 } },
    });
    const csv = residentsCsv(ROWS);
    const hl7 = readFileSync(new URL('../test/fixtures/hl7v2/ADT-A01-01.hl7', import.meta.url), 'utf8');
    const check = await mustQuery<{ transformData: { valid: boolean; records: number } }>(`${hub.url}/graphql`, TRANSFORM, { data: csv, id: createMapping.id });
    if (!check.transformData.valid || check.transformData.records !== ROWS) throw new Error(`the bench CSV did not map cleanly: ${JSON.stringify(check.transformData).slice(0, 300)}`);

    const cases: Case[] = [];
    const run = async (name: Case['name'], target: Case['target'], server: ServerProcess, s: LoadSettings, query: string, variables: Record<string, unknown>) => {
      process.stdout.write(`  ${name.padEnd(14)} ${target.padEnd(9)} ${String(s.connections).padStart(2)} conn ... `);
      // A bench client of its own, so the route cases meet the API's limit like any app (a huge one here).
      const measurement = await measure(`${server.url}/graphql`, query, s, variables, { 'x-hub-client': `bench-${target}` });
      const problems = problemsOf(measurement);
      console.log(`${measurement.requestsPerSecond.toFixed(0)} req/s, p50 ${measurement.latencyP50Ms} ms, p99 ${measurement.latencyP99Ms} ms${problems.length ? ` INVALID: ${problems.join('; ')}` : ''}`);
      cases.push({ name, target, connections: s.connections, measurement, problems });
      await pause(1_000);
    };
    console.log(`\nmeasuring (CSV of ${ROWS} rows, ${(csv.length / 1024).toFixed(0)} KiB):`);
    for (const [i, s] of [latency, throughput].entries()) {
      const csvLoad = i === 0 ? s : bulk;
      await run('transform-csv', 'subgraph', mappings, csvLoad, TRANSFORM, { data: csv, id: createMapping.id });
      await run('transform-csv', 'hub', hub, csvLoad, TRANSFORM, { data: csv, id: createMapping.id });
      await run('hl7-to-fhir', 'subgraph', mappings, s, TO_FHIR, { data: hl7 });
      await run('hl7-to-fhir', 'hub', hub, s, TO_FHIR, { data: hl7 });
      await run('route', 'subgraph', metrics, s, ROUTE, { id: registerAPI.id });
      await run('route', 'hub', hub, s, ROUTE, { id: registerAPI.id });
    }

    const pick = (n: Case['name'], t: Case['target'], c: number) => cases.find((x) => x.name === n && x.target === t && x.connections === c)!.measurement;
    const ratios = Object.fromEntries(
      (['transform-csv', 'hl7-to-fhir', 'route'] as const).flatMap((n) => [
        [`${n}: hub/subgraph throughput`, pick(n, 'hub', n === 'transform-csv' ? bulk.connections : throughput.connections).requestsPerSecond / pick(n, 'subgraph', n === 'transform-csv' ? bulk.connections : throughput.connections).requestsPerSecond],
        [`${n}: hub/subgraph mean latency, 1 conn`, pick(n, 'hub', 1).latencyMeanMs / pick(n, 'subgraph', 1).latencyMeanMs],
      ]),
    );
    const routePerMinute = pick('route', 'hub', throughput.connections).requestsPerSecond * 60;
    const goals = {
      transformCsvP99Under500ms: { goalMs: TRANSFORM_P99_GOAL_MS, p99Ms: pick('transform-csv', 'hub', 1).latencyP99Ms, met: pick('transform-csv', 'hub', 1).latencyP99Ms < TRANSFORM_P99_GOAL_MS },
      routedRequestsPerMinute: { goal: ROUTE_PER_MINUTE_GOAL, perMinute: Math.round(routePerMinute), met: routePerMinute >= ROUTE_PER_MINUTE_GOAL },
    };
    console.log('\nratios (this run):');
    for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(44)} ${v.toFixed(2)}x`);
    console.log('goals:');
    console.log(`  transformData, ${ROWS} CSV rows, p99 through the gateway: ${goals.transformCsvP99Under500ms.p99Ms} ms (goal < 500 ms): ${goals.transformCsvP99Under500ms.met ? 'met' : 'NOT met'}`);
    console.log(`  routeRequest through the gateway: ${goals.routedRequestsPerMinute.perMinute}/min (goal 10,000+): ${goals.routedRequestsPerMinute.met ? 'met' : 'NOT met'}`);

    const invalid = cases.some((c) => c.problems.length);
    writeJson(RESULTS_FILE, {
      bench: 'mappings',
      at: new Date().toISOString(),
      machine: { ...machineInfo(), backgroundCpuBusy: busy },
      database: database.description,
      redis: process.env.REDIS_URL ? 'redis' : 'memory',
      csvRows: ROWS,
      csvBytes: csv.length,
      cases,
      ratios,
      goals,
      valid: !invalid,
      notes: [
        'The REST simulator behind routeRequest runs in the bench process, sharing the CPU with the load generator.',
        'route: every call takes from a rate limit (1,000,000 per minute per client) and is counted in the per-minute API statistics.',
        `${os.cpus().length} cores shared by every process: compare ratios, not absolute numbers.`,
      ],
    });
    console.log(`\nwritten: ${RESULTS_FILE}`);
    return invalid ? 1 : 0;
  } finally {
    await stopAll();
    await closeUpstream();
    await dropDatabase();
  }
}
