import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restRoutes } from '../../gateway/src/rest.ts';
import { apiKeys, startTestHub, testClient, type TestHub } from '../support/hub.ts';

/**
 * Bad input, generated: every root field of the graph (as the running gateway introspects it) and every REST route,
 * called with non-UUID ids, strings holding NUL characters or unpaired surrogates, numbers at and past their range,
 * lists past their bound, JSON nested too deep and paths with broken percent-encoding. Whatever comes back must be
 * the caller's error (or an answer), never INTERNAL nor an HTTP 500, and the hub must still answer /healthz.
 * A fixed seed and a bounded number of runs per field, so CI sees the same calls every time.
 */
const SEED = 20261204;
const RUNS_PER_FIELD = 5;
const RUNS_PER_ROUTE = 16;

const client = testClient('hostile', 'org-hostile');
let hub: TestHub;
let schema: GraphQLSchema;

beforeAll(async () => {
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(client) });
  const res = await hub.raw(JSON.stringify({ query: getIntrospectionQuery() }), client.headers);
  const body = (await res.json()) as { data?: IntrospectionQuery };
  // The running gateway's schema; the reviewed one if introspection is turned off where this runs.
  schema = body.data ? buildClientSchema(body.data) : buildSchema(readFileSync(new URL('../../schema/api.graphql', import.meta.url), 'utf8'));
});
afterAll(async () => {
  await hub?.close();
});

const BAD_STRINGS = [
  'x',
  '',
  ' ',
  'does-not-exist',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '%',
  '%E0%A4%A',
  '-1',
  '99999999999999999999999',
  '1e309',
  'NaN',
  '00000000-0000-0000-0000-00000000000g',
  '00000000-0000-4000-8000-000000000000\u0000',
  "' or 1=1 --",
  '../../etc/passwd',
  '*'.repeat(5000),
];
const badString = fc.oneof(fc.constantFrom(...BAD_STRINGS), fc.string({ maxLength: 12, unit: 'binary' }));
const goodId = fc.uuid();
const badInt = fc.oneof(fc.constantFrom(-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1e20, 1.5), fc.integer());
const badFloat = fc.constantFrom(0, -1, 1e308, -1e308, 5e-324, 1.5, 2 ** 53 + 1);
const badDate = fc.constantFrom('2026-01-01T00:00:00Z', 'x', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '2026-13-45T25:61:61Z');
const deep = (n: number): unknown => (n === 0 ? 'bottom' : { d: deep(n - 1) });
const badJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>({ a: '\u0000' }, { '\u0000': 1 }, '\uD800', ['x\uDFFF'], deep(150), { path: '%', id: 'x' }, Array.from({ length: 1001 }, () => 1)),
);

/** The sharpest bad values of each scalar: each is tried alone in every argument of that type, then random mixes follow. */
const SHARP: Record<string, unknown[]> = {
  ID: ['does-not-exist', '00000000-0000-4000-8000-000000000000\u0000'],
  String: ['99999999999999999999', '-1', 'a\u0000b', 'x\uDFFFy'],
  Int: [-1, 2 ** 31 - 1],
  JSON: [{ a: 'nul \u0000' }, deep(150)],
  DateTime: ['0001-01-01T00:00:00Z'],
};

/** One call per argument and sharp value: the others as one generated call has them. */
function examplesFor(field: GraphQLField<unknown, unknown>, calls: fc.Arbitrary<Record<string, unknown>>): Array<[Record<string, unknown>]> {
  const [base] = fc.sample(calls, { seed: SEED, numRuns: 1 });
  const out: Array<[Record<string, unknown>]> = [];
  for (const a of field.args) {
    const list = isListType(isNonNullType(a.type) ? a.type.ofType : a.type);
    for (const v of SHARP[getNamedType(a.type).name] ?? []) out.push([{ ...base, [a.name]: list ? [v] : v }]);
  }
  return out;
}

/** A value of `type`, good or bad, so that a call gets past one argument to the next. */
function valueOf(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return inner(type.ofType, depth);
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: inner(type, depth) });
}

