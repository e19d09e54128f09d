import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { forbidden, unauthenticated } from './errors.ts';
import type { Scope } from './config.ts';
import type { RequestContext } from './graphql.ts';

/** The organisation every record of a hub that predates organisations belongs to, and the demo's. */
export const DEFAULT_ORGANISATION = 'default';

/** Organisation and home ids: short, stable, URL- and header-safe (`sunrise-care`, `sunrise-oak-lodge`). */
export const TENANT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Who is asking, as every subgraph sees it: the client app, the organisation (care group) it belongs to, the homes it
 * is limited to (null: every home of the organisation), what it may do, and the end user when a JWT names one.
 * Set by the gateway from the authenticated identity; inside the hub it travels signed (internal tokens).
 */
export interface Principal {
  client: string;
  organisationId: string;
  homeIds: readonly string[] | null;
  scopes: ReadonlySet<Scope>;
  userId?: string;
  /**
   * A hub process acting for itself (an outbox relay handing events to the log, a readiness probe): not a client.
   * Only the internal signing key can make one; it may name the organisation of each record it carries.
   */
  service?: boolean;
}

/** The caller of a request; a request without one (a bug, or a subgraph reached around the gateway) is refused. */
export function principalOf(ctx: RequestContext | undefined): Principal {
  const p = ctx?.principal;
  if (!p) throw unauthenticated('no authenticated caller reached this subgraph');
  return p;
}

/** The caller's organisation: the first argument of every store function that reads or writes owned records. */
export const organisationOf = (ctx: RequestContext | undefined): string => principalOf(ctx).organisationId;

/** The caller's scopes include this one, or FORBIDDEN. */
export function requireScope(ctx: RequestContext | undefined, scope: Scope, what: string): Principal {
  const p = principalOf(ctx);
  if (!p.scopes.has(scope)) throw forbidden(`${what} needs the ${scope} scope; ${p.client} has ${[...p.scopes].join(', ') || 'none'}`, { scope });
  return p;
}

/**
 * Whether `caller` may complete a browser round trip (an OAuth callback) that `owner` started: the organisation that
 * started it, or the gateway's service principal of no organisation (the returning browser brings no hub credentials,
 * so the single-use state alone says whose it is).
 */
export const mayCompleteCallback = (caller: Principal, owner: string): boolean => caller.organisationId === owner || (caller.service === true && caller.organisationId === '');

/** The caller may act for this home: its organisation's, and among its homes when it is limited to some. */
export const mayActForHome = (p: Principal, homeId: string): boolean => p.homeIds === null || p.homeIds.includes(homeId);

/** A principal for a hub process's own background work on one organisation's records (jobs, relays, schedules). */
export const servicePrincipal = (organisationId: string, client = 'hub'): Principal => ({
  client,
  organisationId,
  homeIds: null,
  scopes: new Set<Scope>(['read', 'write', 'health', 'finance', 'audit']),
  service: true,
});

/** The principal as JSON, for the gateway's own hand-over between its parts inside one process (never from a caller). */
export function encodePrincipal(p: Principal): string {
  return Buffer.from(JSON.stringify({ c: p.client, o: p.organisationId, h: p.homeIds, s: [...p.scopes], u: p.userId, v: p.service || undefined })).toString('base64url');
}

export function decodePrincipal(raw: string | null | undefined): Principal | undefined {
  if (!raw) return undefined;
  try {
    const j = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { c: string; o: string; h: string[] | null; s: Scope[]; u?: string; v?: boolean };
    if (typeof j.c !== 'string' || typeof j.o !== 'string' || !Array.isArray(j.s)) return undefined;
    return { client: j.c, organisationId: j.o, homeIds: Array.isArray(j.h) ? j.h : null, scopes: new Set(j.s), ...(j.u ? { userId: j.u } : {}), ...(j.v ? { service: true } : {}) };
  } catch {
    return undefined;
  }
}

/** The header that carries the signed internal token from the gateway (or a hub process) to a subgraph process. */
export const INTERNAL_TOKEN_HEADER = 'x-hub-internal';
const ISSUER = 'care-home-integration-hub';
const TOKEN_SECONDS = 60;

export interface InternalKeys {
  /** Signs with the first key; verifies against every one, so a key is rotated by adding the new one first. */
  keys: Array<{ id: string; secret: Uint8Array }>;
}

/** INTERNAL_SIGNING_KEYS: `id:base64secret[,id:base64secret]`, each secret at least 32 bytes. */
export function parseInternalKeys(raw: string): InternalKeys {
  const keys = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.indexOf(':');
      const id = entry.slice(0, at);
      const secret = Buffer.from(entry.slice(at + 1), 'base64');
      if (at <= 0 || !/^[A-Za-z0-9._-]{1,40}$/.test(id) || secret.length < 32) {
        throw new Error(`invalid configuration:\n  INTERNAL_SIGNING_KEYS: entry ${i + 1} is not id:base64 of at least 32 bytes`);
      }
      return { id, secret: new Uint8Array(secret) };
    });
  if (!keys.length) throw new Error('invalid configuration:\n  INTERNAL_SIGNING_KEYS: no key');
  return { keys };
}

/**
 * A short-lived token (HS256 JWT, 60 s) that carries the principal from the gateway to one subgraph: the subgraph
 * process believes nothing about the caller that this token does not say.
 */
export async function signInternalToken(k: InternalKeys, p: Principal, audience: string): Promise<string> {
  const key = k.keys[0]!;
  return new SignJWT({ org: p.organisationId, homes: p.homeIds, scp: [...p.scopes], ...(p.userId ? { usr: p.userId } : {}), ...(p.service ? { svc: true } : {}) })
    .setProtectedHeader({ alg: 'HS256', kid: key.id })
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setSubject(p.client)
    .setIssuedAt()
    .setExpirationTime(`${TOKEN_SECONDS}s`)
    .sign(key.secret);
}

/** The principal an internal token carries, or UNAUTHENTICATED (missing, forged, stale, or meant for another subgraph). */
export async function verifyInternalToken(k: InternalKeys, token: string | null | undefined, audience: string | string[]): Promise<Principal> {
  if (!token) throw unauthenticated('this subgraph answers only the hub\'s gateway: the request is not signed');
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = k.keys.find((x) => x.id === header.kid);
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key.secret;
      },
      { issuer: ISSUER, audience, algorithms: ['HS256'], maxTokenAge: `${TOKEN_SECONDS + 5}s`, clockTolerance: 5, requiredClaims: ['exp', 'iat', 'sub'] },
    );
    const scopes = Array.isArray(payload.scp) ? (payload.scp as Scope[]) : [];
    return {
      client: payload.sub!,
      organisationId: String(payload.org),
      homeIds: Array.isArray(payload.homes) ? (payload.homes as string[]) : null,
      scopes: new Set(scopes),
      ...(typeof payload.usr === 'string' ? { userId: payload.usr } : {}),
      ...(payload.svc === true ? { service: true } : {}),
    };
  } catch {
    throw unauthenticated('the request\'s internal signature is not valid or has expired');
  }
}

/** A call from one hub process to a subgraph in another, signed for that subgraph with the caller it acts for. */
export async function internalFetch(keys: InternalKeys | undefined, principal: Principal, audience: string, url: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
  if (!keys) throw new Error('invalid configuration:\n  INTERNAL_SIGNING_KEYS: required to call a subgraph in another process');
  return fetch(url, { ...init, headers: { ...init.headers, [INTERNAL_TOKEN_HEADER]: await signInternalToken(keys, principal, audience) } });
}
