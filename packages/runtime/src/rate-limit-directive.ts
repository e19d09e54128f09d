import { defaultFieldResolver, isObjectType, valueFromASTUntyped, type GraphQLField, type GraphQLSchema } from 'graphql';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from './errors.ts';
import type { RequestContext } from './graphql.ts';
import type { KeyValue } from './kv.ts';

/**
 * The `graphql-rate-limit` directive API, on a maintained limiter: a subgraph field marked
 * `@rateLimit(window: "1m", max: 30, identityArgs: ["integrationId"])` takes, per call, one point from an allowance
 * of `max` per `window` for the caller (the request's actor, the authenticated client, within its organisation) and the
 * values of `identityArgs`; past it the call is RATE_LIMITED with `retryAfterSeconds`. The allowances live in Redis
 * when REDIS_URL is set, so every hub process counts against the same ones (rate-limiter-flexible; the
 * `graphql-rate-limit` package itself needs graphql-tools 7 and node-redis 3, see STACK.md).
 *
 * Declare it in a subgraph's SDL with RATE_LIMIT_DIRECTIVE; it stays in that subgraph (composition does not carry
 * it into the supergraph), where the limit is enforced.
 */
export const RATE_LIMIT_DIRECTIVE = 'directive @rateLimit(window: String!, max: Int!, identityArgs: [String!], message: String) on FIELD_DEFINITION';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function windowSeconds(window: string, where: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(window.trim());
  if (!m || Number(m[1]) < 1) throw new Error(`@rateLimit on ${where}: window must be a number and a unit (s, m, h, d), such as "1m"; got "${window}"`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

const pick = (args: Record<string, unknown>, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), args);

/** Wraps the resolvers of every field marked @rateLimit in this schema, in place. Returns how many it wrapped. */
export function applyRateLimits(schema: GraphQLSchema, kv: KeyValue): number {
  let wrapped = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields()) as Array<GraphQLField<unknown, RequestContext>>) {
      const directive = field.astNode?.directives?.find((d) => d.name.value === 'rateLimit');
      if (!directive) continue;
      const where = `${type.name}.${field.name}`;
      const a = Object.fromEntries((directive.arguments ?? []).map((arg) => [arg.name.value, valueFromASTUntyped(arg.value)])) as {
        window: string;
        max: number;
        identityArgs?: string[];
        message?: string;
      };
      if (!Number.isInteger(a.max) || a.max < 1) throw new Error(`@rateLimit on ${where}: max must be a positive whole number`);
      const seconds = windowSeconds(a.window, where);
      for (const p of a.identityArgs ?? []) if (!field.args.some((x) => x.name === p.split('.')[0])) throw new Error(`@rateLimit on ${where}: no argument ${p}`);
      const limiter = kv.rateLimiter(`field:${where}`, a.max, seconds);
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = async (source, args, ctx, info) => {
        // The caller within its organisation: a same-named client of another organisation has its own allowance,
        // so it can neither spend this one (a connect storm against someone else's system id) nor learn of it.
        const caller = [ctx?.principal?.organisationId ?? '', ctx?.actor ?? 'anonymous'];
        const key = [...caller, ...(a.identityArgs ?? []).map((p) => JSON.stringify(pick(args, p) ?? null))].join('|');
        try {
          await limiter.consume(key);
        } catch (err) {
          if (!(err instanceof RateLimiterRes)) throw err;
          const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
          throw rateLimited(a.message ?? `${info.fieldName} allows ${a.max} calls per ${a.window}; try again in ${retryAfterSeconds} s`, { field: info.fieldName, retryAfterSeconds });
        }
        return resolve(source, args, ctx, info);
      };
      wrapped++;
    }
  }
  return wrapped;
}
