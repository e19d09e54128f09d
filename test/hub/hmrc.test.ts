import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHmrcSimulator, type HmrcSimulator } from '@hub/simulators';
import {
  DisconnectHmrcDocument,
  HistoryDocument,
  HmrcConnectionDocument,
  StartHmrcAuthorisationDocument,
  SubmitVatReturnDocument,
  VatObligationsDocument,
  VatReturnDocument,
  VatSubmissionsDocument,
  type VatReturnInput,
} from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

const VRN = '123456789';
const CLIENT = { id: 'care-group-app', secret: 'care-group-secret' };
const REDIRECT = 'http://localhost:4000/api/integration/hmrc/oauth/callback';

let hub: TestHub;
let hmrc: HmrcSimulator;
beforeAll(async () => {
  hmrc = await startHmrcSimulator({ clientId: CLIENT.id, clientSecret: CLIENT.secret, vrns: [VRN, '987654321'], redirectUris: [REDIRECT], rateLimitPerSecond: 50 });
  hub = await startTestHub({
    HMRC_ENVIRONMENT: 'sandbox',
    HMRC_BASE_URL: hmrc.url,
    HMRC_CLIENT_ID: CLIENT.id,
    HMRC_CLIENT_SECRET: CLIENT.secret,
    HMRC_REDIRECT_URI: REDIRECT,
  });
});
afterAll(async () => {
  await hub?.close();
  await hmrc?.close();
});

const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;

