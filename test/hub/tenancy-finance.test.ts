import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { sql } from 'drizzle-orm';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHmrcSimulator, startOpenBankingSimulator, type HmrcSimulator, type OpenBankingSimulator } from '@hub/simulators';
import {
  BankStatementDocument,
  BankStatementsDocument,
  CompleteHmrcAuthorisationDocument,
  CompletePaymentAuthorisationDocument,
  ExpectedPaymentsDocument,
  ExpectPaymentDocument,
  HistoryDocument,
  HmrcConnectionDocument,
  ImportBankStatementDocument,
  InitiatePaymentDocument,
  OutgoingPaymentDocument,
  OutgoingPaymentsDocument,
  StartHmrcAuthorisationDocument,
  SubmitVatReturnDocument,
  UnmatchedBankCreditsDocument,
  VatObligationsDocument,
  VatSubmissionsDocument,
  type InitiatePaymentInput,
  type VatReturnInput,
} from '../generated/graphql.ts';
import { apiKeys, eventually, startTestHub, testClient, type TestClient, type TestHub } from '../support/hub.ts';

/**
 * Two care groups on one hub, each with a finance app: neither sees, changes or learns of the other's HMRC grant, VAT
 * returns, bank statements, expected payments or outgoing payments, and neither can complete the other's sign-in.
 */
const a = testClient('finance-a', 'org-a', 'read+write+finance');
const b = testClient('finance-b', 'org-b', 'read+write+finance');
const VRN_A = '123456789';
const VRN_B = '987654321';
const HMRC_CLIENT = { id: 'care-group-app', secret: 'care-group-secret' };
const HMRC_REDIRECT = 'http://localhost:4000/api/integration/hmrc/oauth/callback';
const BANK_REDIRECT = 'http://localhost:4000/api/integration/banking/oauth/callback';

let hub: TestHub;
let hmrc: HmrcSimulator;
let bank: OpenBankingSimulator;
beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
  hmrc = await startHmrcSimulator({ clientId: HMRC_CLIENT.id, clientSecret: HMRC_CLIENT.secret, vrns: [VRN_A, VRN_B], redirectUris: [HMRC_REDIRECT], rateLimitPerSecond: 50 });
  bank = await startOpenBankingSimulator({
    clientId: 'rose-house-tpp',
    clientSecret: 'tpp-secret',
    issuer: 'rose-house-software-statement',
    signingKeys: { 'rose-1': await exportSPKI(publicKey) },
    redirectUris: [BANK_REDIRECT],
    settleAfterMs: 300,
    balance: { amount: '5000.00', currency: 'GBP' },
  });
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(a, b),
    HMRC_ENVIRONMENT: 'sandbox',
    HMRC_BASE_URL: hmrc.url,
    HMRC_CLIENT_ID: HMRC_CLIENT.id,
    HMRC_CLIENT_SECRET: HMRC_CLIENT.secret,
    HMRC_REDIRECT_URI: HMRC_REDIRECT,
    OPEN_BANKING_BASE_URL: bank.url,
    OPEN_BANKING_CLIENT_ID: 'rose-house-tpp',
    OPEN_BANKING_CLIENT_SECRET: 'tpp-secret',
    OPEN_BANKING_REDIRECT_URI: BANK_REDIRECT,
    OPEN_BANKING_SIGNING_KEY: await exportPKCS8(privateKey),
    OPEN_BANKING_SIGNING_KID: 'rose-1',
    OPEN_BANKING_ISSUER: 'rose-house-software-statement',
  });
});
afterAll(async () => {
  await hub?.close();
  await hmrc?.close();
  await bank?.close();
});

const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;
async function okAs<T, V>(client: TestClient, doc: TypedDocumentNode<T, V>, variables?: V): Promise<T> {
  const r = await hub.gqlAs(client, doc, variables);
  if (r.errors?.length) throw new Error(`GraphQL errors as ${client.client}: ${JSON.stringify(r.errors)}`);
  return r.data!;
}

