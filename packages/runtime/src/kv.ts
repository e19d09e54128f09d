import { createClient, type RedisClientType } from 'redis';
import { LRUCache } from 'lru-cache';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { rateLimited } from './errors.ts';

/**
 * The Redis parts of the hub behind one interface: a TTL cache and rate limiters. With REDIS_URL they are
 * shared by every hub process through Redis; without it they live in this process (a laptop, the demo).
 */
export interface KeyValue {
  kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Reads and deletes a key at once (a single-use value such as an OAuth state): one caller gets it, any other null. */
  take(key: string): Promise<string | null>;
  rateLimiter(name: string, points: number, durationSeconds: number): RateLimiterAbstract;
  /**
   * Takes one slot of a sliding window shared by every hub process: at most `limit` grants in any `windowMs`.
   * Returns 0 when granted, else how many ms until a slot frees. Used to stay under an upstream's limit, which
   * a fixed window (the rate limiters above) cannot promise: two fixed windows out of phase allow twice the rate.
   */
  takeSlot(name: string, limit: number, windowMs: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The node-redis client, for parts that need Redis-only features (streams); absent in memory mode. */
  redis?: RedisClientType;
}

/**
 * Waits (with a little jitter) for a slot of an upstream's limit shared by every hub process (`takeSlot`): how a
 * connector stays under the requests per second an upstream allows. RATE_LIMITED, naming the system, once the wait
 * would pass `maxWaitMs`.
 */
export async function waitForSlot(kv: KeyValue, o: { system: string; limit: number; windowMs: number; maxWaitMs: number }): Promise<void> {
  const started = Date.now();
  for (;;) {
    const wait = await kv.takeSlot(o.system, o.limit, o.windowMs);
    if (wait === 0) return;
    if (Date.now() - started + wait > o.maxWaitMs) {
      throw rateLimited(`the ${o.system.toUpperCase()} rate limit for this hub is used up; try again shortly`, { system: o.system, retryAfterMs: wait });
    }
    await sleep(wait + Math.floor(Math.random() * 20));
  }
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
    async take(key) {
      return client.getDel(o.prefix + key);
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
    async takeSlot(name, limit, windowMs) {
      const member = `${Date.now()}:${Math.random().toString(36).slice(2)}`;
      const wait = await client.eval(SLIDING_WINDOW_LUA, { keys: [`${o.prefix}slots:${name}`], arguments: [String(limit), String(windowMs), member] });
      return Number(wait);
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
  const slots = new Map<string, number[]>();
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
    async take(key) {
      const v = cache.get(prefix + key) ?? null;
      cache.delete(prefix + key);
      return v;
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
    async takeSlot(name, limit, windowMs) {
      const now = Date.now();
      const log = (slots.get(name) ?? []).filter((t) => t > now - windowMs);
      slots.set(name, log);
      if (log.length < limit) {
        log.push(now);
        return 0;
      }
      return Math.max(1, log[0]! + windowMs - now);
    },
    async ping() {},
    async close() {
      cache.clear();
    },
  };
}

// Sliding-window log on the Redis server's clock (one clock for all processes): drop grants older than the
// window, grant if fewer than the limit remain, else say when the oldest leaves the window.
const SLIDING_WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;
