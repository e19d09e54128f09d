import { createClient, type RedisClientType } from 'redis';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * The Redis parts of the hub behind one interface: a TTL cache and rate limiters. With REDIS_URL they are
 * shared by every hub process through Redis; without it they live in this process (a laptop, the demo).
 */
export interface KeyValue {
  kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  rateLimiter(name: string, points: number, durationSeconds: number): RateLimiterAbstract;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The node-redis client, for parts that need Redis-only features (streams); absent in memory mode. */
  redis?: RedisClientType;
}

export async function openKeyValue(o: { url?: string; prefix: string }): Promise<KeyValue> {
  if (!o.url) return memoryKeyValue(o.prefix);
  const client: RedisClientType = createClient({ url: o.url });
  // Errors surface through readiness and the failed calls; without a listener node-redis would crash the process.
  client.on('error', () => {});
  await client.connect();
  const limiters = new Map<string, RateLimiterAbstract>();
  return {
    kind: 'redis',
    redis: client,
    async get(key) {
      return client.get(o.prefix + key);
    },
    async set(key, value, ttlSeconds) {
      await client.set(o.prefix + key, value, { EX: Math.max(1, Math.ceil(ttlSeconds)) });
    },
    async del(key) {
      await client.del(o.prefix + key);
    },
    rateLimiter(name, points, duration) {
      const id = `${name}:${points}:${duration}`;
      let l = limiters.get(id);
      if (!l) {
        l = new RateLimiterRedis({ storeClient: client, useRedisPackage: true, keyPrefix: `${o.prefix}rl:${name}`, points, duration });
        limiters.set(id, l);
      }
      return l;
    },
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit().catch(() => client.destroy());
    },
  };
}

function memoryKeyValue(prefix: string): KeyValue {
  const cache = new LRUCache<string, string>({ max: 50_000, ttlAutopurge: false });
  const limiters = new Map<string, RateLimiterAbstract>();
  return {
    kind: 'memory',
    async get(key) {
      return cache.get(prefix + key) ?? null;
    },
    async set(key, value, ttlSeconds) {
      cache.set(prefix + key, value, { ttl: ttlSeconds * 1000 });
    },
    async del(key) {
      cache.delete(prefix + key);
    },
    rateLimiter(name, points, duration) {
      const id = `${name}:${points}:${duration}`;
      let l = limiters.get(id);
      if (!l) {
        l = new RateLimiterMemory({ keyPrefix: `${prefix}rl:${name}`, points, duration });
        limiters.set(id, l);
      }
      return l;
    },
    async ping() {},
    async close() {
      cache.clear();
    },
  };
}