/** What the operator's browser does: open HMRC's page, get sent back with a code, land on the hub's callback. */
async function authorise(): Promise<{ status: number; body: any }> {
  const { startHmrcAuthorisation: start } = await hub.ok(StartHmrcAuthorisationDocument);
  const grant = await fetch(start.authorizeUrl, { redirect: 'manual' });
  expect(grant.status).toBe(302);
  const back = new URL(grant.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  expect(back.searchParams.get('state')).toBe(start.state);
  // The callback is the hub's own endpoint; the test plays the browser on the hub's real address.
  return hub.rest('GET', `/api/integration/hmrc/oauth/callback?${back.searchParams}`);
}

const yearRange = () => {
  const to = new Date();
  const from = new Date(to.getTime() - 330 * 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
};

const goodReturn = (periodKey: string): VatReturnInput => ({
  periodKey,
  vatDueSales: '1250.40',
  vatDueAcquisitions: '0.00',
  totalVatDue: '1250.40',
  vatReclaimedCurrPeriod: '310.15',
  netVatDue: '940.25',
  totalValueSalesExVAT: '6252',
  totalValuePurchasesExVAT: '1551',
  totalValueGoodsSuppliedExVAT: '0',
  totalAcquisitionsExVAT: '0',
  finalised: true,
});

describe('HMRC: authorisation', () => {
  it('refuses VAT calls until an operator has authorised the hub, then keeps the tokens sealed and refreshes them', async () => {
    expect((await hub.ok(HmrcConnectionDocument)).hmrcConnection).toMatchObject({ environment: 'sandbox', simulated: false, authorised: false, scopes: [] });
    const before = await hub.gql(VatObligationsDocument, { vrn: VRN, ...yearRange() });
    expect(code(before)).toBe('UNAUTHENTICATED');
    expect(before.errors![0]!.message).toMatch(/startHmrcAuthorisation/);

    const callback = await authorise();
    expect(callback.status).toBe(200);
    expect(callback.body).toMatchObject({ authorised: true, scopes: ['read:vat', 'write:vat'] });
    expect(new Date(callback.body.accessTokenExpiresAt).getTime()).toBeGreaterThan(Date.now());

    // A state is used once; one the hub never issued is refused; so is a browser that comes back with an error.
    expect((await hub.rest('GET', '/api/integration/hmrc/oauth/callback?code=abc&state=forged')).status).toBe(400);
    const denied = await hub.rest('GET', '/api/integration/hmrc/oauth/callback?error=access_denied&state=x');
    expect(denied.status).toBe(400);
    expect(denied.body.error.message).toMatch(/access_denied/);

    const obligations = await hub.ok(VatObligationsDocument, { vrn: VRN, ...yearRange() });
    expect(obligations.vatObligations!.length).toBeGreaterThan(0);

    // HMRC's access tokens last four hours: once expired, the hub refreshes with the (rotating) refresh token.
    const issued = hmrc.stats().tokensIssued;
    hmrc.expireTokens();
    expect((await hub.ok(VatObligationsDocument, { vrn: VRN, ...yearRange() })).vatObligations).toEqual(obligations.vatObligations);
    expect(hmrc.stats().tokensIssued).toBe(issued + 1);
  });

  it('sends HMRC valid fraud-prevention headers on every call', () => {
    const seen = hmrc.stats().fraudHeaders.filter((f) => f.path.startsWith('/organisations/vat'));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((f) => f.code !== 'VALID_HEADERS')).toEqual([]);
  });
});

describe('HMRC: VAT returns', () => {
  it('files a return once: receipt kept, obligation fulfilled, the return readable back, a second submission sends nothing', async () => {
    const { vatObligations } = await hub.ok(VatObligationsDocument, { vrn: VRN, ...yearRange(), status: 'OPEN' });
    const open = vatObligations![0]!;
    expect(open.status).toBe('OPEN');

    const { submitVatReturn: filed } = await hub.ok(SubmitVatReturnDocument, { vrn: VRN, input: goodReturn(open.periodKey) });
    expect(filed).toMatchObject({ vrn: VRN, periodKey: open.periodKey, status: 'ACCEPTED', duplicate: false, error: null });
    expect(filed.receipt?.formBundleNumber).toMatch(/^\d{12}$/);
    expect(filed.receipt?.processingDate).toBeTruthy();

    const after = await hub.ok(VatObligationsDocument, { vrn: VRN, ...yearRange() });
    expect(after.vatObligations!.find((o) => o.periodKey === open.periodKey)).toMatchObject({ status: 'FULFILLED' });
    const { vatReturn } = await hub.ok(VatReturnDocument, { vrn: VRN, periodKey: open.periodKey });
    const { finalised: _f, ...boxes } = goodReturn(open.periodKey);
    expect(vatReturn).toEqual(boxes);

    const posts = hmrc.stats().byPath[`/organisations/vat/${VRN}/returns`] ?? 0;
    const { submitVatReturn: again } = await hub.ok(SubmitVatReturnDocument, { vrn: VRN, input: goodReturn(open.periodKey) });
    expect(again).toMatchObject({ status: 'ACCEPTED', duplicate: true, receipt: filed.receipt });
    expect(hmrc.stats().byPath[`/organisations/vat/${VRN}/returns`] ?? 0).toBe(posts);

    const events = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['hmrc.*'] }, first: 50 });
      return eventHistory.events.some((e) => e.type === 'hmrc.vat.return_submitted') ? eventHistory.events : undefined;
    });
    expect(events.filter((e) => e.type === 'hmrc.vat.return_submitted').map((e) => e.payload)).toEqual([
      expect.objectContaining({ vrn: VRN, periodKey: open.periodKey, netVatDue: 940.25, formBundleNumber: filed.receipt!.formBundleNumber }),
    ]);
    expect(events.map((e) => e.type)).toContain('hmrc.authorised');
    expect((await hub.ok(VatSubmissionsDocument, { vrn: VRN })).vatSubmissions.map((s) => s.periodKey)).toEqual([open.periodKey]);
  });

  it('checks a return before sending it, and passes on what HMRC refuses, naming the box; nothing is recorded as filed', async () => {
    const { vatObligations } = await hub.ok(VatObligationsDocument, { vrn: VRN, ...yearRange(), status: 'OPEN' });
    const periodKey = vatObligations![0]!.periodKey;
    const posts = hmrc.stats().byPath[`/organisations/vat/${VRN}/returns`] ?? 0;
    const cases: Array<[Partial<VatReturnInput>, RegExp]> = [
      [{ totalVatDue: '1250.41' }, /box 3/],
      [{ netVatDue: '940.00' }, /box 5/],
      [{ vatDueSales: '12.345' }, /vatDueSales must be pounds and pence/],
      [{ totalValueSalesExVAT: '6252.50' }, /totalValueSalesExVAT must be whole pounds/],
      [{ finalised: false }, /finalised must be true/],
      [{ periodKey: 'toolong' }, /periodKey/],
    ];
    for (const [change, message] of cases) {
      const r = await hub.gql(SubmitVatReturnDocument, { vrn: VRN, input: { ...goodReturn(periodKey), ...change } });
      expect(code(r), JSON.stringify(change)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toMatch(message);
    }
    expect(hmrc.stats().byPath[`/organisations/vat/${VRN}/returns`] ?? 0).toBe(posts);
    expect(code(await hub.gql(SubmitVatReturnDocument, { vrn: '12345', input: goodReturn(periodKey) }))).toBe('BAD_USER_INPUT');

    // HMRC's own refusals: a VAT number this login may not act for.
    const notMine = await hub.gql(VatObligationsDocument, { vrn: '555555555', ...yearRange() });
    expect(code(notMine)).toBe('FORBIDDEN');
    expect(notMine.errors![0]!.extensions!.hmrcCode).toBe('CLIENT_OR_AGENT_NOT_AUTHORISED');
    expect(code(await hub.gql(VatObligationsDocument, { vrn: VRN, from: '2025-13-01', to: '2025-12-01' }))).toBe('BAD_USER_INPUT');
    expect((await hub.ok(VatSubmissionsDocument, { vrn: VRN })).vatSubmissions.filter((s) => s.periodKey === periodKey)).toEqual([]);
    expect((await hub.ok(VatReturnDocument, { vrn: VRN, periodKey })).vatReturn).toBeNull();
  });

  it('forgets its tokens on disconnect: calls need a new authorisation', async () => {
    const { disconnectHmrc } = await hub.ok(DisconnectHmrcDocument);
    expect(disconnectHmrc.authorised).toBe(false);
    expect(code(await hub.gql(VatObligationsDocument, { vrn: VRN, ...yearRange() }))).toBe('UNAUTHENTICATED');
    expect((await authorise()).body.authorised).toBe(true);
  });
});

