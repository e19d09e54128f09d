import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The local server the bench creates its throw-away database on when DATABASE_URL is not given (trust auth). */
const ADMIN_HOST = '127.0.0.1:5432';
const ADMIN_USERS = ['postgres', 'root'];

export interface BenchDatabase {
  /** What every child gets as DATABASE_URL. */
  url: string;
  /** For the report, without credentials: e.g. "postgres (PostgreSQL 15.20), database hub_bench_1a2b3c4d (created by the bench)". */
  description: string;
  serverVersion: string;
  created: boolean;
  /** Drops the database if the bench created it; a no-op for a DATABASE_URL the caller owns. */
  drop(): Promise<void>;
}

async function serverVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    return `PostgreSQL ${row!.v}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Connects as the first admin user the local server accepts. */
async function adminConnection(): Promise<{ sql: postgres.Sql; user: string }> {
  const failures: string[] = [];
  for (const user of ADMIN_USERS) {
    const sql = postgres(`postgres://${user}@${ADMIN_HOST}/postgres`, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      await sql`select 1`;
      return { sql, user };
    } catch (err) {
      failures.push(`${user}: ${(err as Error).message}`);
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
  throw new Error(`cannot reach PostgreSQL at ${ADMIN_HOST} (set DATABASE_URL to use another server):\n  ${failures.join('\n  ')}`);
}

/** Uses DATABASE_URL as given, or creates a fresh `hub_bench_<random>` database that `drop()` removes again. */
export async function openBenchDatabase(): Promise<BenchDatabase> {
  const given = process.env.DATABASE_URL;
  if (given) {
    const version = await serverVersion(given);
    return {
      url: given,
      description: `postgres (${version}), DATABASE_URL database ${new URL(given).pathname.slice(1)} (not dropped)`,
      serverVersion: version,
      created: false,
      drop: async () => {},
    };
  }

  const { sql, user } = await adminConnection();
  const name = `hub_bench_${randomBytes(4).toString('hex')}`;
  try {
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = `postgres://${user}@${ADMIN_HOST}/${name}`;
  const version = await serverVersion(url);
  let dropped = false;
  return {
    url,
    description: `postgres (${version}), database ${name} (created by the bench, dropped at the end)`,
    serverVersion: version,
    created: true,
    async drop() {
      if (dropped) return;
      dropped = true;
      const admin = await adminConnection();
      try {
        // FORCE (PostgreSQL 13+) ends any connection a child that was SIGKILLed may have left behind.
        await admin.sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.sql.end({ timeout: 5 });
      }
    },
  };
}
