import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { GraphQLError, getOperationAST, Kind, parse, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema, type ListValueNode, type StringValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_ORGANISATION, forbidden, HubError, SCOPES, TENANT_ID, unauthenticated, type AuthSettings, type Logger, type Principal, type RequestContext, type Scope } from '@hub/runtime';

/**
 * Who is calling the gateway. Client apps present an API key (`Authorization: Bearer <key>` or `X-API-Key`) or a
 * JWT from the operator's identity provider (`Authorization: Bearer <jwt>`, checked against its JWKS, issuer and
 * audience). The identity's name is the actor every subgraph sees (NHS audit rows, per-client API rate limits),
 * replacing whatever `x-hub-client` the caller claimed; its scopes decide what it may do: `read` (queries,
 * subscriptions, the event stream and history) and `write` (mutations).
 *
 * With authentication not required, a caller without credentials is let in under the name it claims in
 * `x-hub-client` (or its address) with the scopes AUTH_ANONYMOUS_SCOPES gives it: none unless configured, except on a
 * development hub with no credentials configured at all, where it is every scope (`npm start` on a laptop).
 * Credentials that are presented are always checked. JWTs: only the algorithms AUTH_JWT_ALGORITHMS names, and `exp`
 * is required (a graphql-ws connection is closed when its token expires).
 */
export interface Identity {
  client: string;
  scopes: ReadonlySet<Scope>;
  via: 'api-key' | 'jwt' | 'anonymous';
  /** The organisation the client belongs to, and the homes it is limited to (null: all of them). */
  organisationId: string;
  homeIds: readonly string[] | null;
  /** The end user a JWT names (sub, when it is not the client itself). */
  userId?: string;
  /** When the credentials stop being valid (a JWT's exp), in ms since the epoch. */
  expiresAt?: number;
}

/** The principal every subgraph sees for an identity. */
export const principalFor = (i: Identity): Principal => ({
  client: i.client,
  organisationId: i.organisationId,
  homeIds: i.homeIds,
  scopes: i.scopes,
  ...(i.userId ? { userId: i.userId } : {}),
});

