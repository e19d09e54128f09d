import { randomBytes } from 'node:crypto';
import { hmrcOutbox } from '@hub/db';
import {
  badInput,
  conflict,
  createOutboxRelay,
  DEFAULT_ORGANISATION,
  deterministicUuid,
  forbidden,
  HubError,
  mayCompleteCallback,
  rateLimited,
  unauthenticated,
  upstreamUnavailable,
  waitForSlot,
  type EventPublisher,
  type HubRuntime,
  type OutboundResponse,
  type Principal,
} from '@hub/runtime';
import { VAT_ACCEPT, VAT_SCOPES } from './environments.ts';
import { createFraudHeaders } from './fraud-headers.ts';
import { createHmrcStore, type GrantRow, type SubmissionRow } from './store.ts';

const GRANT = 'default';
const STATE_TTL_SECONDS = 600;
const REFRESH_MARGIN_MS = 60_000;
const MAX_LIMIT_WAIT_MS = 5_000;
const VRN = /^\d{9}$/;
const PERIOD_KEY = /^[A-Za-z0-9#]{4}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The nine boxes of a VAT return, as the VAT API names them. Boxes 1–5 are pounds and pence, 6–9 whole pounds. */
const PENCE_BOXES = ['vatDueSales', 'vatDueAcquisitions', 'totalVatDue', 'vatReclaimedCurrPeriod', 'netVatDue'] as const;
const POUND_BOXES = ['totalValueSalesExVAT', 'totalValuePurchasesExVAT', 'totalValueGoodsSuppliedExVAT', 'totalAcquisitionsExVAT'] as const;
type Box = (typeof PENCE_BOXES)[number] | (typeof POUND_BOXES)[number];
export type VatReturnInput = { periodKey: string; finalised: boolean } & Record<Box, string>;

interface Tokens {
  access: string;
  refresh: string;
}

/** Who started a sign-in, kept with its state: the callback completes it for this organisation, never another. */
interface StartedBy {
  organisationId: string;
  client: string;
}

function readState(raw: string | null): StartedBy | undefined {
  if (!raw) return undefined;
  try {
    const s = JSON.parse(raw) as Partial<StartedBy>;
    return typeof s.organisationId === 'string' && typeof s.client === 'string' ? { organisationId: s.organisationId, client: s.client } : undefined;
  } catch {
    return undefined; // a state kept before organisations: its sign-in is started again
  }
}


/** Amounts travel as decimal strings ("1234.56") and are checked in pence, never as binary fractions. */
function pence(value: string, box: string, whole: boolean): number {
  const m = (whole ? /^(-?)(\d{1,13})$/ : /^(-?)(\d{1,13})(?:\.(\d{2}))?$/).exec(value.trim());
  if (!m) throw badInput(`${box} must be ${whole ? 'whole pounds, such as 1500' : 'pounds and pence, such as 1500.00'}; got ${JSON.stringify(value)}`, { field: `input.${box}` });
  return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(m[3] ?? 0));
}

