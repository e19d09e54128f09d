import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { eq, sql } from 'drizzle-orm';
import { eventSchemas, type Schema } from '@hub/db';
import { badInput, type Db } from '@hub/runtime';

/**
 * JSON Schemas per event type: registered through the graph, enforced on every publish of that type. Compiled
 * schemas are cached per version; the cache is refreshed from the table so all processes enforce the same one.
 */
export function createPayloadSchemas(db: Db<Schema>) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  let compiled = new Map<string, { version: number; validate: ValidateFunction }>();
  let loadedAt = 0;

  let loading: Promise<void> | undefined;
  // Concurrent publishes that find the cache due share one read of the table.
  function refresh(force = false): Promise<void> {
    if (!force && Date.now() - loadedAt < 2_000) return Promise.resolve();
    if (!force && loading) return loading;
    const run = load().finally(() => {
      if (loading === run) loading = undefined;
    });
    loading = run;
    return run;
  }

  async function load() {
    const rows = await db.select().from(eventSchemas);
    const next = new Map<string, { version: number; validate: ValidateFunction }>();
    for (const r of rows) {
      const known = compiled.get(r.type);
      next.set(r.type, known && known.version === r.version ? known : { version: r.version, validate: ajv.compile(r.schema) });
    }
    compiled = next;
    loadedAt = Date.now();
  }

  return {
    async register(type: string, schema: Record<string, unknown>) {
      try {
        ajv.compile(schema);
      } catch (err) {
        throw badInput(`schema is not a valid JSON Schema: ${(err as Error).message}`, { field: 'schema' });
      }
      const [row] = await db
        .insert(eventSchemas)
        .values({ type, schema })
        .onConflictDoUpdate({ target: eventSchemas.type, set: { schema, version: sql`${eventSchemas.version} + 1`, updatedAt: new Date() } })
        .returning();
      await refresh(true);
      return row!;
    },
    async get(type: string) {
      const [row] = await db.select().from(eventSchemas).where(eq(eventSchemas.type, type));
      return row ?? null;
    },
    list: () => db.select().from(eventSchemas).orderBy(eventSchemas.type),
    /** Throws BAD_USER_INPUT naming the event and every violation when a payload does not fit its type's schema. */
    async check(events: Array<{ type: string; payload: unknown }>, field: (i: number) => string) {
      await refresh();
      events.forEach((e, i) => {
        const c = compiled.get(e.type);
        if (!c || c.validate(e.payload)) return;
        const problems = (c.validate.errors ?? []).map((x) => `${x.instancePath || '/'} ${x.message}`);
        throw badInput(`${field(i)}payload does not match the schema of ${e.type}: ${problems.join('; ')}`, { field: `${field(i)}payload`, problems });
      });
    },
  };
}

export type PayloadSchemas = ReturnType<typeof createPayloadSchemas>;
