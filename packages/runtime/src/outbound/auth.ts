import { createHash, createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { badInput, rateLimited, unauthenticated, upstreamError } from '../errors.ts';
import type { HttpClient, TlsIdentity } from './client.ts';

/** How the hub proves who it is to one external system. Secrets live in Credentials (sealed in the vault). */
export type AuthConfig =
  | { kind: 'NONE' }
  | { kind: 'API_KEY'; header?: string /* default X-API-Key */ }
  | { kind: 'BASIC' }
  | { kind: 'OAUTH2_CLIENT_CREDENTIALS'; tokenUrl: string; scope?: string }
  | { kind: 'JWT_CLIENT_ASSERTION'; tokenUrl: string; kid?: string; scope?: string }
  | { kind: 'CLIENT_CERTIFICATE' };

export type AuthKind = AuthConfig['kind'];

export type Credentials = {
  apiKey?: string;
  username?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  privateKeyPem?: string;
  certificatePem?: string;
  caPem?: string;
};

export interface Authorization {
  /** Merge into the request headers. Names are lower-case except a configured API key header. */
  headers: Record<string, string>;
  tls?: TlsIdentity;
  /** When a bearer token stops being valid. */
  expiresAt?: Date;
}

export interface Authenticator {
  authorize(system: string, auth: AuthConfig, creds: Credentials): Promise<Authorization>;
  /** Forget cached tokens of a system, e.g. after the API answered 401 to a cached token. */
  invalidate(system: string): void;
}

// NHS Digital (and RFC 7523 practice) reject assertions living longer than 5 minutes.
const ASSERTION_LIFETIME_S = 300;
// Refresh early so a token cannot expire between authorize() and the API call.
const EXPIRY_MARGIN_MS = 30_000;
// RFC 6749 makes expires_in optional; assume short-lived rather than caching forever.
const DEFAULT_EXPIRES_IN_S = 300;
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function need<F extends keyof Credentials>(creds: Credentials, field: F, kind: AuthKind): string {
  const v = creds[field];
  // Name the field, never echo a value.
  if (typeof v !== 'string' || v === '') throw badInput(`${field} is required for ${kind} authentication`, { field, kind });
  return v;
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded before going into HTTP Basic.
const formEncode = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const fingerprint = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

function rsaKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem); // PKCS#8 or PKCS#1 PEM
  } catch {
    throw badInput('privateKeyPem is not a readable PEM private key', { field: 'privateKeyPem', kind: 'JWT_CLIENT_ASSERTION' });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw badInput('privateKeyPem must be an RSA key (RS512)', { field: 'privateKeyPem', kind: 'JWT_CLIENT_ASSERTION' });
  }
  return key;
}

interface Token {
  accessToken: string;
  expiresAt: number;
}