/** The events the hub logged (their owner and payload), read from the log itself. */
async function loggedEvents(typePrefix: string): Promise<Array<{ organisation_id: string; type: string; payload: Record<string, unknown> }>> {
  const r = (await hub.hub.runtime!.database.db.execute(sql`select organisation_id, type, payload from events.events where type like ${`${typePrefix}%`} order by sequence`)) as unknown as {
    rows?: Array<{ organisation_id: string; type: string; payload: Record<string, unknown> }>;
  } & Array<{ organisation_id: string; type: string; payload: Record<string, unknown> }>;
  return r.rows ?? r;
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

/** The operator's browser at HMRC: the page grants at once and sends it back with the code and the state. */
async function hmrcSignIn(client: TestClient): Promise<URLSearchParams> {
  const { startHmrcAuthorisation: start } = await okAs(client, StartHmrcAuthorisationDocument);
  const grant = await fetch(start.authorizeUrl, { redirect: 'manual' });
  expect(grant.status).toBe(302);
  return new URL(grant.headers.get('location')!).searchParams;
}

describe('HMRC: one grant per organisation', () => {
  it('completes a sign-in for the organisation that started it only; B cannot complete A\'s state', async () => {
    const back = await hmrcSignIn(a);
    // B, with the code and state in hand, is told the state is unknown; the state is not used up by trying.
    const stolen = await hub.gqlAs(b, CompleteHmrcAuthorisationDocument, { code: back.get('code')!, state: back.get('state')! });
    expect(code(stolen)).toBe('BAD_USER_INPUT');
    expect(stolen.errors![0]!.message).toMatch(/unknown or expired state/);
    expect((await okAs(b, HmrcConnectionDocument)).hmrcConnection.authorised).toBe(false);
    expect((await okAs(a, HmrcConnectionDocument)).hmrcConnection.authorised).toBe(false);

    // The browser brings no hub credentials (nor an organisation the hub would believe): the state says whose it is.
    const callback = await hub.rest('GET', `/api/integration/hmrc/oauth/callback?${back}&organisation=org-b`);
    expect(callback.status).toBe(200);
    expect(callback.body).toMatchObject({ authorised: true, grantedBy: 'finance-a' });
    expect((await okAs(a, HmrcConnectionDocument)).hmrcConnection).toMatchObject({ authorised: true, grantedBy: 'finance-a' });
    expect((await okAs(b, HmrcConnectionDocument)).hmrcConnection.authorised).toBe(false);
    // A's grant is not B's: B still has to sign in.
    expect(code(await hub.gqlAs(b, VatObligationsDocument, { vrn: VRN_B, ...yearRange() }))).toBe('UNAUTHENTICATED');
    // Used once: the replay is refused.
    expect((await hub.rest('GET', `/api/integration/hmrc/oauth/callback?${back}`)).status).toBe(400);
  });

  it('keeps each organisation\'s VAT returns to itself', async () => {
    const open = (await okAs(a, VatObligationsDocument, { vrn: VRN_A, ...yearRange(), status: 'OPEN' })).vatObligations![0]!;
    const { submitVatReturn: filed } = await okAs(a, SubmitVatReturnDocument, { vrn: VRN_A, input: goodReturn(open.periodKey) });
    expect(filed).toMatchObject({ status: 'ACCEPTED', duplicate: false });

    expect((await hub.rest('GET', `/api/integration/hmrc/oauth/callback?${await hmrcSignIn(b)}`)).body).toMatchObject({ authorised: true, grantedBy: 'finance-b' });
    const openB = (await okAs(b, VatObligationsDocument, { vrn: VRN_B, ...yearRange(), status: 'OPEN' })).vatObligations![0]!;
    await okAs(b, SubmitVatReturnDocument, { vrn: VRN_B, input: goodReturn(openB.periodKey) });

    expect((await okAs(b, VatSubmissionsDocument, { vrn: VRN_A })).vatSubmissions).toEqual([]);
    expect((await okAs(a, VatSubmissionsDocument, { vrn: VRN_B })).vatSubmissions).toEqual([]);
    expect((await okAs(a, VatSubmissionsDocument, { vrn: VRN_A })).vatSubmissions.map((s) => [s.periodKey, s.status, s.submittedBy])).toEqual([[open.periodKey, 'ACCEPTED', 'finance-a']]);
    expect((await okAs(b, VatSubmissionsDocument, { vrn: VRN_B })).vatSubmissions.map((s) => s.submittedBy)).toEqual(['finance-b']);

    // When HMRC's access tokens expire, each organisation refreshes its own grant (sealed for it) once.
    const issued = hmrc.stats().tokensIssued;
    hmrc.expireTokens();
    for (const [c, vrn] of [[a, VRN_A], [b, VRN_B]] as const) expect((await okAs(c, VatObligationsDocument, { vrn, ...yearRange() })).vatObligations!.length).toBeGreaterThan(0);
    expect(hmrc.stats().tokensIssued).toBe(issued + 2);

    // The events are their organisation's.
    const logged = await eventually(async () => {
      const rows = await loggedEvents('hmrc.');
      return rows.filter((e) => e.type === 'hmrc.vat.return_submitted').length === 2 ? rows : undefined;
    });
    expect(logged.filter((e) => e.type === 'hmrc.vat.return_submitted').map((e) => [e.organisation_id, e.payload.vrn])).toEqual([
      ['org-a', VRN_A],
      ['org-b', VRN_B],
    ]);
    expect(logged.filter((e) => e.type === 'hmrc.authorised').map((e) => [e.organisation_id, e.payload.grantedBy])).toEqual([
      ['org-a', 'finance-a'],
      ['org-b', 'finance-b'],
    ]);
  });
});

/** One statement of an account: a booked credit for each reference given. */
function statement(id: string, credits: Array<[amount: string, reference: string]>) {
  const entries = credits
    .map(
      ([amount, ref]) => `
      <Ntry>
        <Amt Ccy="GBP">${amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-11-02</Dt></BookgDt>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>${ref}</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>Mrs A Smith</Nm></Dbtr><DbtrAcct><Id><IBAN>GB33BUKB20201555555555</IBAN></Id></DbtrAcct></RltdPties>
          <RmtInf><Ustrd>Fees for room 12 ${ref}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-${id}</MsgId><CreDtTm>2026-11-03T06:00:00Z</CreDtTm></GrpHdr>
    <Stmt>
      <Id>${id}</Id>
      <Acct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id><Ccy>GBP</Ccy></Acct>
      ${entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>`;
}

describe('bank statements and expected payments', () => {
  it('allows one reference in both organisations, and reconciles a statement only with the importer\'s payments', async () => {
    const expect1 = { reference: 'INV-2001', amount: '3200.00', currency: 'GBP', payer: 'Mrs A Smith' };
    const { expectPayment: a1 } = await okAs(a, ExpectPaymentDocument, { input: expect1 });
    const { expectPayment: a2 } = await okAs(a, ExpectPaymentDocument, { input: { reference: 'INV-2002', amount: '100.00', currency: 'GBP' } });
    const { expectPayment: b1 } = await okAs(b, ExpectPaymentDocument, { input: expect1 });
    expect(b1.id).not.toBe(a1.id);
    // Still once per organisation.
    expect(code(await hub.gqlAs(b, ExpectPaymentDocument, { input: expect1 }))).toBe('CONFLICT');

    // B's bank statement quotes both references: it pays B's INV-2001; A's payments are not B's to reconcile.
    const xml = statement('STMT-2026-11-02', [
      ['3200.00', 'INV-2001'],
      ['100.00', 'INV-2002'],
    ]);
    const [imported] = (await okAs(b, ImportBankStatementDocument, { xml })).importBankStatement;
    expect(imported).toMatchObject({ duplicate: false, matchedPayments: 1 });
    expect((await okAs(b, ExpectedPaymentsDocument, {})).expectedPayments.map((p) => [p.id, p.status])).toEqual([[b1.id, 'PAID']]);
    expect((await okAs(a, ExpectedPaymentsDocument, {})).expectedPayments.map((p) => [p.id, p.status, p.received.amount, p.entries.length])).toEqual([
      [a1.id, 'EXPECTED', '0.00', 0],
      [a2.id, 'EXPECTED', '0.00', 0],
    ]);
    expect((await okAs(b, UnmatchedBankCreditsDocument, {})).unmatchedBankCredits.map((e) => e.reference)).toEqual(['INV-2002']);

    // A sees none of B's statement: not listed, not found by id, no unmatched credit of it.
    expect((await okAs(a, BankStatementsDocument, {})).bankStatements).toEqual([]);
    expect((await okAs(a, BankStatementDocument, { id: imported!.id })).bankStatement).toBeNull();
    expect((await okAs(a, UnmatchedBankCreditsDocument, {})).unmatchedBankCredits).toEqual([]);

    // The same statement (account and statement id) imported by A is A's first import of it, and pays A's payments.
    const [mine] = (await okAs(a, ImportBankStatementDocument, { xml })).importBankStatement;
    expect(mine).toMatchObject({ duplicate: false, matchedPayments: 2 });
    expect(mine!.id).not.toBe(imported!.id);
    expect((await okAs(a, ExpectedPaymentsDocument, {})).expectedPayments.map((p) => p.status)).toEqual(['PAID', 'PAID']);
    expect((await okAs(b, BankStatementsDocument, {})).bankStatements.map((s) => s.id)).toEqual([imported!.id]);
    expect((await okAs(b, BankStatementDocument, { id: mine!.id })).bankStatement).toBeNull();
    expect((await okAs(b, ExpectedPaymentsDocument, {})).expectedPayments.map((p) => p.id)).toEqual([b1.id]);

    // The events are the importer's, and name no payer: amounts, references and ids only.
    const logged = await eventually(async () => {
      const rows = await loggedEvents('bank.');
      return rows.filter((e) => e.type === 'bank.payment_received').length === 3 && rows.filter((e) => e.type === 'bank.statement_imported').length === 2 ? rows : undefined;
    });
    expect(logged.filter((e) => e.type === 'bank.payment_received').map((e) => [e.organisation_id, e.payload.expectedPaymentId])).toEqual([
      ['org-b', b1.id],
      ['org-a', a1.id],
      ['org-a', a2.id],
    ]);
    expect(JSON.stringify(logged)).not.toMatch(/Smith|GB33BUKB|room 12/);
  });
});

const pay = (over: Partial<InitiatePaymentInput> = {}): InitiatePaymentInput => ({
  reference: 'RH-LAUNDRY-11',
  amount: '125.40',
  creditorName: 'Laundry Ltd',
  sortCode: '20-00-00',
  accountNumber: '55779911',
  description: 'November laundry',
  ...over,
});

describe('outgoing payments', () => {
  it('keeps each organisation\'s payments to itself; B cannot complete A\'s authorisation, the bank\'s callback completes it for A', async () => {
    const { initiatePayment: mine } = await okAs(a, InitiatePaymentDocument, { input: pay() });
    const { initiatePayment: theirs } = await okAs(b, InitiatePaymentDocument, { input: pay() });
    expect(theirs.payment.reference).toBe(mine.payment.reference);

    expect((await okAs(b, OutgoingPaymentDocument, { id: mine.payment.id })).outgoingPayment).toBeNull();
    expect((await okAs(b, OutgoingPaymentsDocument, {})).outgoingPayments.map((p) => p.id)).toEqual([theirs.payment.id]);
    expect((await okAs(a, OutgoingPaymentsDocument, {})).outgoingPayments.map((p) => p.id)).toEqual([mine.payment.id]);

    // The payer approves A's payment at the bank; B gets hold of the return address and tries it first.
    const res = await fetch(mine.authorizeUrl, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!).searchParams;
    for (const attempt of [{ state: back.get('state')!, code: back.get('code') }, { state: back.get('state')!, error: 'access_denied' }]) {
      const stolen = await hub.gqlAs(b, CompletePaymentAuthorisationDocument, attempt);
      expect(code(stolen)).toBe('BAD_USER_INPUT');
      expect(stolen.errors![0]!.message).toMatch(/unknown or used state/);
    }
    expect((await okAs(a, OutgoingPaymentDocument, { id: mine.payment.id })).outgoingPayment).toMatchObject({ status: 'AWAITING_AUTHORISATION' });
    expect(bank.stats().payments).toBe(0);

    const callback = await hub.rest('GET', `/api/integration/banking/oauth/callback?${back}&organisation=org-b`);
    expect(callback.status).toBe(200);
    expect(callback.body).toMatchObject({ id: mine.payment.id, status: 'IN_SETTLEMENT', createdBy: 'finance-a' });

    // The settlement follow-up job acts for A: the stored status (the list asks the bank nothing) reaches COMPLETED.
    await eventually(async () => (await okAs(a, OutgoingPaymentsDocument, { status: 'COMPLETED' })).outgoingPayments.some((p) => p.id === mine.payment.id), 30_000, 500);
    expect((await okAs(b, OutgoingPaymentDocument, { id: theirs.payment.id })).outgoingPayment).toMatchObject({ status: 'AWAITING_AUTHORISATION' });
    expect((await okAs(b, OutgoingPaymentsDocument, { status: 'COMPLETED' })).outgoingPayments).toEqual([]);

    const logged = await eventually(async () => {
      const rows = (await loggedEvents('bank.payment_')).filter((e) => e.payload.paymentId === mine.payment.id);
      return rows.some((e) => e.type === 'bank.payment_completed') ? rows : undefined;
    });
    expect(logged.map((e) => [e.organisation_id, e.type])).toEqual([
      ['org-a', 'bank.payment_initiated'],
      ['org-a', 'bank.payment_submitted'],
      ['org-a', 'bank.payment_completed'],
    ]);
    expect(JSON.stringify(logged)).not.toMatch(/Laundry Ltd|55779911/);
    expect((await loggedEvents('bank.payment_')).filter((e) => e.payload.paymentId === theirs.payment.id).map((e) => e.organisation_id)).toEqual(['org-b']);
    // Through the hub's own door too: B's history of that reference is its own payment's alone.
    const { eventHistory } = await okAs(b, HistoryDocument, { filter: { types: ['bank.*'], correlationId: pay().reference }, first: 50 });
    expect(eventHistory.events.map((e) => (e.payload as { paymentId: string }).paymentId)).toEqual([theirs.payment.id]);
  });
});
