import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorization, parseBasic, safeEqual } from '../auth.ts';
import { sendJson } from '../http.ts';
import { NO_STORE, OAuthError, readForm, single, redirectAllowed } from '../oauth.ts';
import { TokenStore } from '../tokens.ts';
import { ObError, type PaymentsService } from './payments.ts';

/**
 * The bank's OAuth 2.0 / FAPI authorisation server, simplified:
 * - POST /token: client_credentials (scope payments) for the TPP-level endpoints, and authorization_code for the
 *   PSU-level POST /domestic-payments; the latter token is bound to the consent its code was issued for.
 *   Client authentication is client_secret_basic or client_secret_post (not tls_client_auth / private_key_jwt).
 * - GET /authorize: FAPI would carry a signed request object (`request=<JWT>` with an `openbanking_intent_id` claim
 *   naming the ConsentId); here the ConsentId travels as a plain `consent_id` query parameter instead, no request
 *   object, nonce or id_token (response_type is plain `code`). The simulated PSU decides at once: approve by
 *   default, or `decision=reject`. Bad client_id / redirect_uri answer 400 JSON and never redirect; once the
 *   redirect URI is trusted, other problems redirect with an RFC 6749 `error`.
 */

const CODE_TTL_MS = 10 * 60 * 1000;
const ACCESS_TOKEN_TTL_SECONDS = 3600;
const SCOPES = new Set(['openid', 'payments']);

export interface ObOAuthOptions {
  clientId: string;
  clientSecret: string;
  redirectUris?: string[];
}

interface AuthCode {
  clientId: string;
  consentId: string;
  redirectUri: string;
  scope: string;
  expiresAt: number;
}

export type Caller = { clientId: string; kind: 'client_credentials' } | { clientId: string; kind: 'authorization_code'; consentId: string };

interface Binding {
  kind: Caller['kind'];
  consentId?: string;
}

export class ObOAuth {
  private readonly tokens = new TokenStore();
  private readonly bindings = new Map<string, Binding>(); // access token -> what it may do
  private readonly codes = new Map<string, AuthCode>();

  constructor(
    private readonly o: ObOAuthOptions,
    private readonly payments: PaymentsService,
  ) {}

