import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorization, parseBasic, safeEqual } from '../auth.ts';
import { sendJson } from '../http.ts';
import { NO_STORE, OAuthError, readForm, single, redirectAllowed } from '../oauth.ts';
import { TokenStore } from '../tokens.ts';
import { HmrcError } from './vat.ts';

/**
 * HMRC's OAuth 2.0 for user-restricted endpoints: /oauth/authorize (the simulated user grants at once) and
 * /oauth/token with the authorization_code and refresh_token grants (plus client_credentials, for the
 * application-restricted Test Fraud Prevention Headers API). Refresh tokens rotate: the old one dies on use.
 */

export const HMRC_SCOPES = new Set(['read:vat', 'write:vat']);
const CODE_TTL_MS = 10 * 60 * 1000;

export interface HmrcOAuthOptions {
  clientId: string;
  clientSecret: string;
  redirectUris?: string[];
  accessTokenTtlSeconds: number;
}

interface Grant {
  clientId: string;
  scope: string;
}
interface AuthCode extends Grant {
  redirectUri: string;
  expiresAt: number;
}

export interface Caller {
  clientId: string;
  scopes: Set<string>;
}

export class HmrcOAuth {
  private readonly tokens = new TokenStore();
  private readonly scopes = new Map<string, string>(); // access token -> scope
  private readonly codes = new Map<string, AuthCode>();
  private readonly refreshTokens = new Map<string, Grant>();

  constructor(private readonly o: HmrcOAuthOptions) {
    if (!(o.accessTokenTtlSeconds > 0)) throw new Error('accessTokenTtlSeconds must be positive');
  }

  get tokensIssued(): number {
    return this.tokens.issued;
  }

  expireAll(): void {
    this.tokens.expireAll();
  }

  /** GET /oauth/authorize: 302 back with a one-time code, or 400 JSON (never a redirect to an unapproved URI). */
  authorize(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const fail = (error: string, description: string): void => sendJson(req, res, 400, { error, error_description: description }, NO_STORE);
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state']) {
      if (q.getAll(name).length > 1) return fail('invalid_request', `${name} must not be repeated`);
    }
    const clientId = q.get('client_id');
    if (!clientId) return fail('invalid_request', 'client_id is required');
    if (!safeEqual(clientId, this.o.clientId)) return fail('invalid_client', 'unknown client_id');
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return fail('invalid_request', 'redirect_uri is required');
    if (!redirectAllowed(redirectUri, this.o.redirectUris)) return fail('invalid_request', 'redirect_uri is not registered for this application');
    const responseType = q.get('response_type');
    if (responseType !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    const requested = (q.get('scope') ?? '').split(' ').filter(Boolean);
    if (requested.length === 0) return fail('invalid_scope', 'scope is required (read:vat and/or write:vat)');
    const unknown = requested.filter((s) => !HMRC_SCOPES.has(s));
    if (unknown.length > 0) return fail('invalid_scope', `unknown scope: ${unknown.join(' ')}`);

    this.purgeCodes();
    const code = randomBytes(16).toString('hex');
    this.codes.set(code, { clientId, scope: [...new Set(requested)].join(' '), redirectUri, expiresAt: Date.now() + CODE_TTL_MS });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = q.get('state');
    if (state !== null) target.searchParams.set('state', state);
    res.statusCode = 302;
    res.setHeader('Location', target.toString());
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  }

  /** POST /oauth/token; RFC 6749 error bodies. */
  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const form = await readForm(req);
      const grantType = single(form, 'grant_type');
      if (grantType === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
      if (!['authorization_code', 'refresh_token', 'client_credentials'].includes(grantType)) {
        throw new OAuthError(400, 'unsupported_grant_type', `grant_type "${grantType}" is not supported`);
      }
      const clientId = this.authenticateClient(req, form);
      let grant: Grant;
      let withRefresh = true;
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
        grant = { clientId, scope: issued.scope };
      } else if (grantType === 'refresh_token') {
        const refresh = single(form, 'refresh_token');
        if (refresh === undefined) throw new OAuthError(400, 'invalid_request', 'refresh_token is required');
        const issued = this.refreshTokens.get(refresh);
        if (!issued || issued.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 'refresh token is invalid or already used');
        this.refreshTokens.delete(refresh); // rotation
        grant = issued;
      } else {
        const requested = (single(form, 'scope') ?? '').split(' ').filter(Boolean);
        const unknown = requested.filter((s) => !HMRC_SCOPES.has(s));
        if (unknown.length > 0) throw new OAuthError(400, 'invalid_scope', `unknown scope: ${unknown.join(' ')}`);
        grant = { clientId, scope: [...new Set(requested)].join(' ') };
        withRefresh = false;
      }

      this.purgeScopes();
      const accessToken = this.tokens.issue(grant.clientId, this.o.accessTokenTtlSeconds, grant.scope);
      this.scopes.set(accessToken, grant.scope);
      const body: Record<string, unknown> = { access_token: accessToken };
      if (withRefresh) {
        const refreshToken = randomBytes(16).toString('hex');
        this.refreshTokens.set(refreshToken, grant);
        body.refresh_token = refreshToken;
      }
      Object.assign(body, { expires_in: this.o.accessTokenTtlSeconds, scope: grant.scope, token_type: 'bearer' });
      sendJson(req, res, 200, body, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(req, res, err.status, { error: err.code, error_description: err.message }, { ...NO_STORE, ...err.headers });
    }
  }

  /** client_id + client_secret in the body (HMRC's way) or HTTP Basic. */
  private authenticateClient(req: IncomingMessage, form: URLSearchParams): string {
    const basic = parseBasic(req);
    const id = basic?.username ?? single(form, 'client_id');
    const secret = basic?.password ?? single(form, 'client_secret');
    if (id === undefined || secret === undefined) throw new OAuthError(401, 'invalid_client', 'client_id and client_secret are required');
    const idOk = safeEqual(id, this.o.clientId);
    const secretOk = safeEqual(secret, this.o.clientSecret);
    if (!idOk || !secretOk) throw new OAuthError(401, 'invalid_client', 'client authentication failed');
    return this.o.clientId;
  }

  /** The caller behind `Authorization: Bearer`, else 401 MISSING_CREDENTIALS / INVALID_CREDENTIALS (unknown or expired). */
  authenticate(req: IncomingMessage): Caller {
    const token = authorization(req, 'Bearer');
    if (!req.headers.authorization) throw new HmrcError(401, 'MISSING_CREDENTIALS', 'Authentication information is not provided');
    if (!token || this.tokens.check(token) !== 'valid') throw new HmrcError(401, 'INVALID_CREDENTIALS', 'Invalid Authentication information provided');
    return { clientId: this.tokens.clientOf(token)!, scopes: new Set((this.scopes.get(token) ?? '').split(' ').filter(Boolean)) };
  }

  private purgeCodes(): void {
    const now = Date.now();
    for (const [code, c] of this.codes) if (c.expiresAt <= now) this.codes.delete(code);
  }

  // TokenStore forgets long-expired tokens; forget their scopes with them.
  private purgeScopes(): void {
    for (const token of this.scopes.keys()) if (this.tokens.check(token) === 'unknown') this.scopes.delete(token);
  }
}