export function createAuthenticator(http: HttpClient): Authenticator {
  const tokens = new LRUCache<string, Token>({ max: 1000 });
  const inFlight = new Map<string, Promise<Token>>();

  async function fetchToken(system: string, tokenUrl: string, form: URLSearchParams, headers: Record<string, string>): Promise<Token> {
    // Own breaker/metrics name: an identity service outage is not the API's outage. Token requests have no
    // side effects, so they may be retried like GETs.
    const res = await http.request(`${system}:auth`, {
      method: 'POST',
      url: tokenUrl,
      headers: { accept: 'application/json', ...headers },
      body: form,
      idempotent: true,
    });
    let data: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(res.body);
      if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
    } catch {
      // handled below by status / missing fields
    }
    if (res.status >= 200 && res.status < 300) {
      const accessToken = data.access_token;
      if (typeof accessToken !== 'string' || !accessToken) {
        throw upstreamError(system, 'token endpoint response has no access_token', { status: res.status });
      }
      const expiresIn = Number(data.expires_in);
      const seconds = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_S;
      return { accessToken, expiresAt: Date.now() + seconds * 1000 };
    }
    if (res.status === 429) throw rateLimited('token endpoint is rate-limiting the hub', { system, retryAfter: res.headers['retry-after'] });
    if (res.status >= 400 && res.status < 500) {
      // RFC 6749 §5.2 error codes are plain ASCII; anything else is not repeated to the client.
      const code = typeof data.error === 'string' && /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(data.error) ? data.error : `HTTP ${res.status}`;
      const desc = typeof data.error_description === 'string' ? data.error_description.replace(/[^\x20-\x7E]/g, '').slice(0, 200) : undefined;
      throw unauthenticated(`token endpoint refused the credentials: ${code}`, {
        system,
        status: res.status,
        error: code,
        ...(desc ? { errorDescription: desc } : {}),
      });
    }
    throw upstreamError(system, `token endpoint answered HTTP ${res.status}`, { status: res.status });
  }

  // Cached per system and client; the secret's fingerprint is in the key so changed credentials take effect
  // (and get tested) at once instead of when the old token expires.
  async function cachedToken(key: string, load: () => Promise<Token>): Promise<Token> {
    const hit = tokens.get(key);
    if (hit) return hit;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = load()
        .then((t) => {
          const ttl = Math.floor(t.expiresAt - EXPIRY_MARGIN_MS - Date.now());
          if (ttl > 0) tokens.set(key, t, { ttl });
          return t;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  const bearer = (t: Token): Authorization => ({ headers: { authorization: `Bearer ${t.accessToken}` }, expiresAt: new Date(t.expiresAt) });

  async function authorize(system: string, auth: AuthConfig, creds: Credentials): Promise<Authorization> {
    switch (auth.kind) {
      case 'NONE':
        return { headers: {} };
      case 'API_KEY':
        return { headers: { [auth.header ?? 'X-API-Key']: need(creds, 'apiKey', auth.kind) } };
      case 'BASIC': {
        const username = need(creds, 'username', auth.kind);
        const password = need(creds, 'password', auth.kind);
        if (username.includes(':')) throw badInput('username must not contain ":" for BASIC authentication (RFC 7617)', { field: 'username' });
        return { headers: { authorization: `Basic ${b64(`${username}:${password}`)}` } };
      }
      case 'OAUTH2_CLIENT_CREDENTIALS': {
        const clientId = need(creds, 'clientId', auth.kind);
        const clientSecret = need(creds, 'clientSecret', auth.kind);
        const key = [system, auth.kind, clientId, auth.tokenUrl, auth.scope ?? '', fingerprint(clientSecret)].join('\0');
        const token = await cachedToken(key, () => {
          const form = new URLSearchParams({ grant_type: 'client_credentials' });
          if (auth.scope) form.set('scope', auth.scope);
          const basic = `Basic ${b64(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`;
          return fetchToken(system, auth.tokenUrl, form, { authorization: basic });
        });
        return bearer(token);
      }
      case 'JWT_CLIENT_ASSERTION': {
        const clientId = need(creds, 'clientId', auth.kind);
        const pem = need(creds, 'privateKeyPem', auth.kind);
        const key = [system, auth.kind, clientId, auth.tokenUrl, auth.scope ?? '', auth.kid ?? '', fingerprint(pem)].join('\0');
        const token = await cachedToken(key, async () => {
          const now = Math.floor(Date.now() / 1000);
          const assertion = await new SignJWT({})
            .setProtectedHeader({ alg: 'RS512', typ: 'JWT', ...(auth.kid ? { kid: auth.kid } : {}) })
            .setIssuer(clientId)
            .setSubject(clientId)
            .setAudience(auth.tokenUrl)
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setExpirationTime(now + ASSERTION_LIFETIME_S)
            .sign(rsaKey(pem));
          const form = new URLSearchParams({
            grant_type: 'client_credentials',
            client_assertion_type: CLIENT_ASSERTION_TYPE,
            client_assertion: assertion,
          });
          if (auth.scope) form.set('scope', auth.scope);
          return fetchToken(system, auth.tokenUrl, form, {});
        });
        return bearer(token);
      }
      case 'CLIENT_CERTIFICATE': {
        const cert = need(creds, 'certificatePem', auth.kind);
        const key = need(creds, 'privateKeyPem', auth.kind);
        return { headers: {}, tls: { cert, key, ...(creds.caPem ? { ca: creds.caPem } : {}) } };
      }
      default: {
        const kind: never = auth;
        throw badInput(`unknown authentication kind ${String((kind as { kind?: unknown }).kind)}`, { field: 'kind' });
      }
    }
  }

  function invalidate(system: string) {
    for (const k of [...tokens.keys()]) if (k.startsWith(`${system}\0`)) tokens.delete(k);
  }

  return { authorize, invalidate };
}
