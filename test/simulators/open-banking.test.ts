import { CompactSign, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOpenBankingSimulator, type OpenBankingSimulator, type OpenBankingSimulatorOptions } from '../../simulators/src/index.ts';

const CLIENT_ID = 'tpp-client-id';
const CLIENT_SECRET = 'tpp-client-secret';
const REDIRECT = 'http://127.0.0.1:9999/callback';
const KID = 'tpp-signing-1';
const API = '/open-banking/v3.1/pisp';

type Json = Record<string, any>;

let privateKey: CryptoKey;
let publicPem: string;
let otherKey: CryptoKey;
beforeAll(async () => {
  const pair = await generateKeyPair('PS256', { extractable: true });
  privateKey = pair.privateKey;
  publicPem = await exportSPKI(pair.publicKey);
  otherKey = (await generateKeyPair('PS256')).privateKey;
});

const running: OpenBankingSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(o: Partial<OpenBankingSimulatorOptions> = {}): Promise<OpenBankingSimulator> {
  const sim = await startOpenBankingSimulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, signingKeys: { [KID]: publicPem }, settleAfterMs: 50, ...o });
  running.push(sim);
  return sim;
}

/** Detached OB JWS (v3.1.4+ profile) over the exact body bytes. */
async function sign(body: string, o: { kid?: string; key?: CryptoKey; iss?: string } = {}): Promise<string> {
  const jws = await new CompactSign(new TextEncoder().encode(body))
    .setProtectedHeader({
      alg: 'PS256',
      kid: o.kid ?? KID,
      typ: 'JOSE',
      cty: 'application/json',
      'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000),
      'http://openbanking.org.uk/iss': o.iss ?? CLIENT_ID,
      'http://openbanking.org.uk/tan': 'openbanking.org.uk',
      crit: ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'],
    })
    .sign(o.key ?? privateKey, { crit: { 'http://openbanking.org.uk/iat': true, 'http://openbanking.org.uk/iss': true, 'http://openbanking.org.uk/tan': true } });
  const [h, , s] = jws.split('.');
  return `${h}..${s}`;
}

const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});

async function ccToken(sim: OpenBankingSimulator): Promise<string> {
  const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
  const res = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', scope: 'payments' }, { Authorization: `Basic ${basic}` }));
  expect(res.status).toBe(200);
  return ((await res.json()) as Json).access_token;
}

