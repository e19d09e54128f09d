import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBasic, REALM, safeEqual } from './auth.ts';
import { AssertionRejected, createClientAssertionVerifier } from './client-assertion.ts';
import { readBody, sendJson } from './http.ts';
import type { TokenStore } from './tokens.ts';
import type { SimAuth } from './types.ts';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope';

/** RFC 6749 §5.2 error; kept separate from HttpError because the body shape differs. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: OAuthErrorCode,
    description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

// Token responses must never be cached (RFC 6749 §5.1); applied to errors too so nothing stale is reused.
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

type OAuthAuth = Extract<SimAuth, { kind: 'OAUTH2_CLIENT_CREDENTIALS' | 'JWT_CLIENT_ASSERTION' }>;

export interface TokenEndpointOptions {
  auth: OAuthAuth;
  tokenUrl: string;
  tokens: TokenStore;
  ttlSeconds: number;
}

export type TokenEndpoint = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createTokenEndpoint(o: TokenEndpointOptions): TokenEndpoint {
  const verifyAssertion =
    o.auth.kind === 'JWT_CLIENT_ASSERTION' ? createAssertionVerifier(o.auth, o.tokenUrl) : undefined;

  return async (req, res) => {
    try {
      const form = await readForm(req);
      const grantType = single(form, 'grant_type');
      if (grantType === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
      if (grantType !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', `grant_type "${grantType}" is not supported`);
      }

      let clientId: string;
      let scope: string | undefined;
      if (o.auth.kind === 'OAUTH2_CLIENT_CREDENTIALS') {
        clientId = authenticateWithSecret(req, form, o.auth);
        scope = grantScope(single(form, 'scope'), o.auth.scope);
      } else {
        clientId = await verifyAssertion!(req, form);
      }

      const accessToken = o.tokens.issue(clientId, o.ttlSeconds, scope);
      const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: o.ttlSeconds };
      if (scope !== undefined) body.scope = scope;
      sendJson(req, res, 200, body, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(req, res, err.status, { error: err.code, error_description: err.message }, { ...NO_STORE, ...err.headers });
    }
  };
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await readBody(req));
}

/** RFC 6749 §3.2: parameters MUST NOT be repeated. */
export function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new OAuthError(400, 'invalid_request', `${name} must not be repeated`);
  return values[0];
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded first; accept raw values too, as many clients skip that. */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function authenticateWithSecret(
  req: IncomingMessage,
  form: URLSearchParams,
  auth: Extract<SimAuth, { kind: 'OAUTH2_CLIENT_CREDENTIALS' }>,
): string {
  const basic = parseBasic(req);
  const formId = single(form, 'client_id');
  const formSecret = single(form, 'client_secret');
  const basicChallenge = { 'WWW-Authenticate': `Basic realm="${REALM}"` };

  if (basic) {
    // §2.3: a client MUST NOT use more than one authentication method per request.
    if (formSecret !== undefined) {
      throw new OAuthError(400, 'invalid_request', 'use either HTTP Basic or client_secret in the body, not both');
    }
    const id = [basic.username, formDecode(basic.username)].find((v) => safeEqual(v, auth.clientId));
    const secretOk = [basic.password, formDecode(basic.password)].some((v) => safeEqual(v, auth.clientSecret));
    if (id === undefined || !secretOk || (formId !== undefined && formId !== id)) {
      // §5.2: a client that tried Authorization-header auth gets 401 with a matching challenge.
      throw new OAuthError(401, 'invalid_client', 'client authentication failed', basicChallenge);
    }
    return auth.clientId;
  }
  if (formId === undefined || formSecret === undefined) {
    throw new OAuthError(401, 'invalid_client', 'client authentication required (HTTP Basic or client_id/client_secret)', basicChallenge);
  }
  const idOk = safeEqual(formId, auth.clientId);
  const secretOk = safeEqual(formSecret, auth.clientSecret);
  if (!idOk || !secretOk) throw new OAuthError(401, 'invalid_client', 'client authentication failed');
  return auth.clientId;
}

/** Requested scopes must be a subset of the client's configured scope; absent request means "all of it". */
function grantScope(requested: string | undefined, allowed: string | undefined): string | undefined {
  if (requested === undefined || requested.trim() === '') return allowed;
  if (allowed === undefined) return undefined; // this system has no scopes: ignore the request (§3.3 allows it)
  const allowedSet = new Set(allowed.split(' ').filter(Boolean));
  const extra = requested.split(' ').filter((s) => s && !allowedSet.has(s));
  if (extra.length > 0) throw new OAuthError(400, 'invalid_scope', `scope not permitted: ${extra.join(' ')}`);
  return requested.split(' ').filter(Boolean).join(' ');
}

/** RFC 7523 §3 client authentication (private_key_jwt), with replay protection on jti (see client-assertion.ts). */
function createAssertionVerifier(
  auth: Extract<SimAuth, { kind: 'JWT_CLIENT_ASSERTION' }>,
  tokenUrl: string,
): (req: IncomingMessage, form: URLSearchParams) => Promise<string> {
  const key: KeyObject = createPublicKey(auth.publicKeyPem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error('JWT_CLIENT_ASSERTION publicKeyPem must be an RSA public key');
  const verify = createClientAssertionVerifier({
    clientId: auth.clientId,
    audience: tokenUrl,
    keys: { [auth.kid ?? '*']: key },
    requireKid: auth.kid !== undefined,
  });

  return async (req, form) => {
    const assertionType = single(form, 'client_assertion_type');
    const assertion = single(form, 'client_assertion');
    if (assertionType === undefined || assertion === undefined) {
      if (req.headers.authorization || form.has('client_secret')) {
        throw new OAuthError(401, 'invalid_client', 'this client must authenticate with a signed JWT client_assertion');
      }
      throw new OAuthError(400, 'invalid_request', 'client_assertion_type and client_assertion are required');
    }
    if (assertionType !== JWT_BEARER_ASSERTION_TYPE) {
      throw new OAuthError(400, 'invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    }
    const formId = single(form, 'client_id');
    if (formId !== undefined && formId !== auth.clientId) {
      throw new OAuthError(401, 'invalid_client', 'client_id does not match the assertion');
    }
    try {
      await verify(assertion);
    } catch (err) {
      if (err instanceof AssertionRejected) throw new OAuthError(401, 'invalid_client', err.message);
      throw err;
    }
    return auth.clientId;
  };
}

/**
 * Whether an authorization request may send the browser back to `uri`: one of the registered redirect URIs, or,
 * when none are registered, any plain-HTTP loopback address (what a local hub and its tests use).
 */
export function redirectAllowed(uri: string, registered: readonly string[] | undefined): boolean {
  if (registered) return registered.includes(uri);
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost');
  } catch {
    return false;
  }
}
