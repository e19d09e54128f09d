/**
 * CPU-heavy and caller-programmable work runs in the worker pool, not on the event loop: a caller's JSON Schema
 * pattern or FHIRPath expression that backtracks for ever is stopped at WORKER_TASK_TIMEOUT_MS with a clear error,
 * and while it runs the hub goes on answering (shown by order: the task is seen running, /healthz answers, and only
 * then does the task's own answer come back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateMappingDocument, HistoryDocument, PublishEventDocument, RegisterEventSchemaDocument, TransformDataDocument, ValidateDataDocument } from '../generated/graphql.ts';
import { eventually, startTestHub, type GraphQLResult, type TestHub } from '../support/hub.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ WORKER_TASK_TIMEOUT_MS: '4000', WORKER_THREADS: '1' });
});
afterAll(async () => {
  await hub?.close();
});

// Exponential in the a's for a backtracking engine: far past any timeout.
const EVIL_PATTERN = '^(a+)+$';
const EVIL_INPUT = `${'a'.repeat(48)}!`;

const running = async (pool = 'mappings') => {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  return Number(new RegExp(`^hub_worker_tasks_running\\{pool="${pool}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
};

/** Starts a slow request, waits until the pool is running it, then shows the hub answering before it returns. */
async function whileItRuns<T>(slow: () => Promise<GraphQLResult<T>>, pool = 'mappings'): Promise<GraphQLResult<T>> {
  let settled = false;
  const pending = slow().finally(() => (settled = true));
  await eventually(async () => (await running(pool)) >= 1, 30_000, 20);
  const health = await fetch(`${hub.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await running(pool)).toBe(1);
  expect(settled).toBe(false); // the health check was answered while the task was still running
  return pending;
}

describe('caller-programmable work in the worker pool', () => {
  it('a JSON Schema pattern that backtracks is stopped with TIMEOUT, and the hub answers meanwhile', async () => {
    const r = await whileItRuns(() => hub.gql(ValidateDataDocument, { data: { name: EVIL_INPUT }, schema: { type: 'object', properties: { name: { type: 'string', pattern: EVIL_PATTERN } } } }));
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'TIMEOUT', task: 'validate', timeoutMs: 4000 });
    expect(r.errors?.[0]?.message).toMatch(/validate took longer than 4000 ms and was stopped/);
    // The pool has a fresh worker for the next caller.
    const ok = await hub.ok(ValidateDataDocument, { data: { name: 'aaa' }, schema: { type: 'object', properties: { name: { type: 'string', pattern: EVIL_PATTERN } } } });
    expect(ok.validateData.valid).toBe(true);
  });

  it('an endless FHIRPath (matches() with a backtracking expression) in a mapping is stopped the same way', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, {
      input: { name: 'endless-fhirpath', sourceFormat: 'JSON', targetFormat: 'JSON', rules: { fields: { ok: { path: `name.matches('${EVIL_PATTERN}')`, one: true } } } },
    });
    const r = await whileItRuns(() => hub.gql(TransformDataDocument, { data: { name: EVIL_INPUT }, mappingId: m.id }));
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'TIMEOUT', task: 'transform' });
    const ok = await hub.ok(TransformDataDocument, { data: { name: 'aaaa' }, mappingId: m.id });
    expect(ok.transformData.data).toEqual({ ok: true });
  });

  it("an event payload schema's pattern is checked in the pool too: the publish is refused with TIMEOUT, nothing is kept", async () => {
    const type = `evil${Math.random().toString(36).slice(2, 7)}.recorded`;
    await hub.ok(RegisterEventSchemaDocument, { type, schema: { type: 'object', properties: { code: { type: 'string', pattern: EVIL_PATTERN } } } });
    const r = await whileItRuns(() => hub.gql(PublishEventDocument, { input: { type, source: 'tests', payload: { code: EVIL_INPUT } } }), 'events');
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'TIMEOUT', pool: 'events' });
    expect((await hub.gql(PublishEventDocument, { input: { type, source: 'tests', payload: { code: 'aaa!' } } })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await hub.gql(PublishEventDocument, { input: { type, source: 'tests', payload: { code: 'aaa' } } })).errors).toBeUndefined();
    expect((await hub.ok(HistoryDocument, { filter: { types: [type] } })).eventHistory.events).toHaveLength(1);
  });

  it('many transforms at once share the pool and all come back', async () => {
    const { createMapping: m } = await hub.ok(CreateMappingDocument, {
      input: { name: 'csv-rows', sourceFormat: 'CSV', targetFormat: 'JSON', rules: { fields: { n: { path: 'n', one: true, transform: ['integer'] } } } },
    });
    const csv = `n\n${Array.from({ length: 2000 }, (_, i) => i).join('\n')}\n`;
    const results = await Promise.all(Array.from({ length: 6 }, () => hub.ok(TransformDataDocument, { data: csv, mappingId: m.id })));
    for (const r of results) expect(r.transformData.records).toBe(2000);
  });
});