export function createHmrcService(rt: HubRuntime, publisher: () => EventPublisher | undefined, baseUrl: string, simulated: boolean) {
  const cfg = rt.config.hmrc;
  const store = createHmrcStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'hmrc' });
  const relay = createOutboxRelay({ name: 'hmrc', db: rt.database.db, table: hmrcOutbox, publisher, log });
  // One device ID per installation (HMRC expects it to stay the same across calls).
  const fraud = createFraudHeaders(deterministicUuid('hmrc-device', cfg.clientId ?? 'simulated', baseUrl));

  // CONNECTORS_DISABLED=hmrc: no base URL, and every call to HMRC says so rather than failing on an empty URL.
  const configured = () => {
    if (!baseUrl) throw upstreamUnavailable('hmrc', 'HMRC is not configured on this hub (CONNECTORS_DISABLED names hmrc)', { notConfigured: true });
  };
  const takeSlot = () => waitForSlot(rt.kv, { system: 'hmrc', limit: cfg.rateLimitPerSecond, windowMs: 1_050, maxWaitMs: MAX_LIMIT_WAIT_MS });

  /** The OAuth token endpoint; an `invalid_grant` answer is returned as null (the grant is gone or was used). */
  async function tokenRequest(form: Record<string, string>): Promise<{ tokens: Tokens; scope: string; expiresAt: Date } | null> {
    configured();
    await takeSlot();
    const res = await rt.http.request('hmrc.oauth', {
      method: 'POST',
      url: `${baseUrl}/oauth/token`,
      headers: { accept: 'application/json' },
      body: new URLSearchParams({ ...form, client_id: cfg.clientId ?? '', client_secret: cfg.clientSecret ?? '' }),
      timeoutMs: cfg.timeoutMs,
      retry: false,
    });
    if (res.status === 400 && /invalid_grant/.test(res.body)) return null;
    if (res.status !== 200) {
      if (res.status === 401) throw new HubError('UPSTREAM_ERROR', 'HMRC refused the hub\'s application credentials (HMRC_CLIENT_ID, HMRC_CLIENT_SECRET)', { system: 'hmrc' });
      throw upstreamUnavailable('hmrc', `token endpoint answered HTTP ${res.status}`);
    }
    const t = res.json<{ access_token: string; refresh_token: string; expires_in: number; scope?: string }>();
    return { tokens: { access: t.access_token, refresh: t.refresh_token }, scope: t.scope ?? VAT_SCOPES, expiresAt: new Date(Date.now() + t.expires_in * 1000) };
  }

  // Sealed for its organisation and name, so a sealed grant copied to another organisation's row does not open. The
  // default organisation keeps the name alone, the context its grant was sealed under before organisations.
  const context = (org: string, id: string) => (org === DEFAULT_ORGANISATION ? `hmrc:${id}` : `hmrc:${org}:${id}`);
  const open = (g: GrantRow) => rt.vault.openJson<Tokens>(g.sealed, context(g.organisationId, g.id));
  const seal = (org: string, t: Tokens) => {
    const sealed = rt.vault.seal(t, context(org, GRANT));
    return { sealed, keyId: sealed.split('.')[1]! };
  };

  async function currentGrant(org: string): Promise<GrantRow> {
    const g = await store.grant(org, GRANT);
    if (!g) throw unauthenticated('the hub is not authorised at HMRC: an operator runs startHmrcAuthorisation and signs in with the Government Gateway', { system: 'hmrc' });
    return g;
  }

  /**
   * A usable access token, refreshed when it is about to expire. Refresh tokens rotate at HMRC, so when two
   * processes refresh at once one of them is refused: it then takes the tokens the other one stored.
   */
  async function accessToken(org: string, force = false): Promise<string> {
    const g = await currentGrant(org);
    if (!force && g.accessExpiresAt.getTime() - Date.now() > REFRESH_MARGIN_MS) return open(g).access;
    const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: open(g).refresh });
    if (!refreshed) {
      const now = await currentGrant(org);
      if (now.sealed !== g.sealed) return open(now).access;
      await store.removeGrant(org, GRANT);
      throw unauthenticated('the HMRC authorisation has expired or was withdrawn: run startHmrcAuthorisation again', { system: 'hmrc' });
    }
    const next = { ...seal(org, refreshed.tokens), scope: refreshed.scope, accessExpiresAt: refreshed.expiresAt, refreshedAt: new Date() };
    if (!(await store.replaceTokens(org, GRANT, g.sealed, next))) return open(await currentGrant(org)).access;
    return refreshed.tokens.access;
  }

  /** One VAT API call with the caller's organisation's grant: the version's Accept header, the bearer token (refreshed once on 401), the fraud headers. */
  async function vat(method: 'GET' | 'POST', path: string, p: Principal, o: { body?: object; scenario?: string } = {}): Promise<OutboundResponse> {
    configured();
    const send = async (token: string) => {
      await takeSlot();
      return rt.http.request('hmrc.vat', {
        method,
        url: `${baseUrl}${path}`,
        headers: { accept: VAT_ACCEPT, authorization: `Bearer ${token}`, ...fraud(p.client), ...(o.scenario && simulated ? { 'Gov-Test-Scenario': o.scenario } : {}) },
        body: o.body,
        timeoutMs: cfg.timeoutMs,
      });
    };
    let res = await send(await accessToken(p.organisationId));
    if (res.status === 401) res = await send(await accessToken(p.organisationId, true));
    return res;
  }

  /** HMRC's error body as the hub's errors: the HMRC code and its field errors are kept in the details. */
  function hmrcError(res: OutboundResponse): HubError {
    let body: { code?: string; message?: string; errors?: Array<{ code: string; message: string; path?: string }> } = {};
    try {
      body = JSON.parse(res.body);
    } catch {
      // not JSON: the status says enough
    }
    const details = { system: 'hmrc', hmrcCode: body.code, httpStatus: res.status, ...(body.errors ? { errors: body.errors } : {}) };
    const message = `HMRC: ${body.message ?? `HTTP ${res.status}`}${body.errors?.length ? ` (${body.errors.map((e) => `${e.path ?? ''} ${e.code}`.trim()).join('; ')})` : ''}`;
    if (res.status === 400) return new HubError('BAD_USER_INPUT', message, details);
    if (res.status === 401) return unauthenticated(message, details);
    if (res.status === 403) {
      if (body.code === 'DUPLICATE_SUBMISSION') return conflict(message, details);
      if (body.code === 'CLIENT_OR_AGENT_NOT_AUTHORISED') return forbidden(message, details);
      return new HubError('BAD_USER_INPUT', message, details);
    }
    if (res.status === 404) return new HubError('NOT_FOUND', message, details);
    if (res.status === 429) return rateLimited(message, details);
    return upstreamUnavailable('hmrc', message, details);
  }

  function checkVrn(vrn: string): string {
    if (!VRN.test(vrn)) throw badInput('vrn must be the 9 digits of a VAT registration number', { field: 'vrn' });
    return vrn;
  }

  function checkReturn(input: VatReturnInput): Record<string, unknown> {
    if (!PERIOD_KEY.test(input.periodKey)) throw badInput('periodKey must be the 4 characters of an obligation (such as 24A1)', { field: 'input.periodKey' });
    if (input.finalised !== true) throw badInput('finalised must be true: the declaration that the return is true and complete', { field: 'input.finalised' });
    const p = Object.fromEntries([...PENCE_BOXES.map((b) => [b, pence(input[b], b, false)]), ...POUND_BOXES.map((b) => [b, pence(input[b], b, true)])]) as Record<Box, number>;
    for (const b of ['vatReclaimedCurrPeriod', 'netVatDue'] as const) if (p[b] < 0) throw badInput(`${b} cannot be negative`, { field: `input.${b}` });
    if (p.totalVatDue !== p.vatDueSales + p.vatDueAcquisitions) throw badInput('totalVatDue (box 3) must be vatDueSales + vatDueAcquisitions (boxes 1 + 2)', { field: 'input.totalVatDue' });
    if (p.netVatDue !== Math.abs(p.totalVatDue - p.vatReclaimedCurrPeriod)) throw badInput('netVatDue (box 5) must be the difference between totalVatDue and vatReclaimedCurrPeriod (boxes 3 and 4)', { field: 'input.netVatDue' });
    return { periodKey: input.periodKey, ...Object.fromEntries(Object.entries(p).map(([b, v]) => [b, v / 100])), finalised: true };
  }

  const shape = (s: SubmissionRow, duplicate: boolean) => ({ ...s, receipt: s.receipt, duplicate });

  const service = {
    simulated,
    async connection(org: string) {
      const g = await store.grant(org, GRANT);
      return {
        environment: cfg.environment,
        simulated,
        authorised: !!g,
        scopes: g ? g.scope.split(' ') : [],
        accessTokenExpiresAt: g?.accessExpiresAt ?? null,
        grantedAt: g?.grantedAt ?? null,
        grantedBy: g?.grantedBy ?? null,
      };
    },

    /** Where to send the operator to sign in at HMRC; `state` ties their return to this request (10 minutes, once). */
    async startAuthorisation(p: Principal) {
      configured();
      if (!cfg.redirectUri) throw badInput('HMRC_REDIRECT_URI is not configured: HMRC needs to know where to send the user back', { field: 'HMRC_REDIRECT_URI' });
      const state = randomBytes(24).toString('base64url');
      const started: StartedBy = { organisationId: p.organisationId, client: p.client };
      await rt.kv.set(`hmrc:oauth-state:${state}`, JSON.stringify(started), STATE_TTL_SECONDS);
      const url = new URL(`${baseUrl}/oauth/authorize`);
      url.search = new URLSearchParams({ response_type: 'code', client_id: cfg.clientId ?? '', scope: VAT_SCOPES, state, redirect_uri: cfg.redirectUri }).toString();
      return { authorizeUrl: url.toString(), state, expiresAt: new Date(Date.now() + STATE_TTL_SECONDS * 1000) };
    },

    /**
     * Exchanges the code HMRC sent back for tokens, kept sealed, as the grant of the organisation that started the
     * sign-in; the state must be one this hub issued. Another organisation's state is unknown to the caller, and stays
     * usable by its own.
     */
    async completeAuthorisation(caller: Principal, code: string, state: string) {
      // Checked first (another organisation's attempt leaves the state alone), then taken at once: of two callbacks
      // with one state, only one goes on.
      const key = `hmrc:oauth-state:${state}`;
      const started = readState(await rt.kv.get(key));
      if (!started || !mayCompleteCallback(caller, started.organisationId) || (await rt.kv.take(key)) === null) {
        throw badInput('unknown or expired state: start the authorisation again', { field: 'state' });
      }
      const org = started.organisationId;
      const t = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: cfg.redirectUri ?? '' });
      if (!t) throw badInput('HMRC did not accept the authorisation code (used already, or expired): start the authorisation again', { field: 'code' });
      const now = new Date();
      await store.saveGrant(
        org,
        { id: GRANT, ...seal(org, t.tokens), scope: t.scope, accessExpiresAt: t.expiresAt, grantedAt: now, grantedBy: started.client, refreshedAt: null },
        { type: 'hmrc.authorised', source: 'hub.hmrc', payload: { scopes: t.scope.split(' '), grantedBy: started.client, environment: cfg.environment } },
      );
      relay.kick();
      return service.connection(org);
    },

    async disconnect(p: Principal) {
      await store.removeGrant(p.organisationId, GRANT);
      log.info({ actor: p.client, organisationId: p.organisationId }, 'HMRC authorisation removed');
      return service.connection(p.organisationId);
    },

    async obligations(p: Principal, vrn: string, q: { from: string; to: string; status?: 'OPEN' | 'FULFILLED' | null; scenario?: string | null }) {
      checkVrn(vrn);
      for (const [f, v] of [['from', q.from], ['to', q.to]] as const) if (!DATE.test(v) || Number.isNaN(Date.parse(v))) throw badInput(`${f} must be a date such as 2025-04-01`, { field: f });
      if (q.from > q.to) throw badInput('from must not be after to', { field: 'from' });
      const params = new URLSearchParams({ from: q.from, to: q.to, ...(q.status ? { status: q.status === 'OPEN' ? 'O' : 'F' } : {}) });
      const res = await vat('GET', `/organisations/vat/${vrn}/obligations?${params}`, p, { scenario: q.scenario ?? undefined });
      if (res.status === 404) return [];
      if (res.status !== 200) throw hmrcError(res);
      const body = res.json<{ obligations: Array<{ periodKey: string; start: string; end: string; due: string; status: 'O' | 'F'; received?: string }> }>();
      return body.obligations.map((o) => ({ ...o, status: o.status === 'F' ? 'FULFILLED' : 'OPEN', received: o.received ?? null }));
    },

    async viewReturn(p: Principal, vrn: string, periodKey: string) {
      checkVrn(vrn);
      if (!PERIOD_KEY.test(periodKey)) throw badInput('periodKey must be the 4 characters of an obligation', { field: 'periodKey' });
      const res = await vat('GET', `/organisations/vat/${vrn}/returns/${encodeURIComponent(periodKey)}`, p);
      if (res.status === 404) return null;
      if (res.status !== 200) throw hmrcError(res);
      const r = res.json<Record<string, unknown>>();
      // Amounts back to the decimal strings the graph uses.
      return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? (POUND_BOXES as readonly string[]).includes(k) ? String(v) : v.toFixed(2) : v]));
    },

    /**
     * Files a return once. The period is claimed in Postgres before anything is sent, so two callers (or two
     * processes) cannot both file it; HMRC's receipt is stored with the event announcing it. When an earlier attempt
     * got no answer, the retry is answered DUPLICATE_SUBMISSION if HMRC had in fact accepted it: the return is then
     * read back, and recorded as accepted if it is the one sent.
     */
    async submitReturn(p: Principal, vrn: string, input: VatReturnInput) {
      checkVrn(vrn);
      const body = checkReturn(input);
      const org = p.organisationId;
      const actor = p.client;
      let existing = await store.submission(org, vrn, input.periodKey);
      if (existing?.status === 'ACCEPTED') return shape(existing, true);
      // Several times the whole call's timeout, retries included: a submission still SENDING then was orphaned.
      if (existing?.status === 'SENDING' && (await store.expireSending(org, vrn, input.periodKey, new Date(Date.now() - 10 * cfg.timeoutMs)))) {
        existing = await store.submission(org, vrn, input.periodKey);
      }
      if (existing?.status === 'SENDING') throw conflict(`a return for ${input.periodKey} is being submitted right now`, { periodKey: input.periodKey });
      const claimed = existing ? await store.retryFailed(org, vrn, input.periodKey, body, actor) : await store.claimSubmission(org, { vrn, periodKey: input.periodKey, body, submittedBy: actor });
      if (!claimed) throw conflict(`a return for ${input.periodKey} is being submitted right now`, { periodKey: input.periodKey });
      // What a finance reader of the event needs to follow up the return; the boxes stay in the hub's table.
      const announce = (receipt: Record<string, unknown>) => ({
        type: 'hmrc.vat.return_submitted',
        source: 'hub.hmrc',
        payload: { vrn, periodKey: input.periodKey, netVatDue: body.netVatDue, formBundleNumber: receipt.formBundleNumber ?? null, submittedBy: actor },
      });
      let res: OutboundResponse;
      try {
        res = await vat('POST', `/organisations/vat/${vrn}/returns`, p, { body });
      } catch (err) {
        await store.fail(org, vrn, input.periodKey, `no answer from HMRC: ${(err as Error).message}`);
        throw err;
      }
      if (res.status === 201 || res.status === 200) {
        const receipt = res.json<Record<string, unknown>>();
        const row = await store.complete(org, vrn, input.periodKey, receipt, res.headers['x-correlationid'] ?? null, announce(receipt));
        relay.kick();
        return shape(row, false);
      }
      const error = hmrcError(res);
      if (error.details?.hmrcCode === 'DUPLICATE_SUBMISSION' && existing?.error?.startsWith('no answer')) {
        const filed = await service.viewReturn(p, vrn, input.periodKey);
        const same = filed && PENCE_BOXES.every((b) => Number(filed[b]) === body[b]) && POUND_BOXES.every((b) => Number(filed[b]) === body[b]);
        if (same) {
          const row = await store.complete(org, vrn, input.periodKey, { confirmedBy: 'read-back', processingDate: filed.processingDate ?? null }, null, announce({}));
          relay.kick();
          return shape(row, true);
        }
      }
      await store.fail(org, vrn, input.periodKey, error.message);
      throw error;
    },

    async submissions(org: string, vrn: string) {
      return (await store.submissions(org, checkVrn(vrn))).map((s) => shape(s, false));
    },

    start: async () => relay.start(),
    stop: () => relay.stop(),
  };
  return service;
}

export type HmrcService = ReturnType<typeof createHmrcService>;

