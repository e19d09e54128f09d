import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

/**
 * Domestic payment consents and domestic payments of the OBIE Read/Write API v3.1.11 (PISP): request validation
 * (OBWriteDomesticConsent4 / OBWriteDomestic2), the consent lifecycle AwaitingAuthorisation -> Authorised | Rejected
 * -> Consumed, the payment lifecycle AcceptedSettlementInProcess -> AcceptedSettlementCompleted (or Rejected when
 * the PSU's balance is short), idempotency, and the OBErrorResponse1 error shape.
 */

// ---------------------------------------------------------------------------------------------------------------
// Errors (OBErrorResponse1 / OBError1)

export interface ObErrorDetail {
  ErrorCode: string;
  Message: string;
  Path?: string;
}

/** Statuses whose responses carry no body in the spec (401, 404, 405, 406, 415, 429). */
const BODYLESS = new Set([401, 404, 405, 406, 415, 429]);

export class ObError extends Error {
  constructor(
    readonly status: number,
    readonly errors: ObErrorDetail[],
    message = errors[0]?.Message ?? STATUS_CODES[status] ?? 'error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static one(status: number, errorCode: string, message: string, path?: string): ObError {
    return new ObError(status, [{ ErrorCode: errorCode, Message: message, ...(path ? { Path: path } : {}) }], message);
  }

