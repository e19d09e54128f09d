import { randomBytes, randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { CompactSign, importPKCS8, type CryptoKey } from 'jose';
import { bankingOutbox, outgoingPayments, type Schema } from '@hub/db';
import {
  badInput,
  conflict,
  DEFAULT_ORGANISATION,
  deterministicUuid,
  HubError,
  mayCompleteCallback,
  isUuid,
  notFound,
  outboxRow,
  upstreamUnavailable,
  type Db,
  type HubRuntime,
  type OutboundResponse,
  type Principal,
} from '@hub/runtime';
import { fromMinor, toMinor } from './money.ts';

export type OutgoingPaymentRow = typeof outgoingPayments.$inferSelect;

export interface InitiatePaymentInput {
  reference: string;
  amount: string;
  currency?: string | null;
  creditorName: string;
  sortCode: string;
  accountNumber: string;
  description?: string | null;
}

const PISP = '/open-banking/v3.1/pisp';
const SETTLEMENT_QUEUE = 'banking.payment-settlement';
/** Settlement checks after submission: 2 s, 4 s, 8 s, ... up to an hour apart, for about two days. */
const SETTLEMENT_CHECKS = 60;
const settlementDelayMs = (attempt: number) => Math.min(2_000 * 2 ** (attempt - 1), 3_600_000);
/** A settlement check names the payment's organisation: the job acts for it alone (one queued before organisations, for the default one). */
interface SettlementCheck {
  organisationId?: string;
  paymentId: string;
  attempt: number;
}
/** The bank's statuses of a domestic payment (OBTransactionIndividualStatus1Code) as the hub's. */
const SETTLEMENT: Record<string, string> = {
  Pending: 'IN_SETTLEMENT',
  AcceptedSettlementInProcess: 'IN_SETTLEMENT',
  AcceptedWithoutPosting: 'IN_SETTLEMENT',
  AcceptedCreditSettlementCompleted: 'COMPLETED',
  AcceptedSettlementCompleted: 'COMPLETED',
  Rejected: 'REJECTED',
};


/**
 * UK domestic payments through the care group's bank's Open Banking API (PISP v3.1): the hub creates a payment
 * consent with a client-credentials token, sends the payer (someone of the care group with the bank's login) to the
 * bank to authorise it, and on their return exchanges the code and submits the payment, then follows it to
 * settlement. Every POST carries an idempotency key kept with the payment, so a retry never pays twice, and a
 * detached JWS (PS256) of its body with the hub's signing key, as the bank requires. Every payment belongs to the
 * organisation that initiated it, and every read and write below names it.
 */
export function createPayments(rt: HubRuntime, db: Db<Schema>, kick: () => void) {
  const ob = rt.config.openBanking;
  let key: Promise<CryptoKey> | undefined;
  const signingKey = () => (key ??= importPKCS8(ob.signingKeyPem ?? '', 'PS256'));

  /** `<header>..<signature>`: the body itself travels as the request body, byte for byte what was signed. */
  async function sign(body: string): Promise<string> {
    const jws = await new CompactSign(new TextEncoder().encode(body))
      .setProtectedHeader({
        alg: 'PS256',
        kid: ob.signingKid,
        'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000),
        'http://openbanking.org.uk/iss': ob.issuer,
        'http://openbanking.org.uk/tan': 'openbanking.org.uk',
        crit: ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'],
      })
      // The three claims are understood by Open Banking receivers; jose needs to be told they are meant to be critical.
      .sign(await signingKey(), { crit: { 'http://openbanking.org.uk/iat': true, 'http://openbanking.org.uk/iss': true, 'http://openbanking.org.uk/tan': true } });
    const [header, , signature] = jws.split('.');
    return `${header}..${signature}`;
  }

  async function token(form: Record<string, string>): Promise<string> {
    const res = await rt.http.request('bank.oauth', {
      method: 'POST',
      url: `${ob.baseUrl}/token`,
      headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`${ob.clientId}:${ob.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams(form),
      retry: false,
    });
    if (res.status === 400 && /invalid_grant/.test(res.body)) throw badInput('the bank did not accept the authorisation (used already, or expired): initiate the payment again', { field: 'code' });
    if (res.status !== 200) throw upstreamUnavailable('bank', `token endpoint answered HTTP ${res.status}`);
    return res.json<{ access_token: string }>().access_token;
  }
  // A client-credentials token serves until shortly before it expires.
  let cc: { token: string; until: number } | undefined;
  async function clientToken(): Promise<string> {
    if (cc && cc.until > Date.now()) return cc.token;
    const t = await token({ grant_type: 'client_credentials', scope: 'payments' });
    cc = { token: t, until: Date.now() + 50 * 60_000 };
    return t;
  }

  async function call(method: 'GET' | 'POST', path: string, bearer: string, o: { body?: object; idempotencyKey?: string } = {}): Promise<OutboundResponse> {
    const text = o.body ? JSON.stringify(o.body) : undefined;
    const res = await rt.http.request('bank.pisp', {
      method,
      url: `${ob.baseUrl}${PISP}${path}`,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${bearer}`,
        'x-fapi-interaction-id': randomUUID(),
        ...(text ? { 'content-type': 'application/json', 'x-idempotency-key': o.idempotencyKey!, 'x-jws-signature': await sign(text) } : {}),
      },
      body: text,
      // The idempotency key makes a repeated POST safe: the bank answers it with the first result.
      idempotent: true,
    });
    if (res.status === 401 && method === 'GET') cc = undefined;
    return res;
  }

  /** OBErrorResponse1 as the hub's error, the bank's codes kept. */
  function bankError(res: OutboundResponse): HubError {
    let body: { Code?: string; Message?: string; Errors?: Array<{ ErrorCode: string; Message: string; Path?: string }> } = {};
    try {
      body = JSON.parse(res.body);
    } catch {
      // the status says enough
    }
    const details = { system: 'bank', httpStatus: res.status, errors: body.Errors ?? [] };
    const message = `bank: ${body.Errors?.map((e) => `${e.Path ? `${e.Path} ` : ''}${e.ErrorCode}: ${e.Message}`).join('; ') || body.Message || `HTTP ${res.status}`}`;
    if (res.status === 400 || res.status === 403) return new HubError('BAD_USER_INPUT', message, details);
    return upstreamUnavailable('bank', message, details);
  }

  const initiation = (p: OutgoingPaymentRow) => ({
    InstructionIdentification: p.id.replace(/-/g, '').slice(0, 35),
    EndToEndIdentification: p.reference,
    InstructedAmount: { Amount: fromMinor(p.amountMinor, p.currency), Currency: p.currency },
    CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: `${p.creditorSortCode}${p.creditorAccountNumber}`, Name: p.creditorName },
    RemittanceInformation: { Reference: p.reference, ...(p.description ? { Unstructured: p.description } : {}) },
  });

  const owned = (org: string, id: string) => and(eq(outgoingPayments.organisationId, org), eq(outgoingPayments.id, id));

  /**
   * A payment's new state and the event announcing it. The event names what finance follows a payment by (amount,
   * reference, status, the bank's ids), never the payee's name or account.
   */
  async function update(org: string, id: string, set: Partial<OutgoingPaymentRow>, event?: { type: string; payload: Record<string, unknown> }): Promise<OutgoingPaymentRow> {
    return db.transaction(async (tx) => {
      const [r] = await tx.update(outgoingPayments).set({ ...set, updatedAt: new Date() }).where(owned(org, id)).returning();
      if (event) {
        await tx.insert(bankingOutbox).values(
          outboxRow({
            organisationId: org,
            type: event.type,
            source: 'hub.banking',
            correlationId: r!.reference,
            payload: { paymentId: id, reference: r!.reference, amount: fromMinor(r!.amountMinor, r!.currency), currency: r!.currency, status: r!.status, ...event.payload },
          }),
        );
      }
      return r!;
    });
  }

  async function byId(org: string, id: string): Promise<OutgoingPaymentRow> {
    const [p] = isUuid(id) ? await db.select().from(outgoingPayments).where(owned(org, id)) : [];
    if (!p) throw notFound('payment', id);
    return p;
  }

  /**
   * Whose payment awaits this state. The payer's browser comes back from the bank with no hub credentials, so the
   * state is the one thing that says which organisation's payment it completes (states are unique across them all).
   */
  async function stateOwner(state: string): Promise<string | undefined> {
    const [p] = await db
      .select({ organisationId: outgoingPayments.organisationId })
      .from(outgoingPayments)
      .where(and(eq(outgoingPayments.authState, state), eq(outgoingPayments.status, 'AWAITING_AUTHORISATION')));
    return p?.organisationId;
  }

  /** Asks the bank again later, so a payment reaches COMPLETED (and its event) whether or not anyone reads it. */
  async function followSettlement(org: string, paymentId: string, attempt: number): Promise<void> {
    await rt.jobs.send<SettlementCheck>(
      SETTLEMENT_QUEUE,
      { organisationId: org, paymentId, attempt },
      { startAfter: new Date(Date.now() + settlementDelayMs(attempt)), id: deterministicUuid('settlement', paymentId, String(attempt)) },
    );
  }

  const api = {
    /** The settlement follow-up: one check per job, the next one queued while the bank still says it is in settlement. */
    async startWorkers() {
      await rt.jobs.define<SettlementCheck>(SETTLEMENT_QUEUE, async ({ organisationId, paymentId, attempt }) => {
        const org = organisationId ?? DEFAULT_ORGANISATION;
        const p = await api.get(org, paymentId);
        if (p.status === 'IN_SETTLEMENT' && attempt < SETTLEMENT_CHECKS) await followSettlement(org, paymentId, attempt + 1);
      });
    },

    async initiate(caller: Principal, input: InitiatePaymentInput) {
      const org = caller.organisationId;
      if (!ob.baseUrl || !ob.redirectUri) throw badInput('no bank is configured for payments (OPEN_BANKING_BASE_URL)', { field: 'OPEN_BANKING_BASE_URL' });
      const currency = input.currency ?? 'GBP';
      if (currency !== 'GBP') throw badInput('domestic payments are in GBP', { field: 'currency' });
      const amountMinor = toMinor(input.amount, currency, 'amount');
      if (amountMinor <= 0n) throw badInput('amount must be more than zero', { field: 'amount' });
      const sortCode = input.sortCode.replace(/[\s-]/g, '');
      if (!/^\d{6}$/.test(sortCode)) throw badInput('sortCode must be six digits, such as 20-00-00', { field: 'sortCode' });
      if (!/^\d{8}$/.test(input.accountNumber)) throw badInput('accountNumber must be eight digits', { field: 'accountNumber' });
      if (!/^[A-Za-z0-9 /.,&'()+-]{1,18}$/.test(input.reference)) throw badInput('reference must be 1 to 18 letters, digits, spaces or / . , & \' ( ) + - (what UK Faster Payments carries)', { field: 'reference' });
      if (!input.creditorName.trim() || input.creditorName.length > 70) throw badInput('creditorName must be 1 to 70 characters', { field: 'creditorName' });
      if (input.description != null && input.description.length > 140) throw badInput('description must be at most 140 characters', { field: 'description' });

      const [p] = await db
        .insert(outgoingPayments)
        .values({
          organisationId: org,
          id: randomUUID(),
          reference: input.reference,
          amountMinor,
          currency,
          creditorName: input.creditorName.trim(),
          creditorSortCode: sortCode,
          creditorAccountNumber: input.accountNumber,
          description: input.description ?? null,
          status: 'CREATING_CONSENT',
          consentIdempotencyKey: randomUUID(),
          paymentIdempotencyKey: randomUUID(),
          createdBy: caller.client,
        })
        .returning();
      let res: OutboundResponse;
      try {
        res = await call('POST', '/domestic-payment-consents', await clientToken(), { body: { Data: { Initiation: initiation(p!) }, Risk: {} }, idempotencyKey: p!.consentIdempotencyKey });
      } catch (err) {
        await update(org, p!.id, { status: 'FAILED', error: `no answer from the bank: ${(err as Error).message}` });
        throw err;
      }
      if (res.status !== 201) {
        const e = bankError(res);
        await update(org, p!.id, { status: 'FAILED', error: e.message });
        throw e;
      }
      const consentId = res.json<{ Data: { ConsentId: string } }>().Data.ConsentId;
      const authState = randomBytes(24).toString('base64url');
      const row = await update(org, p!.id, { status: 'AWAITING_AUTHORISATION', consentId, authState }, { type: 'bank.payment_initiated', payload: { consentId, createdBy: caller.client } });
      kick();
      const url = new URL(`${ob.baseUrl}/authorize`);
      url.search = new URLSearchParams({ response_type: 'code', client_id: ob.clientId ?? '', redirect_uri: ob.redirectUri, scope: 'openid payments', state: authState, consent_id: consentId }).toString();
      return { payment: row, authorizeUrl: url.toString() };
    },

    /**
     * The payer came back from the bank: with a code (submit the payment) or with a refusal. It completes the payment
     * of the organisation that initiated it: the callback (a service principal of no organisation) for whichever that
     * is, any other caller only for its own; another organisation's state is unknown to it and stays usable.
     */
    async complete(caller: Principal, a: { state: string; code?: string | null; error?: string | null }) {
      const owner = await stateOwner(a.state);
      const [p] =
        owner !== undefined && mayCompleteCallback(caller, owner)
          ? await db.select().from(outgoingPayments).where(and(eq(outgoingPayments.organisationId, owner), eq(outgoingPayments.authState, a.state), eq(outgoingPayments.status, 'AWAITING_AUTHORISATION')))
          : [];
      if (!p) throw badInput('unknown or used state: this authorisation is not awaited', { field: 'state' });
      const org = p.organisationId;
      if (a.error || !a.code) {
        const row = await update(org, p.id, { status: 'REJECTED', authState: null, error: `the payer did not authorise the payment at the bank (${a.error ?? 'no code'})` }, { type: 'bank.payment_rejected', payload: { reason: a.error ?? 'no code' } });
        kick();
        return row;
      }
      // Claim the payment for submission, so a second callback with the same state cannot submit it again.
      const [claimed] = await db
        .update(outgoingPayments)
        .set({ status: 'SUBMITTING', authState: null, updatedAt: new Date() })
        .where(and(owned(org, p.id), eq(outgoingPayments.status, 'AWAITING_AUTHORISATION')))
        .returning();
      if (!claimed) throw conflict('this payment is being submitted already', { paymentId: p.id });
      try {
        const bearer = await token({ grant_type: 'authorization_code', code: a.code, redirect_uri: ob.redirectUri ?? '' });
        const res = await call('POST', '/domestic-payments', bearer, { body: { Data: { ConsentId: p.consentId, Initiation: initiation(p) }, Risk: {} }, idempotencyKey: p.paymentIdempotencyKey });
        if (res.status !== 201) throw bankError(res);
        const d = res.json<{ Data: { DomesticPaymentId: string; Status: string } }>().Data;
        const status = SETTLEMENT[d.Status] ?? 'IN_SETTLEMENT';
        const row = await update(org, p.id, { status, bankPaymentId: d.DomesticPaymentId, error: status === 'REJECTED' ? 'the bank rejected the payment' : null }, { type: status === 'REJECTED' ? 'bank.payment_rejected' : 'bank.payment_submitted', payload: { bankPaymentId: d.DomesticPaymentId, bankStatus: d.Status } });
        kick();
        if (status === 'IN_SETTLEMENT') await followSettlement(org, p.id, 1);
        return row;
      } catch (err) {
        await update(org, p.id, { status: 'FAILED', error: (err as Error).message });
        throw err;
      }
    },

    /** A payment, its settlement status asked of the bank while it is in flight. */
    async get(org: string, id: string) {
      const p = await byId(org, id);
      if (p.status !== 'IN_SETTLEMENT' || !p.bankPaymentId) return p;
      const res = await call('GET', `/domestic-payments/${encodeURIComponent(p.bankPaymentId)}`, await clientToken());
      if (res.status !== 200) return p; // the stored status stands; the next read asks again
      const bankStatus = res.json<{ Data: { Status: string } }>().Data.Status;
      const status = SETTLEMENT[bankStatus] ?? p.status;
      if (status === p.status) return p;
      const row = await update(org, p.id, { status }, { type: status === 'COMPLETED' ? 'bank.payment_completed' : 'bank.payment_rejected', payload: { bankPaymentId: p.bankPaymentId, bankStatus } });
      kick();
      return row;
    },

    list: (org: string, status: string | null | undefined) =>
      db
        .select()
        .from(outgoingPayments)
        .where(and(eq(outgoingPayments.organisationId, org), status ? eq(outgoingPayments.status, status) : undefined))
        .orderBy(desc(outgoingPayments.createdAt)),
  };
  return api;
}

export type Payments = ReturnType<typeof createPayments>;