function inner(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
  if (isListType(type)) {
    return fc.oneof(
      { weight: 4, arbitrary: fc.array(valueOf(type.ofType, depth + 1), { maxLength: 3 }) },
      { weight: 1, arbitrary: simple(type.ofType).map((v) => Array.from({ length: 1001 }, () => v)) },
    );
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    const parts: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) parts[f.name] = isNonNullType(f.type) ? valueOf(f.type, depth + 1) : fc.option(valueOf(f.type, depth + 1), { nil: undefined });
    return fc.record(parts).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
  }
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => v.value as string));
  switch ((type as { name: string }).name) {
    case 'ID':
      return fc.oneof(goodId, badString);
    case 'Int':
      return badInt;
    case 'Float':
      return badFloat;
    case 'Boolean':
      return fc.boolean();
    case 'DateTime':
      return badDate;
    case 'JSON':
      return badJson;
    default:
      return badString;
  }
}

/** A plain value of a list's item type, for a list past its bound. */
function simple(type: GraphQLInputType): fc.Arbitrary<unknown> {
  const t = isNonNullType(type) ? type.ofType : type;
  if (isInputObjectType(t)) return fc.constant({});
  if (isEnumType(t)) return fc.constant(t.getValues()[0]!.value);
  const name = (t as { name: string }).name;
  return fc.constant(name === 'Int' ? 1 : name === 'Boolean' ? true : name === 'ID' ? '00000000-0000-4000-8000-000000000000' : '1');
}

/** Scalar fields one level down: enough to make the field resolve what it returns. */
function selection(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const parts = ['__typename'];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const t = getNamedType(f.type);
    if (isScalarType(t) || isEnumType(t)) parts.push(f.name);
    else if (depth < 1) parts.push(`${f.name} { ${selection(f.type, depth + 1)} }`);
  }
  return parts.join(' ');
}

function operation(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const defs = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const sel = selection(field.type);
  return `${kind}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${sel ? ` { ${sel} }` : ''} }`;
}

type Answer = { status: number; body: any };

async function graphql(query: string, variables: Record<string, unknown>): Promise<Answer> {
  const res = await hub.raw(JSON.stringify({ query, variables }), { ...client.headers, accept: 'application/graphql-response+json' });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text for the report
  }
  return { status: res.status, body };
}

/** What is wrong with an answer to bad input, or undefined when it is a proper refusal (or an answer). */
function defect(a: Answer): string | undefined {
  if (a.status >= 500 && a.status !== 502 && a.status !== 503) return `HTTP ${a.status}: ${JSON.stringify(a.body).slice(0, 300)}`;
  const errors: Array<{ message?: string; extensions?: { code?: string } }> = a.body?.errors ?? (a.body?.error ? [a.body.error] : []);
  const internal = errors.find((e) => e.extensions?.code === 'INTERNAL' || (e as { code?: string }).code === 'INTERNAL' || e.message === 'Internal error');
  return internal ? `INTERNAL: ${JSON.stringify(a.body).slice(0, 300)}` : undefined;
}

const healthy = async () => (await fetch(`${hub.url}/healthz`)).status === 200;

