import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenBankingSimulator, type OpenBankingSimulator } from '@hub/simulators';
import { HistoryDocument, InitiatePaymentDocument, OutgoingPaymentDocument, OutgoingPaymentsDocument, type InitiatePaymentInput } from '../generated/graphql.ts';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

const REDIRECT = 'http://localhost:4000/api/integration/banking/oauth/callback';
const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;

let hub: TestHub;
let bank: OpenBankingSimulator;
beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
  bank = await startOpenBankingSimulator({
    clientId: 'rose-house-tpp',
    clientSecret: 'tpp-secret',
    issuer: 'rose-house-software-statement',
    signingKeys: { 'rose-1': await exportSPKI(publicKey) },
    redirectUris: [REDIRECT],
    settleAfterMs: 300,
    balance: { amount: '5000.00', currency: 'GBP' },
  });
  hub = await startTestHub({
    OPEN_BANKING_BASE_URL: bank.url,
    OPEN_BANKING_CLIENT_ID: 'rose-house-tpp',
    OPEN_BANKING_CLIENT_SECRET: 'tpp-secret',
    OPEN_BANKING_REDIRECT_URI: REDIRECT,
    OPEN_BANKING_SIGNING_KEY: await exportPKCS8(privateKey),
    OPEN_BANKING_SIGNING_KID: 'rose-1',
    OPEN_BANKING_ISSUER: 'rose-house-software-statement',
  });
});
afterAll(async () => {
  await hub?.close();
  await bank?.close();
});

const pay = (over: Partial<InitiatePaymentInput> = {}): InitiatePaymentInput => ({
  reference: `RH-${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
  amount: '1250.40',
  creditorName: 'Laundry Ltd',
  sortCode: '20-00-00',
  accountNumber: '55779911',
  description: 'November laundry',
  ...over,
});

/** The payer's browser: to the bank, which sends it back to the hub's callback with its decision. */
async function approve(authorizeUrl: string, decision?: 'reject') {
  const url = new URL(authorizeUrl);
  if (decision) url.searchParams.set('decision', decision);
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  const callback = `/api/integration/banking/oauth/callback?${back.searchParams}`;
  return { ...(await hub.rest('GET', callback)), callback };
}

describe('payments through the bank (Open Banking PISP)', () => {
  it('creates the consent, sends the payer to the bank, submits on their return and follows the payment to settlement', async () => {
    const { initiatePayment } = await hub.ok(InitiatePaymentDocument, { input: pay() });
    expect(initiatePayment.payment).toMatchObject({ status: 'AWAITING_AUTHORISATION', amount: { amount: '1250.40', currency: 'GBP' }, creditorSortCode: '200000', bankPaymentId: null });
    expect(initiatePayment.payment.consentId).toBeTruthy();
    expect(initiatePayment.authorizeUrl.startsWith(`${bank.url}/authorize?`)).toBe(true);
    expect(bank.stats().consents).toBeGreaterThanOrEqual(1);

    const back = await approve(initiatePayment.authorizeUrl);
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ id: initiatePayment.payment.id, status: 'IN_SETTLEMENT' });
    expect(back.body.bankPaymentId).toBeTruthy();

    // The same return replayed (a double click, a refreshed page) pays nothing twice.
    const replay = await hub.rest('GET', back.callback);
    expect(replay.status).toBe(400);
    expect(replay.body.error.message).toMatch(/unknown or used state/);
    expect(bank.stats().payments).toBe(1);

    const settled = await eventually(async () => {
      const { outgoingPayment } = await hub.ok(OutgoingPaymentDocument, { id: initiatePayment.payment.id });
      return outgoingPayment?.status === 'COMPLETED' ? outgoingPayment : undefined;
    }, 10_000, 200);
    expect(settled.bankPaymentId).toBe(back.body.bankPaymentId);
    expect(bank.stats().signaturesRejected).toBe(0);

    const events = await eventually(async () => {
      const { eventHistory } = await hub.ok(HistoryDocument, { filter: { types: ['bank.payment_*'], correlationId: settled.reference }, first: 20 });
      return eventHistory.events.length >= 3 ? eventHistory.events : undefined;
    });
    expect(events.map((e) => e.type)).toEqual(['bank.payment_initiated', 'bank.payment_submitted', 'bank.payment_completed']);
  });

  it('follows a payment to settlement on its own, whether or not anyone reads it', async () => {
    const { initiatePayment } = await hub.ok(InitiatePaymentDocument, { input: pay({ amount: '10.00' }) });
    expect((await approve(initiatePayment.authorizeUrl)).body.status).toBe('IN_SETTLEMENT');
    // The list is what is stored (it asks the bank nothing): COMPLETED there means the hub's job asked the bank.
    await eventually(async () => (await hub.ok(OutgoingPaymentsDocument, { status: 'COMPLETED' })).outgoingPayments.some((p) => p.id === initiatePayment.payment.id), 30_000, 500);
  });

  it('records a payer who declines at the bank, and a payment the bank rejects', async () => {
    const declined = (await hub.ok(InitiatePaymentDocument, { input: pay() })).initiatePayment;
    const back = await approve(declined.authorizeUrl, 'reject');
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ status: 'REJECTED', bankPaymentId: null });
    expect(back.body.error).toMatch(/access_denied/);

    // More than the account holds: the bank takes the payment and rejects it.
    const big = (await hub.ok(InitiatePaymentDocument, { input: pay({ amount: '9000.00' }) })).initiatePayment;
    expect((await approve(big.authorizeUrl)).body).toMatchObject({ status: 'REJECTED' });
    expect((await hub.ok(OutgoingPaymentsDocument, { status: 'REJECTED' })).outgoingPayments.map((p) => p.id).sort()).toEqual([declined.payment.id, big.payment.id].sort());
  });

  it('checks a payment before asking the bank, and refuses a state it did not issue', async () => {
    const consents = bank.stats().consents;
    for (const over of [{ sortCode: '2000' }, { accountNumber: '1234' }, { amount: '0' }, { amount: '12.345' }, { currency: 'EUR' }, { reference: 'a reference far too long for FPS' }, { creditorName: '' }]) {
      const r = await hub.gql(InitiatePaymentDocument, { input: pay(over) });
      expect(code(r), JSON.stringify(over)).toBe('BAD_USER_INPUT');
    }
    expect(bank.stats().consents).toBe(consents);
    const forged = await hub.rest('GET', '/api/integration/banking/oauth/callback?state=forged&code=abc');
    expect(forged.status).toBe(400);
    expect(forged.body.error.message).toMatch(/unknown or used state/);
  });
});

describe('the embedded default', () => {
  it('with no bank configured pays into the in-process Open Banking simulator', async () => {
    const demo = await startTestHub();
    try {
      const { initiatePayment } = await demo.ok(InitiatePaymentDocument, { input: pay() });
      expect(initiatePayment.payment.status).toBe('AWAITING_AUTHORISATION');
      const res = await fetch(initiatePayment.authorizeUrl, { redirect: 'manual' });
      const back = new URL(res.headers.get('location')!);
      const done = await demo.rest('GET', `/api/integration/banking/oauth/callback?${back.searchParams}`);
      expect(done.body.status).toBe('IN_SETTLEMENT');
    } finally {
      await demo.close();
    }
  });
});