/** A proxy in front of HMRC that delivers the first return submission and loses HMRC's answer to it. */
async function lossyProxy(target: string): Promise<{ url: string; lost: () => number; close: () => Promise<void> }> {
  let lost = 0;
  const server: Server = createServer((req, res) => {
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      if (req.method === 'POST' && /\/returns$/.test(req.url ?? '') && lost === 0) {
        lost++;
        up.resume();
        up.on('end', () => req.socket.destroy()); // HMRC has filed it; the hub never hears so
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lost: () => lost, close: () => new Promise((r) => server.close(() => r())) };
}

describe('HMRC: an answer lost on the way back', () => {
  it('never files a period twice: the retry finds the return filed, reads it back and records it as accepted', async () => {
    const proxy = await lossyProxy(hmrc.url);
    const lossy = await startTestHub({ HMRC_ENVIRONMENT: 'sandbox', HMRC_BASE_URL: proxy.url, HMRC_CLIENT_ID: CLIENT.id, HMRC_CLIENT_SECRET: CLIENT.secret, HMRC_REDIRECT_URI: REDIRECT });
    try {
      const { startHmrcAuthorisation: start } = await lossy.ok(StartHmrcAuthorisationDocument);
      const back = new URL((await fetch(start.authorizeUrl.replace(proxy.url, hmrc.url), { redirect: 'manual' })).headers.get('location')!);
      expect((await lossy.rest('GET', `/api/integration/hmrc/oauth/callback?${back.searchParams}`)).body.authorised).toBe(true);
      const vrn = '987654321';
      const open = (await lossy.ok(VatObligationsDocument, { vrn, ...yearRange(), status: 'OPEN' })).vatObligations![0]!;

      const first = await lossy.gql(SubmitVatReturnDocument, { vrn, input: goodReturn(open.periodKey) });
      expect(code(first)).toBe('UPSTREAM_UNAVAILABLE');
      expect(proxy.lost()).toBe(1);
      expect((await lossy.ok(VatSubmissionsDocument, { vrn })).vatSubmissions[0]).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/no answer/) });
      // HMRC has it: the obligation is met.
      expect((await lossy.ok(VatObligationsDocument, { vrn, ...yearRange() })).vatObligations!.find((o) => o.periodKey === open.periodKey)?.status).toBe('FULFILLED');

      const retry = await lossy.ok(SubmitVatReturnDocument, { vrn, input: goodReturn(open.periodKey) });
      expect(retry.submitVatReturn).toMatchObject({ status: 'ACCEPTED', duplicate: true, receipt: { confirmedBy: 'read-back' } });
      expect((await lossy.ok(VatSubmissionsDocument, { vrn })).vatSubmissions.map((s) => [s.periodKey, s.status])).toEqual([[open.periodKey, 'ACCEPTED']]);
    } finally {
      await lossy.close();
      await proxy.close();
    }
  });
});

describe('HMRC: the embedded default', () => {
  it('with no HMRC configuration runs against the in-process simulator, marked simulated', async () => {
    const demo = await startTestHub();
    try {
      const { hmrcConnection } = await demo.ok(HmrcConnectionDocument);
      expect(hmrcConnection).toMatchObject({ environment: 'simulated', simulated: true, authorised: false });
      const { startHmrcAuthorisation } = await demo.ok(StartHmrcAuthorisationDocument);
      expect(startHmrcAuthorisation.authorizeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?/);
    } finally {
      await demo.close();
    }
  });
});
