import { afterEach, describe, expect, it } from 'vitest';
import { startHmrcSimulator, type HmrcSimulator, type HmrcSimulatorOptions } from '../../simulators/src/index.ts';

const CLIENT_ID = 'hmrc-client-id';
const CLIENT_SECRET = 'hmrc-client-secret';
const REDIRECT = 'http://127.0.0.1:9999/callback';
const VRN = '123456789';
const ACCEPT = 'application/vnd.hmrc.1.0+json';

const running: HmrcSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(o: Partial<HmrcSimulatorOptions> = {}): Promise<HmrcSimulator> {
  const sim = await startHmrcSimulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 1000, ...o });
  running.push(sim);
  return sim;
}

type Json = Record<string, unknown>;
interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string;
  token_type: string;
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

async function authorize(sim: HmrcSimulator, scope = 'read:vat write:vat', state = 'st-1'): Promise<string> {
  const url = new URL(sim.authorizeUrl);
  url.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, scope, redirect_uri: REDIRECT, state }).toString();
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe(state);
  return location.searchParams.get('code')!;
}
const exchange = (sim: HmrcSimulator, code: string): Promise<Response> =>
  fetch(sim.tokenUrl, form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
const refresh = (sim: HmrcSimulator, refreshToken: string): Promise<Response> =>
  fetch(sim.tokenUrl, form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));

async function login(sim: HmrcSimulator, scope?: string): Promise<Tokens> {
  const res = await exchange(sim, await authorize(sim, scope));
  expect(res.status).toBe(200);
  return (await res.json()) as Tokens;
}

function api(sim: HmrcSimulator, token: string | undefined, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: ACCEPT, ...(token ? { Authorization: `Bearer ${token}` } : {}), ...init.headers };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${sim.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
}
async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** The last calendar quarter that has ended: its periodKey (YYAq) and dates, as the simulator derives them. */
function lastEndedQuarter(): { periodKey: string; start: string; end: string; due: string } {
  const now = new Date();
  let y = now.getUTCFullYear();
  let q = Math.floor(now.getUTCMonth() / 3); // current quarter index 0-3 -> previous quarter number q (1-4)
  if (q === 0) {
    y -= 1;
    q = 4;
  }
  const d = (yr: number, m1: number, day: number): string => new Date(Date.UTC(yr, m1 - 1, day)).toISOString().slice(0, 10);
  return { periodKey: `${String(y % 100).padStart(2, '0')}A${q}`, start: d(y, q * 3 - 2, 1), end: d(y, q * 3 + 1, 0), due: d(y, q * 3 + 2, 7) };
}
const isoDay = (offsetDays = 0): string => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

const validReturn = (periodKey: string): Json => ({
  periodKey,
  vatDueSales: 105.5,
  vatDueAcquisitions: -100.45,
  totalVatDue: 5.05,
  vatReclaimedCurrPeriod: 105.15,
  netVatDue: 100.1,
  totalValueSalesExVAT: 300,
  totalValuePurchasesExVAT: 300,
  totalValueGoodsSuppliedExVAT: 3000,
  totalAcquisitionsExVAT: 3000,
  finalised: true,
});

const batchHeaders = (): Record<string, string> => ({
  'Gov-Client-Connection-Method': 'BATCH_PROCESS_DIRECT',
  'Gov-Client-Device-ID': 'beec798b-b366-47fa-b1f8-92cede14a1ce',
  'Gov-Client-User-IDs': 'os=care-home-hub',
  'Gov-Client-Timezone': 'UTC+00:00',
  'Gov-Client-Local-IPs': '10.1.2.3,fe80%3A%3A1',
  'Gov-Client-Local-IPs-Timestamp': new Date().toISOString(),
  'Gov-Client-MAC-Addresses': 'ea%3A43%3A1a%3A5d%3A21%3A45',
  'Gov-Client-User-Agent': 'os-family=Linux&os-version=6.1&device-manufacturer=Dell&device-model=PowerEdge',
  'Gov-Vendor-Version': 'hub=1.2.0&worker=0.9.1',
  'Gov-Vendor-Product-Name': 'Care%20Home%20Hub',
});

