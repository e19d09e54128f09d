import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { and, eq, sql } from 'drizzle-orm';
import { eventSchemas, type Schema } from '@hub/db';
import type { Registry } from 'prom-client';
import { badInput, createWorkerPool, type Db, type HubConfig, type WorkerPool } from '@hub/runtime';

type Compiled = Map<string, { version: number; validate: ValidateFunction; schema: Record<string, unknown>; callerRegex: boolean }>;

/** A schema with a caller's regular expression in it: checked in the worker pool (payload-worker.ts), never here. */
function hasCallerRegex(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasCallerRegex);
  if (v === null || typeof v !== 'object') return false;
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'pattern' && typeof x === 'string') || k === 'patternProperties' || (k === 'format' && x === 'regex')) return true;
    if (hasCallerRegex(x)) return true;
  }
  return false;
}
interface OrgCache {
  compiled: Compiled;
  loadedAt: number;
  loading?: Promise<void>;
}

/**
 * JSON Schemas per organisation and event type: registered through the graph, enforced on every publish of that
 * type by that organisation. Compiled schemas are cached per version; each organisation's cache is refreshed from
 * the table so all processes enforce the same one.
 */
export function createPayloadSchemas(db: Db<Schema>, work: { workerPool: HubConfig['workerPool']; metrics?: Registry } = { workerPool: { timeoutMs: 10_000, maxMemoryMb: 256 } }) {
  const ajv = new Ajv({ allErrors: true, strict: false, addUsedSchema: false });
  let pool: WorkerPool | undefined;
  const workers = () => (pool ??= createWorkerPool({ name: 'events', module: new URL('./payload-worker.ts', import.meta.url), ...work.workerPool, metrics: work.metrics }));
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  const cache = new Map<string, OrgCache>();

  // Concurrent publishes that find an organisation's cache due share one read of its rows.
  function refresh(org: string, force = false): Promise<void> {
    const c: OrgCache = cache.get(org) ?? { compiled: new Map(), loadedAt: 0 };
    cache.set(org, c);
    if (!force && Date.now() - c.loadedAt < 2_000) return Promise.resolve();
    if (!force && c.loading) return c.loading;
    const run = load(org, c).finally(() => {
      if (c.loading === run) c.loading = undefined;
    });
    c.loading = run;
    return run;
  }

  async function load(org: string, c: OrgCache) {
    const rows = await db.select().from(eventSchemas).where(eq(eventSchemas.organisationId, org));
    const next: Compiled = new Map();
    for (const r of rows) {
      const known = c.compiled.get(r.type);
      const schema = r.schema as Record<string, unknown>;
      const callerRegex = hasCallerRegex(schema);
      // Compiling runs no pattern; a schema with one is only ever run in the worker pool.
      next.set(r.type, known && known.version === r.version ? known : { version: r.version, validate: ajv.compile(schema), schema, callerRegex });
    }
    // Ajv keeps every schema it compiled: the versions no longer in use leave it.
    for (const [type, old] of c.compiled) if (next.get(type) !== old) ajv.removeSchema(old.schema);
    c.compiled = next;
    c.loadedAt = Date.now();
  }

  return {
    async register(org: string, type: string, schema: Record<string, unknown>) {
      try {
        ajv.compile(schema);
        ajv.removeSchema(schema);
      } catch (err) {
        throw badInput(`schema is not a valid JSON Schema: ${(err as Error).message}`, { field: 'schema' });
      }
      const [row] = await db
        .insert(eventSchemas)
        .values({ organisationId: org, type, schema })
        .onConflictDoUpdate({ target: [eventSchemas.organisationId, eventSchemas.type], set: { schema, version: sql`${eventSchemas.version} + 1`, updatedAt: new Date() } })
        .returning();
      await refresh(org, true);
      return row!;
    },
    async get(org: string, type: string) {
      const [row] = await db.select().from(eventSchemas).where(and(eq(eventSchemas.organisationId, org), eq(eventSchemas.type, type)));
      return row ?? null;
    },
    list: (org: string) => db.select().from(eventSchemas).where(eq(eventSchemas.organisationId, org)).orderBy(eventSchemas.type),
    /**
     * Throws BAD_USER_INPUT naming the event and every violation when a payload does not fit the schema its
     * organisation registered for its type.
     */
    async check(events: Array<{ organisationId: string; type: string; payload: unknown }>, field: (i: number) => string) {
      const orgs = [...new Set(events.map((e) => e.organisationId))];
      await Promise.all(orgs.map((o) => refresh(o)));
      const refuse = (i: number, type: string, problems: string[]) => {
        throw badInput(`${field(i)}payload does not match the schema of ${type}: ${problems.join('; ')}`, { field: `${field(i)}payload`, problems });
      };
      const offLoop = new Map<string, { c: NonNullable<ReturnType<Compiled['get']>>; at: number[] }>();
      events.forEach((e, i) => {
        const c = cache.get(e.organisationId)?.compiled.get(e.type);
        if (!c) return;
        if (c.callerRegex) {
          const key = `${e.organisationId}\0${e.type}\0${c.version}`;
          offLoop.set(key, { c, at: [...(offLoop.get(key)?.at ?? []), i] });
          return;
        }
        if (!c.validate(e.payload)) refuse(i, e.type, (c.validate.errors ?? []).map((x) => `${x.instancePath || '/'} ${x.message}`));
      });
      for (const [key, { c, at }] of offLoop) {
        const results = await workers().run<Array<string[] | null>>('check', { key, schema: c.schema, payloads: at.map((i) => events[i]!.payload) });
        results.forEach((problems, j) => problems && refuse(at[j]!, events[at[j]!]!.type, problems));
      }
    },
    close: async () => pool?.close(),
  };
}

export type PayloadSchemas = ReturnType<typeof createPayloadSchemas>;
