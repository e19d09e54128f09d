import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startCqcSimulator, type CqcSimulator } from '@hub/simulators';
import { CqcLocationDocument, CreateHomeDocument, SyncCqcDocument, HomesWithCqcDocument, RegulatoryEventsDocument, RegulatoryProfileDocument, UpdateRegulatoryProfileDocument } from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';
import { collect } from '../support/ws.ts';

// The hub against the CQC simulator (started here, so the test can change the register and count what is read),
// syncing through the change feed every second.
const KEY = 'cqc-test-subscription-key';
const PROVIDER = '1-101234560';
const [OAK, ELM, BIRCH] = ['1-101234567', '1-101234568', '1-101234569'];
const a = testClient('reg-a', 'org-reg-a', 'read+write');
const b = testClient('reg-b', 'org-reg-b', 'read+write');

let sim: CqcSimulator;
let hub: TestHub;
let ws: Client;

const wsAs = (c: TestClient) =>
  createClient({ url: `${hub.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: c.headers.authorization } });
const profile = async (c = a) => (await hub.gqlAs(c, RegulatoryProfileDocument)).data!.regulatoryProfile;
/** Resolves once a scheduled sync has read the change feed past `at` (so every change made before it has been read). */
const syncedPast = (at: number) =>
  eventually(async () => {
    const p = await profile();
    return p.cqcChangesReadTo && Date.parse(p.cqcChangesReadTo) > at && p;
  });

beforeAll(async () => {
  sim = await startCqcSimulator({ subscriptionKey: KEY, syntheticLocations: 40 });
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(a, b),
    CQC_ENVIRONMENT: 'simulated',
    CQC_BASE_URL: sim.url,
    CQC_SUBSCRIPTION_KEY: KEY,
    CQC_SYNC_INTERVAL_SECONDS: '1',
    CQC_MAX_RETRIES: '6',
    DBS_ENVIRONMENT: 'disabled',
  });
  ws = wsAs(a);
  const home = await hub.gqlAs(a, CreateHomeDocument, { input: { id: 'reg-oak-lodge', name: 'Oak Lodge', cqcLocationId: OAK } });
  expect(home.errors).toBeUndefined();
});
afterAll(async () => {
  await ws?.dispose();
  await hub?.close();
  await sim?.close();
});

describe('the organisation on the CQC register', () => {
  it('refuses a provider id that is malformed or that CQC does not know, and keeps nothing', async () => {
    const bad = await hub.gqlAs(a, UpdateRegulatoryProfileDocument, { input: { cqcProviderId: 'sunrise' } });
    expect(bad.errors?.[0]).toMatchObject({ message: expect.stringMatching(/cqcProviderId "sunrise" is not a CQC id/), extensions: { code: 'BAD_USER_INPUT' } });
    const unknown = await hub.gqlAs(a, UpdateRegulatoryProfileDocument, { input: { cqcProviderId: '1-999999999' } });
    expect(unknown.errors?.[0]).toMatchObject({ message: expect.stringMatching(/CQC has no provider 1-999999999/), extensions: { code: 'BAD_USER_INPUT' } });
    expect(await profile()).toMatchObject({ cqcProviderId: null, cqcLocations: [], cqcEnvironment: 'SIMULATED' });
  });

  it('reads its provider and every location of it once, then joins a home to its location', async () => {
    sim.resetStats();
    const r = await hub.gqlAs(a, UpdateRegulatoryProfileDocument, { input: { cqcProviderId: PROVIDER } });
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateRegulatoryProfile.cqcLocations.map((l) => [l.locationId, l.followedFor])).toEqual(
      expect.arrayContaining([
        [OAK, 'PROVIDER'],
        [ELM, 'PROVIDER'],
        [BIRCH, 'PROVIDER'],
      ]),
    );
    expect(sim.stats().locationReads).toEqual({ [OAK]: 1, [ELM]: 1, [BIRCH]: 1 });

    const homes = (await hub.gqlAs(a, HomesWithCqcDocument)).data!.homes;
    expect(homes).toEqual([
      expect.objectContaining({ id: 'reg-oak-lodge', cqcLocation: expect.objectContaining({ locationId: OAK, name: 'Oak Lodge', registrationStatus: 'Registered', currentRatings: { overall: { rating: 'Good' } }, homeId: 'reg-oak-lodge' }) }),
    ]);
    const full = (await hub.gqlAs(a, CqcLocationDocument, { locationId: OAK })).data!.cqcLocation!;
    expect(full).toMatchObject({ providerId: PROVIDER, careHome: true, regulatedActivities: expect.arrayContaining([expect.objectContaining({ code: 'RA2' })]), serviceTypes: [{ name: 'Care home service with nursing' }] });
    expect(full.currentRatings!.keyQuestions.map((k) => k.name)).toEqual(['Safe', 'Effective', 'Caring', 'Responsive', 'Well-led']);
    // The join used the copy held: no further read of CQC.
    expect(sim.stats().locationReads).toEqual({ [OAK]: 1, [ELM]: 1, [BIRCH]: 1 });
  });

  it('syncs on demand too, saying what it read', async () => {
    const r = (await hub.gqlAs(a, SyncCqcDocument)).data!.syncCqc;
    expect(r).toMatchObject({ fullRead: false, readFrom: expect.any(String), throttled: 0 });
    expect(r.requests).toBeGreaterThanOrEqual(2); // the location and provider change feeds
    // An organisation that follows nothing reads nothing.
    expect((await hub.gqlAs(b, SyncCqcDocument)).data!.syncCqc).toMatchObject({ fullRead: true, locationsRead: 0, requests: 0 });
  });

  it('shows another organisation none of it', async () => {
    expect((await profile(b)).cqcLocations).toEqual([]);
    expect((await hub.gqlAs(b, CqcLocationDocument, { locationId: OAK })).data!.cqcLocation).toBeNull();
  });
});

describe('the change feed', () => {
  it('reads only the changed locations the organisation follows, and a rating change is an event a subscriber receives', async () => {
    const sub = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.cqc.*'] });
    await new Promise((r) => setTimeout(r, 300)); // the subscription is registered before the change
    await syncedPast(Date.now()); // what the first read left is read
    sim.resetStats();
    // Two changes on the register: one of another provider's locations, and the organisation's home.
    sim.changeLocation('1-2000000005', { name: 'Someone Else' });
    sim.rateLocation(OAK, 'Requires improvement');
    const changed = Date.now();
    const [event] = await sub.waitFor(1);
    sub.stop();
    expect(event!.events).toMatchObject({
      type: 'regulatory.cqc.rating_changed',
      source: 'hub.regulatory',
      homeId: 'reg-oak-lodge',
      payload: { locationId: OAK, previous: { overall: 'Good' }, current: { overall: 'Requires improvement', keyQuestions: { Safe: 'Requires improvement' } } },
    });
    await syncedPast(changed + 1000); // and a sync after that one
    const stats = sim.stats();
    // Several syncs have read the feed since; only the changed location of the organisation's was read, once.
    expect(stats.changeFeedPages).toBeGreaterThanOrEqual(2);
    expect(stats.locationReads).toEqual({ [OAK]: 1 });
    const homes = (await hub.gqlAs(a, HomesWithCqcDocument)).data!.homes;
    expect(homes[0]!.cqcLocation!.currentRatings!.overall!.rating).toBe('Requires improvement');
    expect((await profile()).cqcLastError).toBeNull();
  });

  it('absorbs a storm of 429s, waiting out each Retry-After, and still delivers the change', async () => {
    const sub = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.cqc.registration_changed'] });
    await new Promise((r) => setTimeout(r, 300));
    sim.resetStats();
    sim.throttle(5, 1);
    sim.changeLocation(BIRCH, { registrationStatus: 'Deregistered', deregistrationDate: '2026-12-01' });
    const [event] = await sub.waitFor(1, 30_000);
    sub.stop();
    expect(event!.events).toMatchObject({ type: 'regulatory.cqc.registration_changed', payload: { locationId: BIRCH, previous: 'Registered', current: 'Deregistered', deregistrationDate: '2026-12-01' } });
    expect(sim.stats().throttled).toBe(5);
    expect(sim.stats().locationReads).toEqual({ [BIRCH]: 1 });
    expect((await profile()).cqcLastError).toBeNull();
    expect((await hub.gqlAs(a, CqcLocationDocument, { locationId: BIRCH })).data!.cqcLocation!.registrationStatus).toBe('Deregistered');
  });

  it('does not announce the same change twice, nor one another organisation follows', async () => {
    const history = await hub.gqlAs(b, RegulatoryProfileDocument);
    expect(history.data!.regulatoryProfile.cqcLocations).toEqual([]);
    // Organisation b's subscriber sees none of a's events.
    const wsB = wsAs(b);
    const subB = collect(wsB, RegulatoryEventsDocument, { types: ['regulatory.*'] });
    const subA = collect(ws, RegulatoryEventsDocument, { types: ['regulatory.cqc.rating_changed'] });
    await new Promise((r) => setTimeout(r, 300));
    sim.rateLocation(ELM, 'Outstanding');
    const [got] = await subA.waitFor(1);
    expect(got!.events.payload).toMatchObject({ locationId: ELM, current: { overall: 'Outstanding' } });
    // Two more syncs later (each reads the feed again), still the one event; and nothing for organisation b.
    await syncedPast(Date.now() + 1000);
    expect(subA.received).toHaveLength(1);
    expect(subB.received).toEqual([]);
    subA.stop();
    subB.stop();
    await wsB.dispose();
  });
});