/** Headers the gateway sets for the pipeline after authenticating; a caller's own values are dropped first. */
export const CLIENT_HEADER = 'x-hub-client';
export const SCOPES_HEADER = 'x-hub-scopes';
/** The whole principal (organisation, homes, scopes), handed from the HTTP server to yoga inside this process. */
export const PRINCIPAL_HEADER = 'x-hub-principal';
/** How the caller proved who it is (`api-key`, `jwt`, `anonymous`): per-client limits apply to proven clients only. */
export const VIA_HEADER = 'x-hub-via';

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
  const anonymousScopes = settings.anonymousScopes ?? [];
  if (!settings.required) {
    log.warn(
      !anonymousScopes.length
        ? 'authentication is optional (AUTH_REQUIRED=false): callers without credentials get no scopes (AUTH_ANONYMOUS_SCOPES)'
        : settings.apiKeys.length || settings.jwt
          ? `authentication is optional (AUTH_REQUIRED=false): callers without credentials get ${anonymousScopes.join(', ')} (AUTH_ANONYMOUS_SCOPES)`
          : `authentication is OFF: any caller gets ${anonymousScopes.join(', ')} (AUTH_ANONYMOUS_SCOPES); set AUTH_API_KEYS or AUTH_JWT_JWKS_URL before the hub holds real data`,
    );
  }

  function byKey(key: string): Identity {
    const hash = sha256(key);
    // Compare against every entry, in constant time each, so timing tells nothing about which key is close.
    let found: (typeof keys)[number] | undefined;
    for (const k of keys) if (timingSafeEqual(k.hash, hash)) found = k;
    if (!found) throw unauthenticated('the API key is not valid');
    return { client: found.client, scopes: new Set(found.scopes), via: 'api-key', organisationId: found.organisationId, homeIds: found.homeIds };
  }

  async function byJwt(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      // Algorithms pinned (never what the token's header asks for), and a token without exp is refused.
      ({ payload } = await jwtVerify(token, jwks!, { issuer: settings.jwt!.issuer, audience: settings.jwt!.audience, clockTolerance: 30, algorithms: settings.jwt!.algorithms ?? ['RS256'], requiredClaims: ['exp'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError && !(err instanceof joseErrors.JWKSTimeout)) {
        if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'exp' && err.reason === 'missing') throw unauthenticated('the token has no expiry (exp): this hub accepts only tokens that expire');
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
    // A token that names no organisation belongs to none: it is refused rather than given the default one's records.
    const organisationId = payload[settings.jwt!.organisationClaim];
    if (typeof organisationId !== 'string' || !TENANT_ID.test(organisationId)) throw unauthenticated(`the token names no organisation (claim ${settings.jwt!.organisationClaim})`);
    const homes = payload[settings.jwt!.homesClaim];
    if (homes !== undefined && !(Array.isArray(homes) && homes.every((h) => typeof h === 'string' && TENANT_ID.test(h)))) throw unauthenticated(`the token's ${settings.jwt!.homesClaim} claim is not a list of home ids`);
    const userId = typeof payload.sub === 'string' && payload.sub !== client ? payload.sub : undefined;
    return { client, scopes, via: 'jwt', organisationId, homeIds: (homes as string[] | undefined) ?? null, ...(userId ? { userId } : {}), expiresAt: payload.exp! * 1000 };
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
      return { client: c.claimed || 'anonymous', scopes: new Set(anonymousScopes), via: 'anonymous', organisationId: DEFAULT_ORGANISATION, homeIds: null };
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

/**
 * Fields that need more than read or write, from the federation `@requiresScopes` directive in the subgraphs' SDL
 * (the NHS subgraph marks residents' records `@requiresScopes(scopes: [["health"]])`): `Type.field` to its
 * alternatives (any one list of scopes, all of that list, suffices). Read from the composed supergraph.
 */
export type FieldScopes = Map<string, string[][]>;

const SECURITY_LINK = /(@link\(url: "https:\/\/specs\.apollo\.dev\/requiresScopes\/v[\d.]+"), for: SECURITY\)/;

/**
 * @apollo/gateway refuses a supergraph with a SECURITY feature it does not enforce (Apollo Router enforces
 * `@requiresScopes`; the gateway does not). The hub enforces it itself (useScopes), so it reads the scopes and hands
 * the gateway the supergraph with that feature no longer marked SECURITY.
 */
export function takeFieldScopes(supergraphSdl: string, into: FieldScopes): string {
  into.clear();
  for (const def of parse(supergraphSdl).definitions) {
    if ((def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) || !def.fields) continue;
    for (const f of def.fields) {
      const d = f.directives?.find((x) => x.name.value === 'requiresScopes');
      const arg = d?.arguments?.find((a) => a.name.value === 'scopes')?.value as ListValueNode | undefined;
      if (!arg) continue;
      into.set(`${def.name.value}.${f.name.value}`, arg.values.map((group) => (group as ListValueNode).values.map((v) => (v as StringValueNode).value)));
    }
  }
  return supergraphSdl.replace(SECURITY_LINK, '$1)');
}

/**
 * The scoped fields an operation selects. Yoga hands the same parsed document for the same query text, so this is
 * worked out once per query and schema, not per request; a recomposed supergraph (a new schema) works it out again.
 */
const selectedScopedFields = new WeakMap<DocumentNode, { schema: GraphQLSchema; fields: Array<[string, string[][]]> }>();
function scopedFields(schema: GraphQLSchema, document: DocumentNode, fieldScopes: FieldScopes): Array<[string, string[][]]> {
  const cached = selectedScopedFields.get(document);
  if (cached?.schema === schema) return cached.fields;
  const fields: Array<[string, string[][]]> = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const need = parent && fieldScopes.get(`${parent.name}.${node.name.value}`);
        if (need) fields.push([node.name.value, need]);
      },
    }),
  );
  selectedScopedFields.set(document, { schema, fields });
  return fields;
}

/** Every field of the operation whose required scopes the caller lacks. */
function missingFieldScopes(schema: GraphQLSchema, document: DocumentNode, fieldScopes: FieldScopes, has: ReadonlySet<string>): string[] {
  if (!fieldScopes.size) return [];
  return scopedFields(schema, document, fieldScopes)
    .filter(([, need]) => !need.some((all) => all.every((sc) => has.has(sc))))
    .map(([field, need]) => `${field} (needs ${need.map((all) => all.join(' and ')).join(' or ')})`);
}

/**
 * The yoga side: every query and mutation, over HTTP, REST or a WebSocket, is checked against the caller's scopes:
 * read or write for the operation, and any field's `@requiresScopes`.
 */
export function useScopes(fieldScopes: FieldScopes = new Map()): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const op = getOperationAST(args.document, args.operationName);
      const ctx = args.contextValue as RequestContext & { scopes?: ReadonlySet<Scope> };
      try {
        assertScope(ctx, op?.operation ?? 'query');
        const missing = missingFieldScopes(args.schema, args.document, fieldScopes, (ctx.scopes ?? new Set()) as ReadonlySet<string>);
        if (missing.length) throw forbidden(`${ctx.actor ?? 'this client'} may not read or change ${missing.join(', ')}`, { scopes: missing });
      } catch (err) {
        const e = err as HubError;
        setResultAndStopExecution({ errors: [new GraphQLError(e.message, { extensions: { code: e.code, ...e.details } })] });
      }
    },
  };
}
