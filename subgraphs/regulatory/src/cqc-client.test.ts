import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, createOutboundGuard, isHubError } from '@hub/runtime';
import { startCqcSimulator, type CqcSimulator } from '@hub/simulators';
import { createCqcClient } from './cqc-client.ts';

// The client against the CQC simulator over real HTTP; its waits are recorded instead of slept.
let sim: CqcSimulator;
const http = createHttpClient({ guard: createOutboundGuard({ allow: ['127.0.0.1'] }), retries: 0 });
const waits: number[] = [];
const client = (over: Partial<Parameters<typeof createCqcClient>[0]> = {}) =>
  createCqcClient({ http, baseUrl: sim.url, subscriptionKey: 'key-1', maxRetries: 3, perPage: 10, wait: async (ms) => void waits.push(ms), ...over });

beforeAll(async () => {
  sim = await startCqcSimulator({ subscriptionKey: 'key-1', syntheticLocations: 25 });
});
afterAll(async () => {
  await sim.close();
  await http.close();
});

describe('the CQC client', () => {
  it('sends the subscription key and reads a location and a provider', async () => {
    const c = client();
    expect(await c.location('1-101234567')).toMatchObject({ locationId: '1-101234567', name: 'Oak Lodge', currentRatings: { overall: { rating: 'Good' } } });
    expect(await c.provider('1-101234560')).toMatchObject({ providerId: '1-101234560', locationIds: ['1-101234567', '1-101234568', '1-101234569'] });
    expect(await c.location('1-999999999')).toBeNull();
  });

  it('is refused with a wrong key, saying why', async () => {
    const err = await client({ subscriptionKey: 'wrong' }).location('1-101234567').catch((e: unknown) => e);
    expect(isHubError(err) && err.code).toBe('UPSTREAM_ERROR');
    expect((err as Error).message).toMatch(/invalid subscription key/);
  });

  it('pages through the change feed to its last page', async () => {
    const from = new Date(Date.now() - 10_000);
    for (let i = 0; i < 23; i++) sim.changeLocation(`1-2${String(i).padStart(9, '0')}`, { name: `Changed ${i}` });
    sim.resetStats();
    const ids = await client().changedLocations(from, new Date(Date.now() + 1000));
    expect(ids).toHaveLength(23);
    expect(new Set(ids).size).toBe(23);
    expect(sim.stats().changeFeedPages).toBe(3); // 10 + 10 + 3
  });

  it('waits out each 429 for its Retry-After, a bounded number of times', async () => {
    waits.length = 0;
    sim.throttle(3, 2);
    const c = client();
    expect(await c.location('1-101234568')).toMatchObject({ locationId: '1-101234568' });
    expect(waits).toEqual([2000, 2000, 2000]);
    expect(c.counts()).toEqual({ requests: 4, throttled: 3 });

    waits.length = 0;
    sim.throttle(5, 1);
    const err = await client({ maxRetries: 2 }).location('1-101234568').catch((e: unknown) => e);
    expect(isHubError(err) && err.code).toBe('RATE_LIMITED');
    expect(waits).toEqual([1000, 1000]);
    sim.throttle(0);
  });

  it('does not wait for a Retry-After beyond its bound', async () => {
    waits.length = 0;
    sim.throttle(1, 3600);
    const err = await client({ maxRetryAfterMs: 60_000 }).location('1-101234568').catch((e: unknown) => e);
    expect(isHubError(err) && err.code).toBe('RATE_LIMITED');
    expect(waits).toEqual([]);
  });
});
