import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { forbidden, HubError, SCOPES, unauthenticated, type AuthSettings, type Logger, type RequestContext, type Scope } from '@hub/runtime';

/**
 * Who is calling the gateway. Client apps present an API key (`Authorization: Bearer <key>` or `X-API-Key`) or a
 * JWT from the operator's identity provider (`Authorization: Bearer <jwt>`, checked against its JWKS, issuer and
 * audience). The identity's name is the actor every subgraph sees (NHS audit rows, per-client API rate limits),
 * replacing whatever `x-hub-client` the caller claimed; its scopes decide what it may do: `read` (queries,
 * subscriptions, the event stream and history) and `write` (mutations).
 *
 * With authentication not required (the default outside production), a caller without credentials is let in with
 * every scope under the name it claims in `x-hub-client` (or its address), as before; credentials that are presented
 * are still checked.
 */
export interface Identity {
  client: string;
  scopes: ReadonlySet<Scope>;
  via: 'api-key' | 'jwt' | 'anonymous';
}

/** Headers the gateway sets for the pipeline after authenticating; a caller's own values are dropped first. */
export const CLIENT_HEADER = 'x-hub-client';
export const SCOPES_HEADER = 'x-hub-scopes';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface Credentials {
  authorization?: string | null;
  apiKey?: string | null;
  /** What the caller claims when no credentials are required (x-hub-client), else its address. */
  claimed?: string | null;
}

export function createAuthenticator(settings: AuthSettings, log: Logger) {
  const keys = settings.apiKeys.map((k) => ({ ...k, hash: Buffer.from(k.sha256, 'hex') }));
  const jwks = settings.jwt ? createRemoteJWKSet(new URL(settings.jwt.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5_000 }) : undefined;
  if (!settings.required) {
    log.warn(
      settings.apiKeys.length || settings.jwt
        ? 'authentication is optional (AUTH_REQUIRED=false): callers without credentials get every scope'
        : 'authentication is OFF: any caller may read and change everything; set AUTH_API_KEYS or AUTH_JWT_JWKS_URL before the hub holds real data',
    );
  }

  function byKey(key: string): Identity {
    const hash = sha256(key);
    // Compare against every entry, in constant time each, so timing tells nothing about which key is close.
    let found: (typeof keys)[number] | undefined;
    for (const k of keys) if (timingSafeEqual(k.hash, hash)) found = k;
    if (!found) throw unauthenticated('the API key is not valid');
    return { client: found.client, scopes: new Set(found.scopes), via: 'api-key' };
  }

  async function byJwt(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks!, { issuer: settings.jwt!.issuer, audience: settings.jwt!.audience, clockTolerance: 30 }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError && !(err instanceof joseErrors.JWKSTimeout)) {
        throw unauthenticated(err instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid for this hub');
      }
      log.error({ err }, 'the identity provider\'s keys (AUTH_JWT_JWKS_URL) could not be read');
      throw new HubError('UPSTREAM_UNAVAILABLE', 'tokens cannot be checked right now', { system: 'identity provider' });
    }
    const client = [payload.client_id, payload.azp, payload.sub].find((v): v is string => typeof v === 'string' && v.length > 0);
    if (!client) throw unauthenticated('the token names no client (client_id, azp or sub)');
    // OAuth's `scope` is space-separated; some providers send `scp` as a list.
    const raw = typeof payload.scope === 'string' ? payload.scope.split(' ') : Array.isArray(payload.scp) ? payload.scp : [];
    const scopes = new Set(raw.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s as string)));
    return { client, scopes, via: 'jwt' };
  }

  return {
    required: settings.required,
    /** The caller's identity, or UNAUTHENTICATED (401). */
    async authenticate(c: Credentials): Promise<Identity> {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.authorization ?? '')?.[1];
      if (c.authorization && !bearer) throw unauthenticated('Authorization must be "Bearer <API key or token>"');
      const presented = bearer ?? c.apiKey ?? undefined;
      if (presented) {
        if (jwks && JWT_SHAPE.test(presented)) return byJwt(presented);
        if (keys.length) return byKey(presented);
        throw unauthenticated('this hub accepts no credentials of that kind');
      }
      if (settings.required) throw unauthenticated('credentials required: Authorization: Bearer <API key or token>, or X-API-Key');
      return { client: c.claimed || 'anonymous', scopes: new Set(SCOPES), via: 'anonymous' };
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

/** The scopes a request context carries (set by the gateway from the authenticated identity). */
export const scopesOf = (header: string | null | undefined): Set<Scope> => new Set((header ?? '').split(' ').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)));

/** Refuses an operation the caller's scopes do not cover: mutations need `write`, everything else `read`. */
export function assertScope(ctx: RequestContext & { scopes?: ReadonlySet<Scope> }, operation: string): void {
  const need: Scope = operation === 'mutation' ? 'write' : 'read';
  if (!ctx.scopes?.has(need)) throw forbidden(`${operation === 'mutation' ? 'changes need' : 'reading needs'} the ${need} scope; ${ctx.actor ?? 'this client'} has ${[...(ctx.scopes ?? [])].join(', ') || 'none'}`, { scope: need });
}

/** The yoga side: every query and mutation, over HTTP, REST or a WebSocket, is checked against the caller's scopes. */
export function useScopes(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const op = getOperationAST(args.document, args.operationName);
      try {
        assertScope(args.contextValue as RequestContext & { scopes?: ReadonlySet<Scope> }, op?.operation ?? 'query');
      } catch (err) {
        const e = err as HubError;
        setResultAndStopExecution({ errors: [new GraphQLError(e.message, { extensions: { code: e.code, ...e.details } })] });
      }
    },
  };
}