describe('HMRC simulator: OAuth 2.0 authorization code grant', () => {
  it('redirects with a one-time code, exchanges it, refreshes with rotation and refuses reuse', async () => {
    const sim = await start();
    const code = await authorize(sim);
    const res = await exchange(sim, code);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const tokens = (await res.json()) as Tokens;
    expect(tokens).toMatchObject({ expires_in: 14400, scope: 'read:vat write:vat', token_type: 'bearer' });
    expect(tokens.access_token).toMatch(/^[\w-]{20,}$/);
    expect(tokens.refresh_token).toMatch(/^\w{20,}$/);

    // A used code is refused.
    const again = await exchange(sim, code);
    expect(again.status).toBe(400);
    expect(await json(again)).toMatchObject({ error: 'invalid_grant' });

    // Refresh rotates: the new pair works, the old refresh token does not.
    const refreshed = await refresh(sim, tokens.refresh_token);
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as Tokens;
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.scope).toBe('read:vat write:vat');
    const reused = await refresh(sim, tokens.refresh_token);
    expect(reused.status).toBe(400);
    expect(await json(reused)).toMatchObject({ error: 'invalid_grant' });
    expect((await api(sim, next.access_token, `/organisations/vat/${VRN}/obligations?status=O`)).status).not.toBe(401);
    expect(sim.stats().tokensIssued).toBe(2);
  });

  it('refuses bad authorize parameters with 400 JSON and never redirects to an unapproved URI', async () => {
    const sim = await start({ redirectUris: [REDIRECT] });
    const go = async (params: Record<string, string>): Promise<[number, Json]> => {
      const url = new URL(sim.authorizeUrl);
      url.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, scope: 'read:vat', redirect_uri: REDIRECT, ...params }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.headers.get('location')).toBeNull();
      return [res.status, await json(res)];
    };
    expect(await go({ client_id: 'someone-else' })).toEqual([400, expect.objectContaining({ error: 'invalid_client' })]);
    expect(await go({ redirect_uri: 'http://127.0.0.1:9999/other' })).toEqual([400, expect.objectContaining({ error: 'invalid_request' })]);
    expect(await go({ redirect_uri: 'https://evil.example/cb' })).toEqual([400, expect.objectContaining({ error: 'invalid_request' })]);
    expect(await go({ response_type: 'token' })).toEqual([400, expect.objectContaining({ error: 'unsupported_response_type' })]);
    expect(await go({ scope: 'read:vat write:everything' })).toEqual([400, expect.objectContaining({ error: 'invalid_scope' })]);
  });

  it('answers RFC 6749 errors from the token endpoint', async () => {
    const sim = await start();
    const code = await authorize(sim);
    const wrongSecret = await fetch(sim.tokenUrl, form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: 'nope' }));
    expect(wrongSecret.status).toBe(401);
    expect(await json(wrongSecret)).toMatchObject({ error: 'invalid_client' });
    const noGrant = await fetch(sim.tokenUrl, form({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect([noGrant.status, (await json(noGrant)).error]).toEqual([400, 'invalid_request']);
    const password = await fetch(sim.tokenUrl, form({ grant_type: 'password', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect([password.status, (await json(password)).error]).toEqual([400, 'unsupported_grant_type']);
    const otherRedirect = await fetch(
      sim.tokenUrl,
      form({ grant_type: 'authorization_code', code: await authorize(sim), redirect_uri: 'http://127.0.0.1:9999/elsewhere', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
    );
    expect([otherRedirect.status, (await json(otherRedirect)).error]).toEqual([400, 'invalid_grant']);
  });
});

describe('HMRC simulator: gateway checks', () => {
  it('requires the v1.0 Accept header, credentials, a live token, the scope and an enrolled, well-formed VRN', async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const path = `/organisations/vat/${VRN}/obligations?status=O`;

    const noAccept = await fetch(`${sim.url}${path}`, { headers: { Authorization: `Bearer ${access_token}` } });
    expect(noAccept.status).toBe(406);
    expect(await json(noAccept)).toEqual({ code: 'ACCEPT_HEADER_INVALID', message: 'The accept header is missing or invalid' });
    expect((await api(sim, access_token, path, { headers: { Accept: 'application/vnd.hmrc.2.0+json' } })).status).toBe(406);

    const missing = await api(sim, undefined, path);
    expect([missing.status, (await json(missing)).code]).toEqual([401, 'MISSING_CREDENTIALS']);
    const bogus = await api(sim, 'not-a-token', path);
    expect([bogus.status, (await json(bogus)).code]).toEqual([401, 'INVALID_CREDENTIALS']);

    const readOnly = await login(sim, 'read:vat');
    const post = await api(sim, readOnly.access_token, `/organisations/vat/${VRN}/returns`, { method: 'POST', body: validReturn(lastEndedQuarter().periodKey) });
    expect([post.status, (await json(post)).code]).toEqual([401, 'INVALID_SCOPE']);

    const stranger = await api(sim, access_token, '/organisations/vat/987654321/obligations?status=O');
    expect([stranger.status, (await json(stranger)).code]).toEqual([403, 'CLIENT_OR_AGENT_NOT_AUTHORISED']);
    const malformed = await api(sim, access_token, '/organisations/vat/12345/obligations?status=O');
    expect([malformed.status, (await json(malformed)).code]).toEqual([400, 'VRN_INVALID']);

    const unknown = await api(sim, access_token, '/organisations/vat/123456789/nothing-here');
    expect([unknown.status, (await json(unknown)).code]).toEqual([404, 'MATCHING_RESOURCE_NOT_FOUND']);
    const wrongMethod = await api(sim, access_token, `/organisations/vat/${VRN}/obligations`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(wrongMethod.headers.get('x-correlationid')).toMatch(/^[0-9a-f-]{36}$/);

    // Expired tokens answer INVALID_CREDENTIALS until refreshed.
    sim.expireTokens();
    const expired = await api(sim, access_token, path);
    expect([expired.status, (await json(expired)).code]).toEqual([401, 'INVALID_CREDENTIALS']);
    const { refresh_token } = await login(sim);
    sim.expireTokens();
    const renewed = (await (await refresh(sim, refresh_token)).json()) as Tokens;
    expect((await api(sim, renewed.access_token, path)).status).toBe(200);
  });

  it('throttles each application at 3 requests per second by default', async () => {
    const sim = await start({ rateLimitPerSecond: undefined });
    const { access_token } = await login(sim);
    const statuses: number[] = [];
    const bodies: Json[] = [];
    for (let i = 0; i < 10; i += 1) {
      const res = await api(sim, access_token, `/organisations/vat/${VRN}/obligations?status=O`);
      statuses.push(res.status);
      bodies.push(await json(res));
    }
    const throttled = statuses.filter((s) => s === 429).length;
    expect(throttled).toBeGreaterThanOrEqual(3); // at most 3 per window, and 10 quick calls straddle at most one boundary
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(bodies[statuses.indexOf(429)]).toEqual({ code: 'MESSAGE_THROTTLED_OUT', message: 'The application has exceeded the rate limit' });
  });
});

describe('HMRC simulator: VAT obligations and returns', () => {
  it('serves derived quarterly obligations, validates parameters and honours Gov-Test-Scenario', async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const q = lastEndedQuarter();
    const res = await api(sim, access_token, `/organisations/vat/${VRN}/obligations?from=${q.start}&to=${q.end}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlationid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await json(res)).toEqual({ obligations: [{ start: q.start, end: q.end, due: q.due, status: 'O', periodKey: q.periodKey }] });

    const year = await json(await api(sim, access_token, `/organisations/vat/${VRN}/obligations?from=2023-01-01&to=2023-12-31`));
    expect((year.obligations as Json[]).map((o) => [o.periodKey, o.start, o.end, o.due])).toEqual([
      ['23A1', '2023-01-01', '2023-03-31', '2023-05-07'],
      ['23A2', '2023-04-01', '2023-06-30', '2023-08-07'],
      ['23A3', '2023-07-01', '2023-09-30', '2023-11-07'],
      ['23A4', '2023-10-01', '2023-12-31', '2024-02-07'],
    ]);

    const code = async (query: string): Promise<[number, unknown]> => {
      const r = await api(sim, access_token, `/organisations/vat/${VRN}/obligations${query}`);
      return [r.status, (await json(r)).code];
    };
    expect(await code('')).toEqual([400, 'INVALID_DATE_FROM']);
    expect(await code('?from=2023-02-30&to=2023-03-31')).toEqual([400, 'INVALID_DATE_FROM']);
    expect(await code('?from=2023-01-01')).toEqual([400, 'INVALID_DATE_TO']);
    expect(await code('?from=2023-01-01&to=2024-01-03')).toEqual([400, 'INVALID_DATE_RANGE']);
    expect(await code('?from=2023-03-01&to=2023-01-01')).toEqual([400, 'INVALID_DATE_RANGE']);
    expect(await code('?from=2023-01-01&to=2023-12-31&status=X')).toEqual([400, 'INVALID_STATUS']);
    expect(await code(`?from=${isoDay(30)}&to=${isoDay(60)}`)).toEqual([404, 'NOT_FOUND']);

    const scenario = (name: string, query = '?from=2018-01-01&to=2018-12-31'): Promise<Response> =>
      api(sim, access_token, `/organisations/vat/${VRN}/obligations${query}`, { headers: { 'Gov-Test-Scenario': name } });
    const twoMet = (await json(await scenario('QUARTERLY_TWO_MET'))).obligations as Json[];
    expect(twoMet.map((o) => [o.periodKey, o.status])).toEqual([
      ['18A1', 'F'],
      ['18A2', 'F'],
      ['18A3', 'O'],
      ['18A4', 'O'],
    ]);
    expect(twoMet[0]).toMatchObject({ start: '2018-01-01', end: '2018-03-31', due: '2018-05-07', received: '2018-05-06' });
    const monthly = (await json(await scenario('MONTHLY_OBS_03_OPEN', '?status=O'))).obligations as Json[];
    expect(monthly).toEqual([{ start: '2018-03-01', end: '2018-03-31', due: '2018-05-07', status: 'O', periodKey: '18AC' }]);
    expect((await scenario('NOT_FOUND')).status).toBe(404);
    const insolvent = await scenario('INSOLVENT_TRADER');
    expect([insolvent.status, (await json(insolvent)).code]).toEqual([403, 'RULE_INSOLVENT_TRADER']);
  });

  it('accepts a valid return, fulfils the obligation, serves it back and refuses a duplicate', async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const q = lastEndedQuarter();
    const res = await api(sim, access_token, `/organisations/vat/${VRN}/returns`, { method: 'POST', body: validReturn(q.periodKey) });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-correlationid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('receipt-id')).toMatch(/^[0-9a-f-]{36}$/);
    const receipt = await json(res);
    expect(receipt.formBundleNumber).toMatch(/^\d{12}$/);
    expect(Date.parse(receipt.processingDate as string)).toBeGreaterThan(Date.now() - 60_000);
    // 5.05 due vs 105.15 reclaimed: a repayment (credit), so BANK and no charge reference.
    expect(receipt.paymentIndicator).toBe('BANK');
    expect(receipt.chargeRefNumber).toBeUndefined();

    const obligations = await json(await api(sim, access_token, `/organisations/vat/${VRN}/obligations?from=${q.start}&to=${q.end}`));
    expect(obligations.obligations).toEqual([{ start: q.start, end: q.end, due: q.due, status: 'F', periodKey: q.periodKey, received: isoDay() }]);
    const open = await api(sim, access_token, `/organisations/vat/${VRN}/obligations?from=${q.start}&to=${q.end}&status=O`);
    expect(open.status).toBe(404);

    const back = await api(sim, access_token, `/organisations/vat/${VRN}/returns/${encodeURIComponent(q.periodKey)}`);
    expect(back.status).toBe(200);
    const { finalised: _omitted, ...stored } = validReturn(q.periodKey);
    expect(await json(back)).toEqual(stored);

    const duplicate = await api(sim, access_token, `/organisations/vat/${VRN}/returns`, { method: 'POST', body: validReturn(q.periodKey) });
    expect([duplicate.status, (await json(duplicate)).code]).toEqual([403, 'DUPLICATE_SUBMISSION']);

    const none = await api(sim, access_token, `/organisations/vat/${VRN}/returns/21A1`);
    expect([none.status, (await json(none)).code]).toEqual([404, 'NOT_FOUND']);
    const badKey = await api(sim, access_token, `/organisations/vat/${VRN}/returns/TOOLONG`);
    expect([badKey.status, (await json(badKey)).code]).toEqual([400, 'PERIOD_KEY_INVALID']);

    // A debit return: DD with a charge reference, and it shows up as a liability.
    const debit = { ...validReturn('23A1'), vatDueSales: 1000, vatDueAcquisitions: 0, totalVatDue: 1000, vatReclaimedCurrPeriod: 200, netVatDue: 800 };
    const paid = await json(await api(sim, access_token, `/organisations/vat/${VRN}/returns`, { method: 'POST', body: debit }));
    expect(paid.paymentIndicator).toBe('DD');
    expect(paid.chargeRefNumber).toMatch(/^[A-Za-z0-9]{1,16}$/);
    const liabilities = await json(await api(sim, access_token, `/organisations/vat/${VRN}/liabilities?from=2023-01-01&to=2023-12-31`));
    expect(liabilities.liabilities).toEqual([
      { taxPeriod: { from: '2023-01-01', to: '2023-03-31' }, type: 'VAT Return Debit Charge', originalAmount: 800, outstandingAmount: 800, due: '2023-05-07' },
    ]);
    const payments = await api(sim, access_token, `/organisations/vat/${VRN}/payments?from=2017-01-02&to=2017-02-02`, { headers: { 'Gov-Test-Scenario': 'SINGLE_PAYMENT' } });
    expect(await json(payments)).toEqual({ payments: [{ amount: 100.05, received: '2017-02-01' }] });
  });

  it('lists every field problem of a bad return with its path, and applies the 403 rules', async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const post = (body: unknown, headers?: Record<string, string>): Promise<Response> =>
      api(sim, access_token, `/organisations/vat/${VRN}/returns`, { method: 'POST', body, headers });
    const q = lastEndedQuarter();

    const bad = await post({
      ...validReturn(q.periodKey),
      periodKey: 'TOO-LONG',
      vatDueSales: 10.123, // three decimals
      vatDueAcquisitions: '5', // not a number
      netVatDue: -1, // below zero
      totalValueSalesExVAT: 300.5, // not whole pounds
      totalAcquisitionsExVAT: 1e14, // out of range
      finalised: 'yes',
    });
    expect(bad.status).toBe(400);
    const body = await json(bad);
    expect(body.code).toBe('INVALID_REQUEST');
    expect((body.errors as Json[]).map((e) => [e.path, e.code])).toEqual([
      ['/periodKey', 'PERIOD_KEY_INVALID'],
      ['/vatDueSales', 'INVALID_MONETARY_AMOUNT'],
      ['/vatDueAcquisitions', 'INVALID_NUMERIC_VALUE'],
      ['/netVatDue', 'INVALID_MONETARY_AMOUNT'],
      ['/totalValueSalesExVAT', 'INVALID_MONETARY_AMOUNT'],
      ['/totalAcquisitionsExVAT', 'INVALID_MONETARY_AMOUNT'],
      ['/finalised', 'INVALID_REQUEST'],
    ]);

    const sums = await json(await post({ ...validReturn(q.periodKey), totalVatDue: 6, netVatDue: 50 }));
    expect((sums.errors as Json[]).map((e) => [e.path, e.code])).toEqual([
      ['/totalVatDue', 'VAT_TOTAL_VALUE'],
      ['/netVatDue', 'VAT_NET_VALUE'],
    ]);
    const missing = await json(await post({ periodKey: q.periodKey, finalised: true }));
    expect((missing.errors as Json[]).length).toBe(9);

    const notFinal = await post({ ...validReturn(q.periodKey), finalised: false });
    expect([notFinal.status, (await json(notFinal)).code]).toEqual([403, 'NOT_FINALISED']);
    const current = `${String(new Date().getUTCFullYear() % 100).padStart(2, '0')}A${Math.floor(new Date().getUTCMonth() / 3) + 1}`;
    const early = await post(validReturn(current));
    expect([early.status, (await json(early)).code]).toEqual([403, 'TAX_PERIOD_NOT_ENDED']);
    const noObligation = await post(validReturn('ZZZZ'));
    expect([noObligation.status, (await json(noObligation)).code]).toEqual([400, 'PERIOD_KEY_INVALID']);
    const scenario = await post(validReturn(q.periodKey), { 'Gov-Test-Scenario': 'INSOLVENT_TRADER' });
    expect([scenario.status, (await json(scenario)).code]).toEqual([403, 'RULE_INSOLVENT_TRADER']);
    const notJson = await fetch(`${sim.url}/organisations/vat/${VRN}/returns`, {
      method: 'POST',
      headers: { Accept: ACCEPT, Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json' },
      body: '{nope',
    });
    expect([notJson.status, (await json(notJson)).code]).toEqual([400, 'INVALID_REQUEST']);
  });
});

describe('HMRC simulator: fraud-prevention headers', () => {
  it('validates a complete BATCH_PROCESS_DIRECT set and names the missing headers of an incomplete one', async () => {
    const sim = await start();
    const { access_token } = await login(sim);
    const valid = await api(sim, access_token, '/test/fraud-prevention-headers/validate', { headers: batchHeaders() });
    expect(valid.status).toBe(200);
    expect(await json(valid)).toEqual({ specVersion: '3.1', code: 'VALID_HEADERS', message: 'All headers appear to be valid' });

    const partial = batchHeaders();
    delete partial['Gov-Client-MAC-Addresses'];
    delete partial['Gov-Vendor-Version'];
    partial['Gov-Client-Timezone'] = 'GMT';
    const invalid = await json(await api(sim, access_token, '/test/fraud-prevention-headers/validate', { headers: partial }));
    expect(invalid.code).toBe('INVALID_HEADERS');
    expect(invalid.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'MISSING_HEADER', headers: ['Gov-Client-MAC-Addresses'] }),
        expect.objectContaining({ code: 'MISSING_HEADER', headers: ['Gov-Vendor-Version'] }),
        expect.objectContaining({ code: 'INVALID_HEADER', headers: ['Gov-Client-Timezone'] }),
      ]),
    );

    const web = await json(
      await api(sim, access_token, '/test/fraud-prevention-headers/validate', { headers: { 'Gov-Client-Connection-Method': 'WEB_APP_VIA_SERVER', 'Gov-Client-Public-Port': '443' } }),
    );
    expect(web.code).toBe('INVALID_HEADERS');
    expect(web.warnings).toEqual([expect.objectContaining({ code: 'POTENTIALLY_INVALID_HEADER', headers: ['Gov-Client-Public-Port'] })]);

    // VAT endpoints do not reject missing headers, but stats() records each request's verdict.
    expect((await api(sim, access_token, `/organisations/vat/${VRN}/obligations?status=O`)).status).toBe(200);
    expect((await api(sim, access_token, `/organisations/vat/${VRN}/obligations?status=O`, { headers: batchHeaders() })).status).toBe(200);
    const records = sim.stats().fraudHeaders;
    const vatRecords = records.filter((r) => r.path.endsWith('/obligations'));
    expect(vatRecords).toEqual([
      { path: `/organisations/vat/${VRN}/obligations`, code: 'INVALID_HEADERS', missing: ['Gov-Client-Connection-Method'] },
      { path: `/organisations/vat/${VRN}/obligations`, code: 'VALID_HEADERS', missing: [] },
    ]);
    expect(records[1]!.missing).toEqual(['Gov-Client-MAC-Addresses', 'Gov-Vendor-Version']);
    expect(sim.stats().byPath['/test/fraud-prevention-headers/validate']).toBe(3);
  });
});
