import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { HttpError } from './http.ts';
import type { TokenStore } from './tokens.ts';
import type { SimAuth } from './types.ts';

export const REALM = 'generic-rest-sim';
export const DEFAULT_API_KEY_HEADER = 'X-API-Key';

/** Constant-time string equality; hashing first removes the length side channel too. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Parses `Authorization: <scheme> <credentials>`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function authorization(req: IncomingMessage, scheme: string): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== scheme.toLowerCase()) return undefined;
  return header.slice(space + 1).trim();
}

/** RFC 7617: base64(user ":" pass); the password may itself contain colons. */
export function parseBasic(req: IncomingMessage): { username: string; password: string } | undefined {
  const encoded = authorization(req, 'Basic');
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const unauthorized = (message: string, challenge: string): HttpError =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': challenge });

/** Guards every resource path (including /health); throws a 401 HttpError when the caller is not authenticated. */
export function authenticate(req: IncomingMessage, auth: SimAuth, tokens: TokenStore): void {
  switch (auth.kind) {
    case 'NONE':
      return;
    case 'API_KEY': {
      const header = auth.header ?? DEFAULT_API_KEY_HEADER;
      const value = req.headers[header.toLowerCase()];
      const challenge = `APIKey realm="${REALM}", header="${header}"`;
      if (typeof value !== 'string') throw unauthorized(`missing ${header} header`, challenge);
      if (!safeEqual(value, auth.key)) throw unauthorized(`invalid API key in ${header}`, challenge);
      return;
    }
    case 'BASIC': {
      const challenge = `Basic realm="${REALM}", charset="UTF-8"`;
      const creds = parseBasic(req);
      if (!creds) throw unauthorized('missing or malformed Basic credentials', challenge);
      // Evaluate both comparisons so timing does not reveal which half was wrong.
      const userOk = safeEqual(creds.username, auth.username);
      const passOk = safeEqual(creds.password, auth.password);
      if (!userOk || !passOk) throw unauthorized('invalid username or password', challenge);
      return;
    }
    case 'OAUTH2_CLIENT_CREDENTIALS':
    case 'JWT_CLIENT_ASSERTION': {
      const token = authorization(req, 'Bearer');
      // RFC 6750 §3.1: no error code when the request carried no credentials at all.
      if (!token) throw unauthorized('missing Bearer token', `Bearer realm="${REALM}"`);
      const state = tokens.check(token);
      if (state !== 'valid') {
        const description = state === 'expired' ? 'access token expired' : 'access token not recognised';
        throw unauthorized(description, `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`);
      }
      return;
    }
    case 'CLIENT_CERTIFICATE': {
      // The TLS layer already refused untrusted certs (rejectUnauthorized); this guards against misconfiguration.
      const socket = req.socket as Partial<TLSSocket>;
      if (!socket.authorized) throw unauthorized('client certificate required', `Mutual realm="${REALM}"`);
      return;
    }
  }
}
