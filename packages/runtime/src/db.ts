import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { isInMemoryDataDir } from './config.ts';

export type Db<TSchema extends Record<string, unknown> = Record<string, unknown>> = PgDatabase<PgQueryResultHKT, TSchema>;

/** Raw SQL access with positional parameters; pg-boss and the readiness probe use it. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface Database<TSchema extends Record<string, unknown> = Record<string, unknown>> {
  kind: 'postgres' | 'pglite';
  db: Db<TSchema>;
  /** Set for a real server: pg-boss opens its own pool on it. */
  url?: string;
  /** Set for PGlite: pg-boss runs over the same single connection. */
  executor?: SqlExecutor;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions<TSchema extends Record<string, unknown>> {
  url?: string;
  /** PGlite data directory when no url is given; `memory://` (any value starting `memory:`) keeps it in memory. */
  dataDir: string;
  schema: TSchema;
  migrationsFolder: string;
  maxConnections?: number;
  /** PostgreSQL's statement_timeout for every connection, in ms (0 or unset: none). */
  statementTimeoutMs?: number;
}

/**
 * Opens the hub's database and applies the migrations. The same drizzle schema and migration files serve
 * a real PostgreSQL server (postgres-js) and embedded PGlite, so a laptop without Postgres runs the same SQL.
 */
export async function openDatabase<TSchema extends Record<string, unknown>>(
  o: OpenDatabaseOptions<TSchema>,
): Promise<Database<TSchema>> {
  if (o.url) {
    const client = postgres(o.url, {
      max: o.maxConnections ?? 10,
      onnotice: () => {},
      ...(o.statementTimeoutMs ? { connection: { statement_timeout: o.statementTimeoutMs } } : {}),
    });
    const db = drizzlePostgres(client, { schema: o.schema });
    await migratePostgres(db, { migrationsFolder: o.migrationsFolder });
    return {
      kind: 'postgres',
      db: db as unknown as Db<TSchema>,
      url: o.url,
      async ping() {
        await client`select 1`;
      },
      async close() {
        await client.end({ timeout: 5 });
      },
    };
  }
  const dir = isInMemoryDataDir(o.dataDir) ? 'memory://' : resolve(o.dataDir, 'pglite');
  if (dir !== 'memory://') mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir);
  const db = drizzlePglite(pg, { schema: o.schema });
  await migratePglite(db, { migrationsFolder: o.migrationsFolder });
  const executor: SqlExecutor = {
    async executeSql(text, values) {
      if (values && values.length > 0) return { rows: (await pg.query(text, values as unknown[])).rows };
      // Without parameters pg-boss sends multi-statement scripts, which only the simple protocol takes.
      const results = await pg.exec(text);
      return { rows: results.at(-1)?.rows ?? [] };
    },
  };
  return {
    kind: 'pglite',
    db: db as unknown as Db<TSchema>,
    executor,
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await pg.close();
    },
  };
}