describe('hostile input', () => {
  it('every root field answers generated bad arguments with the caller\'s error, never INTERNAL', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const [kind, type] of [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]] as const) {
      for (const field of Object.values(type.getFields())) {
        if (field.name.startsWith('_')) continue;
        const query = operation(kind, field);
        const generated = fc.record(Object.fromEntries(field.args.map((a) => [a.name, valueOf(a.type)])));
        const examples = examplesFor(field, generated);
        const result = await fc.check(
          fc.asyncProperty(generated, async (variables) => {
            calls++;
            const problem = defect(await graphql(query, variables));
            if (problem) throw new Error(problem);
          }),
          { seed: SEED, numRuns: examples.length + (field.args.length ? RUNS_PER_FIELD : 1), examples, endOnFailure: true },
        );
        if (result.failed) failures.push(`${kind} ${field.name} with ${JSON.stringify(result.counterexample?.[0]).slice(0, 300)}: ${String((result.errorInstance as Error | undefined)?.message ?? '')}`);
      }
    }
    expect(calls).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    expect(await healthy()).toBe(true);
  });

  const segment = fc.oneof(
    fc.constantFrom('x', 'does-not-exist', '%', '%E0%A4%A', '%FF', '%00', '%ED%A0%80', '%2F', '00000000-0000-4000-8000-000000000000', '0'.repeat(300)),
    fc.uuid(),
    fc.string({ minLength: 1, maxLength: 8 }).map((s) => encodeURIComponent(s)),
  );
  const queryValue = fc.oneof(fc.constantFrom('%', '%00', '-1', '1e99', '99999999999999999999', 'x', '', '2026-13-45', 'GENERIC_REST', '%ED%A0%80'), fc.uuid());
  const QUERY_NAMES = ['first', 'after', 'runId', 'types', 'source', 'from', 'to', 'type', 'status', 'nameContains', 'externalSystemId', 'code', 'state', 'error', 'correlationId'];
  const body = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('not json', '[]', '{}', 'null', '"x"', '{"a":"\\u0000"}', '{"id":"\\ud800"}', JSON.stringify(deep(150))),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.record({ name: badString, externalSystemId: badString, systemId: badString, type: badString, source: badString, payload: badJson, requests: badInt, perSeconds: badInt }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  );

  it('every REST route answers bad paths, parameters and bodies with a 4xx, never a 500', async () => {
    const routes = restRoutes();
    expect(routes.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const route of routes) {
      const holes = (route.pattern.source.match(/\(\[\^\/\]\+\)/g) ?? []).length;
      const result = await fc.check(
        fc.asyncProperty(
          fc.array(segment, { minLength: holes, maxLength: holes }),
          fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), queryValue), { maxLength: 3 }),
          route.method === 'POST' ? body : fc.constant(undefined),
          async (segments, params, payload) => {
            let i = 0;
            const path = route.pattern.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\\\//g, '/').replace(/\(\[\^\/\]\+\)/g, () => segments[i++]!);
            // Query values go as written: a bad escape in them is part of the test.
            const search = params.map(([k, v]) => `${k}=${v}`).join('&');
            const res = await fetch(`${hub.url}${path}${search ? `?${search}` : ''}`, {
              method: route.method,
              headers: { ...client.headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
              body: payload,
            });
            const text = await res.text();
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // as text
            }
            const problem = defect({ status: res.status, body: parsed });
            if (problem) throw new Error(`${route.method} ${path}?${search}: ${problem}`);
          },
        ),
        { seed: SEED, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      );
      if (result.failed) failures.push(String((result.errorInstance as Error | undefined)?.message ?? result.counterexample));
    }
    expect(failures).toEqual([]);
    expect(await healthy()).toBe(true);
  });

  it('names the argument: a non-UUID id, a NUL in a string, a list past its bound, a broken path escape', async () => {
    const id = await graphql('query($id: ID!) { externalSystem(id: $id) { id } }', { id: 'x' });
    expect(id.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    const nul = await graphql('mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id } } }', { i: { type: 'a.b', source: 'app\u0000', payload: {} } });
    expect(nul.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source' });
    const systemId = await graphql('mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id } } }', { i: { type: 'a.b', source: 'app', payload: {}, systemId: 'not-a-uuid' } });
    expect(systemId.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.systemId' });
    const long = await graphql('query($t: [String!]) { eventHistory(filter: { types: $t }) { endCursor } }', { t: Array.from({ length: 1001 }, () => 'a.b') });
    expect(long.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.types' });
    const res = await fetch(`${hub.url}/api/integration/systems/%E0%A4%A/status`, { headers: client.headers });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT' } });
    const missing = await fetch(`${hub.url}/api/integration/systems/does-not-exist/status`, { headers: client.headers });
    expect(missing.status).toBe(400);
    // Nothing was published by any of it.
    const history = await graphql('{ eventHistory(filter: { types: ["a.b"] }) { events { id } } }', {});
    expect(history.body.data.eventHistory.events).toEqual([]);
  });
});