  /** GET /authorize (see the module comment for the simplification of the FAPI request object). */
  authorize(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const fail = (error: string, description: string): void => sendJson(req, res, 400, { error, error_description: description }, NO_STORE);
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'consent_id', 'decision']) {
      if (q.getAll(name).length > 1) return fail('invalid_request', `${name} must not be repeated`);
    }
    const clientId = q.get('client_id');
    if (!clientId) return fail('invalid_request', 'client_id is required');
    if (!safeEqual(clientId, this.o.clientId)) return fail('invalid_client', 'unknown client_id');
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return fail('invalid_request', 'redirect_uri is required');
    if (!redirectAllowed(redirectUri, this.o.redirectUris)) return fail('invalid_request', 'redirect_uri is not registered for this client');

    const state = q.get('state');
    const redirect = (params: Record<string, string>): void => {
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      if (state !== null) target.searchParams.set('state', state);
      res.statusCode = 302;
      res.setHeader('Location', target.toString());
      res.setHeader('Cache-Control', 'no-store');
      res.end();
    };
    const redirectError = (error: string, description: string): void => redirect({ error, error_description: description });

    if (q.get('response_type') !== 'code') return redirectError('unsupported_response_type', 'response_type must be code');
    const requested = (q.get('scope') ?? '').split(' ').filter(Boolean);
    const unknown = requested.filter((s) => !SCOPES.has(s));
    if (unknown.length > 0) return redirectError('invalid_scope', `unknown scope: ${unknown.join(' ')}`);
    if (!requested.includes('payments')) return redirectError('invalid_scope', 'scope must include payments');
    const consentId = q.get('consent_id');
    if (!consentId) return redirectError('invalid_request', 'consent_id (the ConsentId to authorise) is required');
    const check = this.payments.consentForAuthorisation(clientId, consentId);
    if (!check.ok) return redirectError('invalid_request', check.reason);
    const decision = q.get('decision') ?? 'approve';
    if (decision !== 'approve' && decision !== 'reject') return redirectError('invalid_request', 'decision must be approve or reject');

    if (decision === 'reject') {
      this.payments.decide(consentId, false);
      return redirectError('access_denied', 'the PSU rejected the consent');
    }
    this.payments.decide(consentId, true);
    this.purgeCodes();
    const code = randomBytes(16).toString('hex');
    this.codes.set(code, { clientId, consentId, redirectUri, scope: [...new Set(requested)].join(' '), expiresAt: Date.now() + CODE_TTL_MS });
    redirect({ code });
  }

  /** POST /token; RFC 6749 error bodies. */
  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const form = await readForm(req);
      const grantType = single(form, 'grant_type');
      if (grantType === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
      if (grantType !== 'client_credentials' && grantType !== 'authorization_code') {
        throw new OAuthError(400, 'unsupported_grant_type', `grant_type "${grantType}" is not supported`);
      }
      const clientId = this.authenticateClient(req, form);
      let binding: Binding;
      let scope: string;
      if (grantType === 'authorization_code') {
        const code = single(form, 'code');
        const redirectUri = single(form, 'redirect_uri');
        if (code === undefined) throw new OAuthError(400, 'invalid_request', 'code is required');
        if (redirectUri === undefined) throw new OAuthError(400, 'invalid_request', 'redirect_uri is required');
        const issued = this.codes.get(code);
        this.codes.delete(code); // one use, successful or not
        if (!issued || issued.expiresAt <= Date.now() || issued.clientId !== clientId) {
          throw new OAuthError(400, 'invalid_grant', 'authorization code is invalid, expired or already used');
        }
        if (issued.redirectUri !== redirectUri) throw new OAuthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
        if (this.payments.consentStatus(issued.consentId) !== 'Authorised') throw new OAuthError(400, 'invalid_grant', 'the consent is no longer Authorised');
        binding = { kind: 'authorization_code', consentId: issued.consentId };
        scope = issued.scope;
      } else {
        const requested = (single(form, 'scope') ?? 'payments').split(' ').filter(Boolean);
        const unknown = requested.filter((s) => s !== 'payments');
        if (unknown.length > 0 || requested.length === 0) throw new OAuthError(400, 'invalid_scope', 'client_credentials grants only scope payments');
        binding = { kind: 'client_credentials' };
        scope = 'payments';
      }
      this.purgeBindings();
      const accessToken = this.tokens.issue(clientId, ACCESS_TOKEN_TTL_SECONDS, scope);
      this.bindings.set(accessToken, binding);
      sendJson(req, res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS, scope }, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(req, res, err.status, { error: err.code, error_description: err.message }, { ...NO_STORE, ...err.headers });
    }
  }

  /** client_secret_basic or client_secret_post, not both. */
  private authenticateClient(req: IncomingMessage, form: URLSearchParams): string {
    const basic = parseBasic(req);
    const formId = single(form, 'client_id');
    const formSecret = single(form, 'client_secret');
    const challenge = { 'WWW-Authenticate': 'Basic realm="open-banking-sim"' };
    if (basic && formSecret !== undefined) throw new OAuthError(400, 'invalid_request', 'use either HTTP Basic or client_secret in the body, not both');
    const id = basic ? basic.username : formId;
    const secret = basic ? basic.password : formSecret;
    if (id === undefined || secret === undefined) throw new OAuthError(401, 'invalid_client', 'client authentication required (HTTP Basic or client_id/client_secret)', challenge);
    // Basic credentials are form-encoded first (RFC 6749 §2.3.1); many clients skip that, so both readings count.
    const readings = (v: string): string[] => (basic ? [v, decodeFormComponent(v)] : [v]);
    const idOk = readings(id).some((v) => safeEqual(v, this.o.clientId));
    const secretOk = readings(secret).some((v) => safeEqual(v, this.o.clientSecret));
    if (!idOk || !secretOk || (basic && formId !== undefined && formId !== this.o.clientId)) {
      throw new OAuthError(401, 'invalid_client', 'client authentication failed', basic ? challenge : {});
    }
    return this.o.clientId;
  }

  /** The caller behind `Authorization: Bearer`, else 401 (no body, as in the spec). */
  authenticate(req: IncomingMessage): Caller {
    const token = authorization(req, 'Bearer');
    if (!token) throw new ObError(401, [], 'missing Bearer token', { 'WWW-Authenticate': 'Bearer realm="open-banking-sim"' });
    const binding = this.bindings.get(token);
    const clientId = this.tokens.clientOf(token);
    if (!binding || clientId === undefined) {
      throw new ObError(401, [], 'invalid or expired access token', { 'WWW-Authenticate': 'Bearer realm="open-banking-sim", error="invalid_token"' });
    }
    return binding.kind === 'authorization_code' ? { clientId, kind: binding.kind, consentId: binding.consentId! } : { clientId, kind: binding.kind };
  }

  private purgeCodes(): void {
    const now = Date.now();
    for (const [code, c] of this.codes) if (c.expiresAt <= now) this.codes.delete(code);
  }

  private purgeBindings(): void {
    for (const token of this.bindings.keys()) if (this.tokens.check(token) === 'unknown') this.bindings.delete(token);
  }
}

/** application/x-www-form-urlencoded decoding; a value that does not decode is kept as it is. */
function decodeFormComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