let keyCounter = 0;
async function post(
  sim: OpenBankingSimulator,
  token: string,
  path: string,
  body: unknown,
  o: { idempotencyKey?: string | null; signature?: string | null; interactionId?: string } = {},
): Promise<Response> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' };
  if (o.idempotencyKey !== null) headers['x-idempotency-key'] = o.idempotencyKey ?? `idem-${++keyCounter}-${Date.now()}`;
  if (o.signature !== null) headers['x-jws-signature'] = o.signature ?? (await sign(text));
  if (o.interactionId) headers['x-fapi-interaction-id'] = o.interactionId;
  return fetch(`${sim.url}${API}${path}`, { method: 'POST', headers, body: text });
}
const get = (sim: OpenBankingSimulator, token: string, path: string): Promise<Response> =>
  fetch(`${sim.url}${API}${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });

const initiation = (amount = '10.50'): Json => ({
  InstructionIdentification: 'ACME412',
  EndToEndIdentification: 'FRESCO.21302.GFX.20',
  LocalInstrument: 'UK.OBIE.FPS',
  InstructedAmount: { Amount: amount, Currency: 'GBP' },
  CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '08080021325698', Name: 'ACME Inc' },
  RemittanceInformation: { Reference: 'FRESCO-101', Unstructured: 'Internal ops code 5120101' },
});
const consentBody = (amount?: string): Json => ({ Data: { Initiation: initiation(amount) }, Risk: { PaymentContextCode: 'EcommerceGoods' } });

async function createConsent(sim: OpenBankingSimulator, token: string, amount?: string): Promise<Json> {
  const res = await post(sim, token, '/domestic-payment-consents', consentBody(amount));
  expect(res.status).toBe(201);
  return (await res.json()) as Json;
}

async function authorize(sim: OpenBankingSimulator, consentId: string, extra: Record<string, string> = {}): Promise<URL> {
  const url = new URL(sim.authorizeUrl);
  url.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, scope: 'openid payments', state: 'st-1', consent_id: consentId, ...extra }).toString();
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe('st-1');
  return location;
}

async function psuToken(sim: OpenBankingSimulator, consentId: string): Promise<string> {
  const code = (await authorize(sim, consentId)).searchParams.get('code')!;
  const res = await fetch(sim.tokenUrl, form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
  expect(res.status).toBe(200);
  return ((await res.json()) as Json).access_token;
}

const paymentBody = (consentId: string, amount?: string): Json => ({ Data: { ConsentId: consentId, Initiation: initiation(amount) }, Risk: { PaymentContextCode: 'EcommerceGoods' } });

describe('Open Banking PISP simulator: OAuth', () => {
  it('issues client-credentials tokens (Basic or form auth) and refuses bad clients RFC 6749 style', async () => {
    const sim = await start();
    const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
    const res = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', scope: 'payments' }, { Authorization: `Basic ${basic}` }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-fapi-interaction-id')).toBeTruthy();
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'payments' });
    expect(typeof body.access_token).toBe('string');

    const viaForm = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', scope: 'payments', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect(viaForm.status).toBe(200);
    const bad = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', scope: 'payments', client_id: CLIENT_ID, client_secret: 'nope' }));
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as Json).error).toBe('invalid_client');
    const scope = await fetch(sim.tokenUrl, form({ grant_type: 'client_credentials', scope: 'accounts', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect(((await scope.json()) as Json).error).toBe('invalid_scope');
  });

  it('answers 400 JSON (never a redirect) for a bad client or redirect_uri', async () => {
    const sim = await start();
    const url = new URL(sim.authorizeUrl);
    url.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: 'https://evil.example/cb', scope: 'openid payments', consent_id: 'x' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('missing/invalid bearer is 401; the wrong token kind is 403', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const none = await fetch(`${sim.url}${API}/domestic-payment-consents/x`);
    expect(none.status).toBe(401);
    expect(none.headers.get('x-fapi-interaction-id')).toBeTruthy();
    expect((await get(sim, 'bogus', '/domestic-payment-consents/x')).status).toBe(401);
    const consent = await createConsent(sim, cc);
    const wrong = await post(sim, cc, '/domestic-payments', paymentBody(consent.Data.ConsentId));
    expect(wrong.status).toBe(403);
    const psu = await psuToken(sim, consent.Data.ConsentId);
    expect((await get(sim, psu, `/domestic-payment-consents/${consent.Data.ConsentId}`)).status).toBe(403);
  });
});

describe('Open Banking PISP simulator: domestic payments', () => {
  it('runs the whole flow: consent, authorise, code exchange, payment, Consumed, settlement', async () => {
    const sim = await start({ settleAfterMs: 80 });
    const cc = await ccToken(sim);

    const res = await post(sim, cc, '/domestic-payment-consents', consentBody(), { interactionId: '93bac548-d2de-4546-b106-880a5018460d' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-fapi-interaction-id')).toBe('93bac548-d2de-4546-b106-880a5018460d');
    const consent = (await res.json()) as Json;
    const consentId = consent.Data.ConsentId as string;
    expect(consent.Data).toMatchObject({ Status: 'AwaitingAuthorisation', Initiation: initiation() });
    expect(consent.Data.CreationDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(consent.Data.StatusUpdateDateTime).toBeTruthy();
    expect(consent.Risk).toEqual({ PaymentContextCode: 'EcommerceGoods' });
    expect(consent.Links.Self).toBe(`${sim.url}${API}/domestic-payment-consents/${consentId}`);
    expect(consent.Meta).toEqual({});

    const token = await psuToken(sim, consentId);
    const authorised = (await (await get(sim, cc, `/domestic-payment-consents/${consentId}`)).json()) as Json;
    expect(authorised.Data.Status).toBe('Authorised');

    const payRes = await post(sim, token, '/domestic-payments', paymentBody(consentId));
    expect(payRes.status).toBe(201);
    const payment = (await payRes.json()) as Json;
    const paymentId = payment.Data.DomesticPaymentId as string;
    expect(payment.Data).toMatchObject({ ConsentId: consentId, Status: 'AcceptedSettlementInProcess', Initiation: initiation() });
    expect(payment.Links.Self).toBe(`${sim.url}${API}/domestic-payments/${paymentId}`);

    const consumed = (await (await get(sim, cc, `/domestic-payment-consents/${consentId}`)).json()) as Json;
    expect(consumed.Data.Status).toBe('Consumed');

    // One payment per consent.
    const again = await post(sim, token, '/domestic-payments', paymentBody(consentId));
    expect(again.status).toBe(400);
    expect(((await again.json()) as Json).Errors[0].ErrorCode).toBe('UK.OBIE.Resource.InvalidConsentStatus');

    await new Promise((r) => setTimeout(r, 120));
    const settled = (await (await get(sim, cc, `/domestic-payments/${paymentId}`)).json()) as Json;
    expect(settled.Data.Status).toBe('AcceptedSettlementCompleted');
    expect(sim.stats()).toMatchObject({ consents: 1, payments: 1, signaturesRejected: 0 });
  });

  it('replays the original response for the same idempotency key and body, and refuses a different body', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const first = await post(sim, cc, '/domestic-payment-consents', consentBody(), { idempotencyKey: 'key-1' });
    const second = await post(sim, cc, '/domestic-payment-consents', consentBody(), { idempotencyKey: 'key-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(((await second.json()) as Json).Data.ConsentId).toBe(((await first.json()) as Json).Data.ConsentId);
    expect(sim.stats().consents).toBe(1);

    const different = await post(sim, cc, '/domestic-payment-consents', consentBody('99.00'), { idempotencyKey: 'key-1' });
    expect(different.status).toBe(400);
    expect(((await different.json()) as Json).Errors[0].ErrorCode).toBe('UK.OBIE.Header.Invalid');
    const missing = await post(sim, cc, '/domestic-payment-consents', consentBody(), { idempotencyKey: null });
    expect(((await missing.json()) as Json).Errors[0].ErrorCode).toBe('UK.OBIE.Header.Missing');
    const tooLong = await post(sim, cc, '/domestic-payment-consents', consentBody(), { idempotencyKey: 'k'.repeat(41) });
    expect(((await tooLong.json()) as Json).Errors[0].ErrorCode).toBe('UK.OBIE.Header.Invalid');
  });

  it('refuses a payment whose Initiation differs from the consent', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const consentId = (await createConsent(sim, cc)).Data.ConsentId as string;
    const token = await psuToken(sim, consentId);
    const res = await post(sim, token, '/domestic-payments', paymentBody(consentId, '10.51'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.Errors[0]).toMatchObject({ ErrorCode: 'UK.OBIE.Resource.ConsentMismatch', Path: 'Data.Initiation' });
    const consent = (await (await get(sim, cc, `/domestic-payment-consents/${consentId}`)).json()) as Json;
    expect(consent.Data.Status).toBe('Authorised');
  });

  it('refuses and counts missing, invalid and wrong-kid signatures', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const text = JSON.stringify(consentBody());
    const cases: Array<[string | null, string]> = [
      [null, 'UK.OBIE.Signature.Missing'],
      [await sign(JSON.stringify(consentBody('11.00'))), 'UK.OBIE.Signature.Invalid'], // signed a different body
      [await sign(text, { key: otherKey }), 'UK.OBIE.Signature.Invalid'], // wrong key
      [await sign(text, { kid: 'unknown-kid' }), 'UK.OBIE.Signature.Invalid'],
      [await sign(text, { iss: 'someone-else' }), 'UK.OBIE.Signature.InvalidClaim'],
      ['not-a-jws', 'UK.OBIE.Signature.Malformed'],
    ];
    for (const [signature, code] of cases) {
      const res = await post(sim, cc, '/domestic-payment-consents', consentBody(), { signature });
      expect(res.status).toBe(400);
      const body = (await res.json()) as Json;
      expect(body.Code).toBe('400 BadRequest');
      expect(body.Errors[0].ErrorCode).toBe(code);
    }
    expect(sim.stats()).toMatchObject({ consents: 0, signaturesRejected: cases.length });
  });

  it('lists every invalid field with its path', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const body = consentBody();
    body.Data.Initiation.InstructedAmount.Amount = '10.123456';
    body.Data.Initiation.InstructionIdentification = 'X'.repeat(36);
    body.Data.Initiation.CreditorAccount.Identification = '0808002132';
    body.Data.Initiation.RemittanceInformation.Reference = 'R'.repeat(36);
    delete body.Data.Initiation.EndToEndIdentification;
    const res = await post(sim, cc, '/domestic-payment-consents', body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as Json;
    expect(err.Code).toBe('400 BadRequest');
    expect(err.Id).toBeTruthy();
    expect(err.Message).toBeTruthy();
    const paths = (err.Errors as Json[]).map((e) => e.Path).sort();
    expect(paths).toEqual(
      [
        'Data.Initiation.CreditorAccount.Identification',
        'Data.Initiation.EndToEndIdentification',
        'Data.Initiation.InstructedAmount.Amount',
        'Data.Initiation.InstructionIdentification',
        'Data.Initiation.RemittanceInformation.Reference',
      ].sort(),
    );
    expect((err.Errors as Json[]).find((e) => e.Path === 'Data.Initiation.EndToEndIdentification')!.ErrorCode).toBe('UK.OBIE.Field.Missing');
    expect((err.Errors as Json[]).find((e) => e.Path === 'Data.Initiation.InstructedAmount.Amount')!.ErrorCode).toBe('UK.OBIE.Field.Invalid');
  });

  it('rejects the consent on decision=reject', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const consentId = (await createConsent(sim, cc)).Data.ConsentId as string;
    const location = await authorize(sim, consentId, { decision: 'reject' });
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('code')).toBeNull();
    const consent = (await (await get(sim, cc, `/domestic-payment-consents/${consentId}`)).json()) as Json;
    expect(consent.Data.Status).toBe('Rejected');
  });

  it('rejects a payment above the balance', async () => {
    const sim = await start({ balance: { amount: '100.00', currency: 'GBP' } });
    const cc = await ccToken(sim);
    const consentId = (await createConsent(sim, cc, '100.01')).Data.ConsentId as string;
    const token = await psuToken(sim, consentId);
    const res = await post(sim, token, '/domestic-payments', paymentBody(consentId, '100.01'));
    expect(res.status).toBe(201);
    const payment = (await res.json()) as Json;
    expect(payment.Data.Status).toBe('Rejected');
    await new Promise((r) => setTimeout(r, 80));
    const later = (await (await get(sim, cc, `/domestic-payments/${payment.Data.DomesticPaymentId}`)).json()) as Json;
    expect(later.Data.Status).toBe('Rejected');
  });

  it('authorization codes work once', async () => {
    const sim = await start();
    const cc = await ccToken(sim);
    const consentId = (await createConsent(sim, cc)).Data.ConsentId as string;
    const code = (await authorize(sim, consentId)).searchParams.get('code')!;
    const exchange = (): Promise<Response> =>
      fetch(sim.tokenUrl, form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect((await exchange()).status).toBe(200);
    const reused = await exchange();
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as Json).error).toBe('invalid_grant');
  });
});
