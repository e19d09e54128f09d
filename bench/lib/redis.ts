import { createClient } from 'redis';

async function connect(url: string) {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The Redis server's version if `url` answers, else null with the reason. */
export async function probeRedis(url: string): Promise<{ version: string } | { error: string }> {
  try {
    const client = await connect(url);
    try {
      const info = await client.info('server');
      return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
    } finally {
      await client.quit().catch(() => client.destroy());
    }
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Deletes every key under `prefix` (the hub's event stream, cache and limiter keys of one bench run). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const client = await connect(url);
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length) deleted += await client.unlink(keys);
    }
  } finally {
    await client.quit().catch(() => client.destroy());
  }
  return deleted;
}