  /** OBErrorResponse1, or undefined for the statuses the spec answers without a body. */
  body(): Record<string, unknown> | undefined {
    if (BODYLESS.has(this.status)) return undefined;
    return {
      Code: `${this.status} ${(STATUS_CODES[this.status] ?? '').replace(/\s+/g, '')}`,
      Id: randomUUID(),
      Message: this.message.slice(0, 500),
      Errors: this.errors.map((e) => ({ ...e, Message: e.Message.slice(0, 500) })),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

type Obj = Record<string, unknown>;

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  oneOf?: readonly string[];
  /** ErrorCode when the value is outside oneOf (default UK.OBIE.Field.Invalid). */
  unsupported?: string;
}

class Validator {
  readonly errors: ObErrorDetail[] = [];

  add(ErrorCode: string, Path: string, Message: string): void {
    this.errors.push({ ErrorCode, Message, Path });
  }

  /** A nested object; unknown members are UK.OBIE.Field.Unexpected (the schemas are additionalProperties: false). */
  object(parent: Obj | undefined, key: string, path: string, required: boolean, allowed?: readonly string[]): Obj | undefined {
    if (!parent) return undefined;
    const value = parent[key];
    if (value === undefined) {
      if (required) this.add('UK.OBIE.Field.Missing', path, `${path} is required`);
      return undefined;
    }
    if (!isObject(value)) {
      this.add('UK.OBIE.Field.Invalid', path, `${path} must be an object`);
      return undefined;
    }
    if (allowed) {
      for (const k of Object.keys(value)) if (!allowed.includes(k)) this.add('UK.OBIE.Field.Unexpected', `${path}.${k}`, `${path}.${k} is not a recognised field`);
    }
    return value;
  }

  string(parent: Obj | undefined, key: string, path: string, rule: StringRule = {}): string | undefined {
    if (!parent) return undefined;
    const value = parent[key];
    if (value === undefined) {
      if (rule.required) this.add('UK.OBIE.Field.Missing', path, `${path} is required`);
      return undefined;
    }
    if (typeof value !== 'string') return void this.add('UK.OBIE.Field.Invalid', path, `${path} must be a string`);
    if (rule.min !== undefined && value.length < rule.min) return void this.add('UK.OBIE.Field.Invalid', path, `${path} must be at least ${rule.min} characters`);
    if (rule.max !== undefined && value.length > rule.max) return void this.add('UK.OBIE.Field.Invalid', path, `${path} must be at most ${rule.max} characters`);
    if (rule.pattern && !rule.pattern.test(value)) return void this.add('UK.OBIE.Field.Invalid', path, `${path} must match ${rule.pattern.source}`);
    if (rule.oneOf && !rule.oneOf.includes(value)) {
      return void this.add(rule.unsupported ?? 'UK.OBIE.Field.Invalid', path, `${path} "${value}" is not one of ${rule.oneOf.join(', ')}`);
    }
    return value;
  }

  boolean(parent: Obj | undefined, key: string, path: string): void {
    if (parent && parent[key] !== undefined && typeof parent[key] !== 'boolean') this.add('UK.OBIE.Field.Invalid', path, `${path} must be a boolean`);
  }
}

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export const AMOUNT_PATTERN = /^\d{1,13}$|^\d{1,13}\.\d{1,5}$/;
/** OBExternalAccountIdentification4Code (v3.1.x namespaced enum). */
const ACCOUNT_SCHEMES = ['UK.OBIE.BBAN', 'UK.OBIE.IBAN', 'UK.OBIE.PAN', 'UK.OBIE.Paym', 'UK.OBIE.SortCodeAccountNumber', 'UK.OBIE.Wallet'];
/** OBExternalLocalInstrument1Code; this (UK, GBP-only) bank supports the domestic ones. */
const LOCAL_INSTRUMENTS = ['UK.OBIE.BACS', 'UK.OBIE.BalanceTransfer', 'UK.OBIE.CHAPS', 'UK.OBIE.FPS', 'UK.OBIE.Link', 'UK.OBIE.MoneyTransfer', 'UK.OBIE.Paym'];
const PAYMENT_CONTEXT_CODES = [
  'BillingGoodsAndServicesInAdvance',
  'BillingGoodsAndServicesInArrears',
  'PispPayee',
  'EcommerceMerchantInitiatedPayment',
  'FaceToFacePointOfSale',
  'TransferToSelf',
  'TransferToThirdParty',
  // deprecated in v3.1.10 but still in the v3.1.11 enum
  'BillPayment',
  'EcommerceGoods',
  'EcommerceServices',
  'Other',
  'PartyToParty',
];
const SCA_EXEMPTIONS = ['BillPayment', 'ContactlessTravel', 'EcommerceGoods', 'EcommerceServices', 'Kiosk', 'Parking', 'PartyToParty'];
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function validateAccount(v: Validator, parent: Obj | undefined, key: string, path: string, required: boolean, nameRequired: boolean): void {
  const acc = v.object(parent, key, path, required, ['SchemeName', 'Identification', 'Name', 'SecondaryIdentification']);
  if (!acc) return;
  const scheme = v.string(acc, 'SchemeName', `${path}.SchemeName`, { required: true, oneOf: ACCOUNT_SCHEMES, unsupported: 'UK.OBIE.Unsupported.Scheme' });
  const id = v.string(acc, 'Identification', `${path}.Identification`, { required: true, min: 1, max: 256 });
  if (id !== undefined && scheme === 'UK.OBIE.SortCodeAccountNumber' && !/^\d{14}$/.test(id)) {
    v.add('UK.OBIE.Unsupported.AccountIdentifier', `${path}.Identification`, `${path}.Identification must be a 6-digit sort code followed by an 8-digit account number`);
  }
  if (id !== undefined && scheme === 'UK.OBIE.IBAN' && !/^[A-Z]{2}\d{2}[A-Z0-9]{1,30}$/.test(id)) {
    v.add('UK.OBIE.Unsupported.AccountIdentifier', `${path}.Identification`, `${path}.Identification is not an IBAN`);
  }
  v.string(acc, 'Name', `${path}.Name`, { required: nameRequired, min: 1, max: 350 });
  v.string(acc, 'SecondaryIdentification', `${path}.SecondaryIdentification`, { min: 1, max: 34 });
}

function validatePostalAddress(v: Validator, parent: Obj | undefined, path: string): void {
  const a = v.object(parent, 'CreditorPostalAddress', path, false, [
    'AddressType', 'Department', 'SubDepartment', 'StreetName', 'BuildingNumber', 'PostCode', 'TownName', 'CountrySubDivision', 'Country', 'AddressLine',
  ]);
  if (!a) return;
  v.string(a, 'AddressType', `${path}.AddressType`, { oneOf: ['Business', 'Correspondence', 'DeliveryTo', 'MailTo', 'POBox', 'Postal', 'Residential', 'Statement'] });
  for (const [k, max] of [['Department', 70], ['SubDepartment', 70], ['StreetName', 70], ['BuildingNumber', 16], ['PostCode', 16], ['TownName', 35], ['CountrySubDivision', 35]] as const) {
    v.string(a, k, `${path}.${k}`, { min: 1, max });
  }
  v.string(a, 'Country', `${path}.Country`, { pattern: /^[A-Z]{2,2}$/ });
  const lines = a.AddressLine;
  if (lines !== undefined) {
    if (!Array.isArray(lines) || lines.length > 7) v.add('UK.OBIE.Field.Invalid', `${path}.AddressLine`, `${path}.AddressLine must be an array of at most 7 lines`);
    else lines.forEach((l, i) => v.string({ l }, 'l', `${path}.AddressLine[${i}]`, { min: 1, max: 70 }));
  }
}

/** OBWriteDomestic2Data.Initiation (the same shape in the consent and the payment). */
function validateInitiation(v: Validator, data: Obj | undefined, currency: string): void {
  const p = 'Data.Initiation';
  const init = v.object(data, 'Initiation', p, true, [
    'InstructionIdentification', 'EndToEndIdentification', 'LocalInstrument', 'InstructedAmount', 'DebtorAccount', 'CreditorAccount',
    'CreditorPostalAddress', 'RemittanceInformation', 'SupplementaryData',
  ]);
  if (!init) return;
  v.string(init, 'InstructionIdentification', `${p}.InstructionIdentification`, { required: true, min: 1, max: 35 });
  v.string(init, 'EndToEndIdentification', `${p}.EndToEndIdentification`, { required: true, min: 1, max: 35 });
  v.string(init, 'LocalInstrument', `${p}.LocalInstrument`, { oneOf: LOCAL_INSTRUMENTS, unsupported: 'UK.OBIE.Unsupported.LocalInstrument' });
  const amt = v.object(init, 'InstructedAmount', `${p}.InstructedAmount`, true, ['Amount', 'Currency']);
  if (amt) {
    const amount = v.string(amt, 'Amount', `${p}.InstructedAmount.Amount`, { required: true, pattern: AMOUNT_PATTERN });
    if (amount !== undefined && toMicro(amount) === 0n) v.add('UK.OBIE.Field.Invalid', `${p}.InstructedAmount.Amount`, 'the amount must be greater than zero');
    const cur = v.string(amt, 'Currency', `${p}.InstructedAmount.Currency`, { required: true, pattern: /^[A-Z]{3,3}$/ });
    if (cur !== undefined && cur !== currency) {
      v.add('UK.OBIE.Unsupported.Currency', `${p}.InstructedAmount.Currency`, `domestic payments must be in ${currency}`);
    }
  }
  validateAccount(v, init, 'DebtorAccount', `${p}.DebtorAccount`, false, false);
  validateAccount(v, init, 'CreditorAccount', `${p}.CreditorAccount`, true, true);
  validatePostalAddress(v, init, `${p}.CreditorPostalAddress`);
  const rem = v.object(init, 'RemittanceInformation', `${p}.RemittanceInformation`, false, ['Unstructured', 'Reference']);
  v.string(rem, 'Unstructured', `${p}.RemittanceInformation.Unstructured`, { min: 1, max: 140 });
  v.string(rem, 'Reference', `${p}.RemittanceInformation.Reference`, { min: 1, max: 35 });
  v.object(init, 'SupplementaryData', `${p}.SupplementaryData`, false);
}

/** OBRisk1: required, but only lightly constrained (it is passed through and must match between consent and payment). */
function validateRisk(v: Validator, body: Obj): void {
  const risk = v.object(body, 'Risk', 'Risk', true);
  if (!risk) return;
  v.string(risk, 'PaymentContextCode', 'Risk.PaymentContextCode', { oneOf: PAYMENT_CONTEXT_CODES });
  v.string(risk, 'MerchantCategoryCode', 'Risk.MerchantCategoryCode', { min: 3, max: 4 });
  v.string(risk, 'MerchantCustomerIdentification', 'Risk.MerchantCustomerIdentification', { min: 1, max: 70 });
  v.boolean(risk, 'ContractPresentIndicator', 'Risk.ContractPresentIndicator');
  v.boolean(risk, 'BeneficiaryPrepopulatedIndicator', 'Risk.BeneficiaryPrepopulatedIndicator');
  v.object(risk, 'DeliveryAddress', 'Risk.DeliveryAddress', false);
}

function topLevel(v: Validator, body: unknown): Obj | undefined {
  if (!isObject(body)) {
    v.add('UK.OBIE.Field.Invalid', '$', 'the request body must be a JSON object');
    return undefined;
  }
  for (const k of Object.keys(body)) if (k !== 'Data' && k !== 'Risk') v.add('UK.OBIE.Field.Unexpected', k, `${k} is not a recognised field`);
  return body;
}

function fail(v: Validator): void {
  if (v.errors.length > 0) throw new ObError(400, v.errors, `The request body is invalid (${v.errors.length} error${v.errors.length > 1 ? 's' : ''})`);
}

/** Throws ObError(400) listing every problem with an OBWriteDomesticConsent4 body. */
export function validateConsentRequest(body: unknown, currency: string): void {
  const v = new Validator();
  const root = topLevel(v, body);
  const data = v.object(root, 'Data', 'Data', true, ['Initiation', 'Authorisation', 'SCASupportData', 'ReadRefundAccount']);
  v.string(data, 'ReadRefundAccount', 'Data.ReadRefundAccount', { oneOf: ['Yes', 'No'] });
  validateInitiation(v, data, currency);
  const auth = v.object(data, 'Authorisation', 'Data.Authorisation', false, ['AuthorisationType', 'CompletionDateTime']);
  v.string(auth, 'AuthorisationType', 'Data.Authorisation.AuthorisationType', { required: true, oneOf: ['Any', 'Single'] });
  const completion = v.string(auth, 'CompletionDateTime', 'Data.Authorisation.CompletionDateTime', { pattern: ISO_DATE_TIME });
  if (completion !== undefined && Date.parse(completion) <= Date.now()) {
    v.add('UK.OBIE.Field.InvalidDate', 'Data.Authorisation.CompletionDateTime', 'CompletionDateTime must be in the future');
  }
  const sca = v.object(data, 'SCASupportData', 'Data.SCASupportData', false, ['RequestedSCAExemptionType', 'AppliedAuthenticationApproach', 'ReferencePaymentOrderId']);
  v.string(sca, 'RequestedSCAExemptionType', 'Data.SCASupportData.RequestedSCAExemptionType', { oneOf: SCA_EXEMPTIONS });
  v.string(sca, 'AppliedAuthenticationApproach', 'Data.SCASupportData.AppliedAuthenticationApproach', { oneOf: ['CA', 'SCA'] });
  v.string(sca, 'ReferencePaymentOrderId', 'Data.SCASupportData.ReferencePaymentOrderId', { min: 1, max: 128 });
  if (root) validateRisk(v, root);
  fail(v);
}

/** Throws ObError(400) listing every problem with an OBWriteDomestic2 body. */
export function validatePaymentRequest(body: unknown, currency: string): void {
  const v = new Validator();
  const root = topLevel(v, body);
  const data = v.object(root, 'Data', 'Data', true, ['ConsentId', 'Initiation']);
  v.string(data, 'ConsentId', 'Data.ConsentId', { required: true, min: 1, max: 128 });
  validateInitiation(v, data, currency);
  if (root) validateRisk(v, root);
  fail(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Amounts: decimal strings compared exactly, as integers of 10^-5 units (the pattern allows five decimals).

export function toMicro(amount: string): bigint {
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole!) * 100000n + BigInt(frac.padEnd(5, '0'));
}

function fromMicro(micro: bigint): string {
  const whole = micro / 100000n;
  const frac = (micro % 100000n).toString().padStart(5, '0').slice(0, 2);
  return `${whole}.${frac}`;
}

/** Structural equality of parsed JSON (member order ignored), for consent/payment matching and idempotency. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Resources

export type ConsentStatus = 'AwaitingAuthorisation' | 'Authorised' | 'Rejected' | 'Consumed';
export type PaymentStatus = 'AcceptedSettlementInProcess' | 'AcceptedSettlementCompleted' | 'Rejected';

interface Consent {
  id: string;
  clientId: string;
  status: ConsentStatus;
  created: Date;
  updated: Date;
  data: Obj; // the request's Data (Initiation, Authorisation, SCASupportData, ReadRefundAccount)
  risk: Obj;
}

interface Payment {
  id: string;
  clientId: string;
  consentId: string;
  status: PaymentStatus;
  created: Date;
  updated: Date;
  initiation: Obj;
  refund?: Obj;
}

/** The simulated PSU's account (the debtor), used for Refund when the consent asked for ReadRefundAccount=Yes. */
const PSU_ACCOUNT = { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '40400412345678', Name: 'Simulated PSU' };

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, '+00:00');

export interface PaymentsOptions {
  balance: { amount: string; currency: string };
  settleAfterMs: number;
}

export class PaymentsService {
  /** `${url}/open-banking/v3.1/pisp`, set once the server is listening (for Links.Self). */
  apiBase = '';
  private readonly consents = new Map<string, Consent>();
  private readonly payments = new Map<string, Payment>();
  private balance: bigint;
  readonly currency: string;

  constructor(private readonly o: PaymentsOptions) {
    if (!AMOUNT_PATTERN.test(o.balance.amount)) throw new Error(`balance.amount "${o.balance.amount}" is not an OB amount`);
    if (!/^[A-Z]{3}$/.test(o.balance.currency)) throw new Error(`balance.currency "${o.balance.currency}" is not an ISO 4217 code`);
    if (!(o.settleAfterMs >= 0)) throw new Error('settleAfterMs must be >= 0');
    this.balance = toMicro(o.balance.amount);
    this.currency = o.balance.currency;
  }

  get consentCount(): number {
    return this.consents.size;
  }
  get paymentCount(): number {
    return this.payments.size;
  }

  createConsent(clientId: string, body: unknown): Obj {
    validateConsentRequest(body, this.currency);
    const b = structuredClone(body) as Obj;
    const now = new Date();
    const consent: Consent = { id: `sdp-${randomUUID()}`, clientId, status: 'AwaitingAuthorisation', created: now, updated: now, data: b.Data as Obj, risk: b.Risk as Obj };
    this.consents.set(consent.id, consent);
    return this.consentView(consent);
  }

  getConsent(clientId: string, id: string): Obj {
    return this.consentView(this.ownConsent(clientId, id));
  }

  /** For /authorize: the consent when it belongs to the client and awaits authorisation, else why not. */
  consentForAuthorisation(clientId: string, id: string): { ok: true } | { ok: false; reason: string } {
    const c = this.consents.get(id);
    if (!c || c.clientId !== clientId) return { ok: false, reason: 'unknown consent_id' };
    if (c.status !== 'AwaitingAuthorisation') return { ok: false, reason: `consent is ${c.status}, not AwaitingAuthorisation` };
    return { ok: true };
  }

  consentStatus(id: string): ConsentStatus | undefined {
    return this.consents.get(id)?.status;
  }

  /** The PSU's decision at the authorisation step. */
  decide(id: string, approve: boolean): void {
    const c = this.consents.get(id);
    if (!c || c.status !== 'AwaitingAuthorisation') return;
    c.status = approve ? 'Authorised' : 'Rejected';
    c.updated = new Date();
  }

  /** POST /domestic-payments with a token bound to `tokenConsentId`. */
  createPayment(clientId: string, tokenConsentId: string, body: unknown): Obj {
    validatePaymentRequest(body, this.currency);
    const b = structuredClone(body) as Obj;
    const data = b.Data as Obj;
    const consentId = data.ConsentId as string;
    if (consentId !== tokenConsentId) {
      throw ObError.one(400, 'UK.OBIE.Resource.ConsentMismatch', 'Data.ConsentId is not the consent this access token was issued for', 'Data.ConsentId');
    }
    const consent = this.consents.get(consentId);
    if (!consent || consent.clientId !== clientId) throw ObError.one(400, 'UK.OBIE.Resource.NotFound', `consent ${consentId} not found`, 'Data.ConsentId');
    if (consent.status !== 'Authorised') {
      throw ObError.one(400, 'UK.OBIE.Resource.InvalidConsentStatus', `consent ${consentId} is ${consent.status}, not Authorised`, 'Data.ConsentId');
    }
    const mismatches: ObErrorDetail[] = [];
    if (!jsonEqual(data.Initiation, consent.data.Initiation)) {
      mismatches.push({ ErrorCode: 'UK.OBIE.Resource.ConsentMismatch', Message: 'Data.Initiation does not match the consent', Path: 'Data.Initiation' });
    }
    if (!jsonEqual(b.Risk, consent.risk)) {
      mismatches.push({ ErrorCode: 'UK.OBIE.Resource.ConsentMismatch', Message: 'Risk does not match the consent', Path: 'Risk' });
    }
    if (mismatches.length > 0) throw new ObError(400, mismatches, 'The payment does not match its consent');

    const now = new Date();
    consent.status = 'Consumed';
    consent.updated = now;
    const initiation = data.Initiation as Obj;
    const amount = toMicro((initiation.InstructedAmount as Obj).Amount as string);
    let status: PaymentStatus = 'Rejected';
    if (amount <= this.balance) {
      this.balance -= amount;
      status = 'AcceptedSettlementInProcess';
    }
    const payment: Payment = { id: `dp-${randomUUID()}`, clientId, consentId, status, created: now, updated: now, initiation };
    if (consent.data.ReadRefundAccount === 'Yes') payment.refund = { Account: structuredClone((initiation.DebtorAccount as Obj | undefined) ?? PSU_ACCOUNT) };
    this.payments.set(payment.id, payment);
    return this.paymentView(payment);
  }

  getPayment(clientId: string, id: string): Obj {
    const p = this.payments.get(id);
    if (!p || p.clientId !== clientId) throw ObError.one(400, 'UK.OBIE.Resource.NotFound', `domestic payment ${id} not found`);
    return this.paymentView(p);
  }

  /** The PSU's remaining balance, e.g. "9990.00". */
  remainingBalance(): string {
    return fromMicro(this.balance);
  }

  private ownConsent(clientId: string, id: string): Consent {
    const c = this.consents.get(id);
    if (!c || c.clientId !== clientId) throw ObError.one(400, 'UK.OBIE.Resource.NotFound', `domestic payment consent ${id} not found`);
    return c;
  }

  /** Settlement is evaluated lazily: a payment in process is complete once settleAfterMs has passed since creation. */
  private settle(p: Payment): void {
    if (p.status !== 'AcceptedSettlementInProcess') return;
    const due = p.created.getTime() + this.o.settleAfterMs;
    if (Date.now() >= due) {
      p.status = 'AcceptedSettlementCompleted';
      p.updated = new Date(due);
    }
  }

  private consentView(c: Consent): Obj {
    const { Initiation, ...rest } = c.data;
    return structuredClone({
      Data: { ConsentId: c.id, CreationDateTime: iso(c.created), Status: c.status, StatusUpdateDateTime: iso(c.updated), ...rest, Initiation },
      Risk: c.risk,
      Links: { Self: `${this.apiBase}/domestic-payment-consents/${c.id}` },
      Meta: {},
    });
  }

  private paymentView(p: Payment): Obj {
    this.settle(p);
    return structuredClone({
      Data: {
        DomesticPaymentId: p.id,
        ConsentId: p.consentId,
        CreationDateTime: iso(p.created),
        Status: p.status,
        StatusUpdateDateTime: iso(p.updated),
        ...(p.refund ? { Refund: p.refund } : {}),
        Initiation: p.initiation,
      },
      Links: { Self: `${this.apiBase}/domestic-payments/${p.id}` },
      Meta: {},
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Idempotency: x-idempotency-key is scoped to the client and the endpoint, and lives 24 hours.

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_KEY_PATTERN = /^(?!\s)(.*)(\S)$/;

interface Remembered {
  body: unknown;
  response: Obj;
  expiresAt: number;
}

export class IdempotencyStore {
  private readonly entries = new Map<string, Remembered>();

  /** The original response for a repeat with the same body; 400 when the key was used with a different body. */
  lookup(clientId: string, path: string, key: string, body: unknown): Obj | undefined {
    this.purge();
    const hit = this.entries.get(`${clientId}\n${path}\n${key}`);
    if (!hit) return undefined;
    if (!jsonEqual(hit.body, body)) {
      throw ObError.one(400, 'UK.OBIE.Header.Invalid', 'x-idempotency-key was already used with a different request body', 'x-idempotency-key');
    }
    return structuredClone(hit.response);
  }

  remember(clientId: string, path: string, key: string, body: unknown, response: Obj): void {
    this.entries.set(`${clientId}\n${path}\n${key}`, { body: structuredClone(body), response: structuredClone(response), expiresAt: Date.now() + IDEMPOTENCY_TTL_MS });
  }

  private purge(): void {
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
