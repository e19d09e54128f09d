import { GraphQLError } from 'graphql';

/**
 * The one error type of the hub. Resolvers, connectors and the runtime throw HubError; the GraphQL layer turns
 * it into `extensions.code` with toGraphQLError, and plain HTTP endpoints use `httpStatus`. Anything that is not
 * a HubError is a bug and is shown to clients only as "Internal error" so no internals (SQL, stack, upstream
 * payloads) leak.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR'
  | 'OUTBOUND_REFUSED'
  | 'PAYLOAD_TOO_LARGE'
  // Raised at the gateway (gateway/src/limits.ts, deadline.ts): an operation over a limit, a spent time budget.
  | 'QUERY_TOO_COMPLEX'
  | 'TIMEOUT'
  | 'INTERNAL';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_ERROR: 502,
  // The request was well-formed but points somewhere the hub may not go (SSRF guard).
  OUTBOUND_REFUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  QUERY_TOO_COMPLEX: 400,
  TIMEOUT: 504,
  INTERNAL: 500,
};

export class HubError extends Error {
  override readonly name = 'HubError';
  readonly code: ErrorCode;
  /** Safe, client-visible facts (ids, field names, upstream system). Never secrets, headers or bodies. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    if (details) this.details = details;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

export const isHubError = (e: unknown): e is HubError => e instanceof HubError;

type Details = Record<string, unknown>;

export const badInput = (message: string, details?: Details) => new HubError('BAD_USER_INPUT', message, details);
export const unauthenticated = (message = 'authentication required', details?: Details) =>
  new HubError('UNAUTHENTICATED', message, details);
export const forbidden = (message = 'forbidden', details?: Details) => new HubError('FORBIDDEN', message, details);
export const notFound = (what: string, id: string) => new HubError('NOT_FOUND', `${what} ${id} not found`, { what, id });
export const conflict = (message: string, details?: Details) => new HubError('CONFLICT', message, details);
export const rateLimited = (message = 'too many requests', details?: Details) => new HubError('RATE_LIMITED', message, details);
export const refused = (message: string, details?: Details) => new HubError('OUTBOUND_REFUSED', message, details);
export const payloadTooLarge = (message: string, details?: Details) => new HubError('PAYLOAD_TOO_LARGE', message, details);
export const internal = (message = 'Internal error', details?: Details, cause?: unknown) =>
  new HubError('INTERNAL', message, details, { cause });

/** The external system could not be reached or answered in time (network, timeout, circuit open, 5xx). */
export const upstreamUnavailable = (system: string, reason: string, details?: Details, cause?: unknown) =>
  new HubError('UPSTREAM_UNAVAILABLE', `${system} is unavailable: ${reason}`, { ...details, system, reason }, { cause });

/** The external system answered, but with something the hub cannot use. */
export const upstreamError = (system: string, message: string, details?: Details) =>
  new HubError('UPSTREAM_ERROR', `${system}: ${message}`, { ...details, system });

/**
 * For Apollo's formatError / graphql-js results. Accepts what resolvers threw as well as the GraphQLError
 * graphql-js wraps it in (keeping path and locations). GraphQLErrors graphql-js made itself (syntax,
 * validation) or that code threw deliberately pass through unchanged.
 */
export function toGraphQLError(err: unknown): GraphQLError {
  const located = err instanceof GraphQLError ? err : undefined;
  const original = located ? located.originalError : err;
  if (located && (original == null || (original instanceof GraphQLError && !(original instanceof HubError)))) {
    return located;
  }
  const position = located
    ? { nodes: located.nodes, source: located.source, positions: located.positions, path: located.path }
    : {};
  if (original instanceof HubError) {
    // `code` last so details can never overwrite it.
    return new GraphQLError(original.message, {
      ...position,
      originalError: original,
      extensions: { ...original.details, code: original.code },
    });
  }
  if (statementTimedOut(original)) {
    return new GraphQLError('the database stopped this query: it ran longer than DATABASE_STATEMENT_TIMEOUT_MS', {
      ...position,
      originalError: original instanceof Error ? original : undefined,
      extensions: { code: 'TIMEOUT', http: { status: 504 } },
    });
  }
  return new GraphQLError('Internal error', {
    ...position,
    originalError: original instanceof Error ? original : undefined,
    extensions: { code: 'INTERNAL' },
  });
}

/** PostgreSQL cancelled the statement for its statement_timeout (57014), as postgres-js or drizzle (in `cause`) reports it. */
export function statementTimedOut(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.code === '57014' || e?.cause?.code === '57014';
}

/**
 * The constraint a unique violation (Postgres 23505) broke, or undefined for any other error. postgres-js puts the
 * code on the error, drizzle wraps it in `cause`; PGlite names the constraint `constraint`, postgres-js `constraint_name`.
 */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as { code?: string; constraint_name?: string; constraint?: string; cause?: unknown };
  const c = e?.code === '23505' ? e : (e?.cause as typeof e | undefined)?.code === '23505' ? (e.cause as typeof e) : undefined;
  return c ? (c.constraint_name ?? c.constraint ?? 'unique') : undefined;
}
