import { pino, type DestinationStream, type Logger } from 'pino';
import { isValidNhsNumber } from './uk-identifiers.ts';

export type { Logger };

export const REDACTED = '[redacted]';
export const NHS_NUMBER_MASK = '[nhs-number]';

/**
 * Keys whose values are credentials, wherever they sit in what is logged: `password`, `clientSecret`,
 * `headers.authorization`, `privateKeyPem`, `x-api-key`, `meshSharedKey`, `refresh_token`, ... compared without case,
 * `-` or `_`. A key naming where a credential is used rather than the credential (`tokenUrl`, `apiKeyId`) is kept.
 */
const CREDENTIAL_KEY = /password|passwd|passphrase|secret|token|authori[sz]ation|cookie|apikey|privatekey|signingkey|sharedkey|vaultkey|internalkey|credential|bearer|sealed|^pwd$|^pin$|^otp$/;
const NOT_A_CREDENTIAL = /(url|uri|endpoint|id|ids|type|expiresat|expiry|ttl|count|length|header|headers)$/;
export const isCredentialKey = (key: string): boolean => {
  const k = key.toLowerCase().replace(/[-_\s]/g, '');
  return CREDENTIAL_KEY.test(k) && !NOT_A_CREDENTIAL.test(k);
};

/**
 * What a database error carries besides its cause: postgres-js puts the statement's `parameters` (the values bound,
 * residents' data among them) and the `query` on its errors, PostgreSQL's `detail` repeats the values of a violated
 * key, drizzle puts `params` on its DrizzleQueryError and both the SQL and the values into its message.
 */
const DATABASE_ERROR_KEYS = new Set(['parameters', 'params', 'query', 'detail', 'where', 'args', 'values']);

// Ten digits, alone or written 3-3-4 with spaces or dashes, not part of a longer run of digits.
const NHS_NUMBER_SHAPED = /(?<!\d)(\d{3})([ -]?)(\d{3})\2(\d{4})(?!\d)/g;

/** Masks every NHS number (ten digits with a valid Modulus 11 check digit) in a string. */
export function maskNhsNumbers(s: string): string {
  if (!/\d{3}/.test(s)) return s;
  return s.replace(NHS_NUMBER_SHAPED, (m, a: string, _sep: string, b: string, c: string) => (isValidNhsNumber(a + b + c) ? NHS_NUMBER_MASK : m));
}

// drizzle: "Failed query: <sql>\nparams: <values>" (in the stack too); the reason is in its cause, logged as well.
const scrubMessage = (s: string) => maskNhsNumbers(s.replace(/Failed query: [\s\S]*?(?=\n {4}at |$)/, `Failed query: ${REDACTED}`));

const MAX_DEPTH = 12;

/**
 * A copy of what is about to be logged with credentials redacted, database errors stripped of their statement and
 * values, and NHS numbers masked, at any depth. Errors become what pino writes for them (type, message, stack, their own fields, cause).
 */
export function sanitizeForLog(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return maskNhsNumbers(value);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1e9 && value < 1e10) return isValidNhsNumber(String(value)) ? NHS_NUMBER_MASK : value;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & Record<string, unknown>;
    const out: Record<string, unknown> = { type: e.constructor?.name ?? 'Error', message: scrubMessage(e.message), ...(e.stack ? { stack: scrubMessage(e.stack) } : {}) };
    for (const k of Object.keys(e)) {
      if (k in out) continue;
      out[k] = DATABASE_ERROR_KEYS.has(k) || isCredentialKey(k) ? REDACTED : sanitizeForLog(e[k], depth + 1, seen);
    }
    // The cause (drizzle wraps the driver's error) and an AggregateError's errors are not enumerable.
    if (e.cause !== undefined) out.cause = sanitizeForLog(e.cause, depth + 1, seen);
    if (value instanceof AggregateError) out.errors = sanitizeForLog(value.errors, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => sanitizeForLog(v, depth + 1, seen));
  if (value instanceof Date || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value instanceof Date ? value : `[${value.constructor.name} ${(value as ArrayBufferView).byteLength} bytes]`;
  if (value instanceof Map) return sanitizeForLog(Object.fromEntries(value), depth, seen);
  if (value instanceof Set) return sanitizeForLog([...value], depth, seen);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isCredentialKey(k) && v != null && v !== '' ? REDACTED : sanitizeForLog(v, depth + 1, seen);
  return out;
}

/**
 * One logger for the repo. Whatever a caller logs (a whole request, a config, a database error, a FHIR resource)
 * passes sanitizeForLog first, the message too, so no log line shows a secret, a bound SQL value or an NHS number.
 */
export function createLogger(level: string, name = 'hub', destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        // log.error(err) as pino has it: the error under `err`, its (scrubbed) message as the line's message.
        if (args[0] instanceof Error) args = [{ err: args[0] }, ...(args.length > 1 ? args.slice(1) : [args[0].message])];
        method.apply(this, args.map((a) => sanitizeForLog(a)));
      },
    },
    // Errors arrive serialised by sanitizeForLog already (pino's own would call them all "Object").
    serializers: { err: (e: unknown) => e },
  };
  const root = destination ? pino(options, destination) : pino(options);
  // A child's bindings are written into every line it logs: they pass the same filter (children of children too,
  // as pino makes each child from its parent).
  const child = root.child;
  root.child = function (this: Logger, bindings, opts) {
    return child.call(this, sanitizeForLog(bindings) as typeof bindings, opts);
  } as typeof root.child;
  return root;
}
