import {
  defaultFieldResolver,
  getNullableType,
  isInputObjectType,
  isListType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { badInput } from './errors.ts';
import { isUuid } from './ids.ts';

/**
 * Bad input is the caller's mistake, answered BAD_USER_INPUT naming the argument, before any resolver (or the
 * database, which refuses a non-UUID in a uuid column, a NUL in text or jsonb, with an error that would otherwise be
 * INTERNAL) sees it. One check for every argument of every field of a subgraph, so no resolver can forget one:
 * - an `ID` is a UUID (every id the hub makes is one), unless its coordinate is listed in `textIds`;
 * - no string anywhere (arguments, input fields, inside JSON values and their keys) holds a NUL or an unpaired
 *   UTF-16 surrogate (neither can be stored, nor written as UTF-8);
 * - no list has more than `maxListLength` items; no `Int` is negative; JSON values nest at most `maxJsonDepth` deep.
 * Bounds a field needs beyond these (a page size, a batch size) stay with the field.
 */
export interface InputGuardOptions {
  /**
   * `ID` arguments and input fields whose values are not UUIDs, by schema coordinate (`Query.home(id:)` for an
   * argument, `CreateHomeInput.id` for an input field) or by name alone (`residentId`: wherever it appears).
   */
  textIds?: Iterable<string>;
  /** Items a list argument may hold (default 1000). */
  maxListLength?: number;
  /** How deep a JSON value may nest (default 100). */
  maxJsonDepth?: number;
}

export const MAX_LIST_LENGTH = 1000;
/** Ids that are not UUIDs in every subgraph: a resident's pseudonym (`res_` and 16 letters and digits). */
export const PSEUDONYM_IDS = ['residentId'];
export const MAX_JSON_DEPTH = 100;

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be taken, or undefined when it can. */
export function unstorable(s: string): string | undefined {
  const m = UNSTORABLE.exec(s);
  if (!m) return undefined;
  return m[0] === '\u0000' ? 'contains a NUL character' : 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
}

/** Throws BAD_USER_INPUT naming `field` when the string cannot be stored. */
export function assertStorable(s: string, field: string): void {
  const why = unstorable(s);
  if (why) throw badInput(`${field} ${why}`, { field });
}

/** A value to show in an error message: short, and printable. */
const shown = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Throws BAD_USER_INPUT naming `field` unless `s` is a UUID. */
export function assertUuid(s: string, field: string): void {
  assertStorable(s, field);
  if (!isUuid(s)) throw badInput(`${field} must be a UUID such as 0190a8f4-3c5e-7d2a-9b1e-4f6a8c2d0e11; got ${shown(s)}`, { field });
}

interface Limits {
  textIds: Set<string>;
  maxList: number;
  maxDepth: number;
}

/** Every string and key of a JSON value, without recursion (a deeply nested value cannot exhaust the stack). */
function checkJson(root: unknown, field: string, l: Limits): void {
  const stack: Array<{ v: unknown; at: string; depth: number }> = [{ v: root, at: field, depth: 0 }];
  while (stack.length) {
    const { v, at, depth } = stack.pop()!;
    if (typeof v === 'string') assertStorable(v, at);
    else if (typeof v === 'number' && !Number.isFinite(v)) throw badInput(`${at} must be a finite number`, { field: at });
    else if (v !== null && typeof v === 'object') {
      if (v instanceof Date) continue;
      if (depth >= l.maxDepth) throw badInput(`${field} nests more than ${l.maxDepth} levels deep`, { field });
      if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, at: `${at}[${i}]`, depth: depth + 1 }));
      else
        for (const [k, x] of Object.entries(v)) {
          assertStorable(k, `${at} (a key)`);
          stack.push({ v: x, at: `${at}.${k}`, depth: depth + 1 });
        }
    }
  }
}

function checkValue(value: unknown, type: GraphQLInputType, field: string, coordinate: string, l: Limits): void {
  if (value === null || value === undefined) return;
  const t = getNullableType(type);
  if (isListType(t)) {
    if (!Array.isArray(value)) return checkValue(value, t.ofType, field, coordinate, l);
    if (value.length > l.maxList) throw badInput(`${field} has ${value.length} items; at most ${l.maxList}`, { field });
    value.forEach((v, i) => checkValue(v, t.ofType, `${field}[${i}]`, coordinate, l));
    return;
  }
  if (isInputObjectType(t)) {
    const fields = t.getFields();
    for (const [name, f] of Object.entries(fields)) {
      checkValue((value as Record<string, unknown>)[name], f.type, `${field}.${name}`, `${t.name}.${name}`, l);
    }
    return;
  }
  if (!isScalarType(t)) return; // enums: graphql-js has checked them
  if (t.name === 'ID') {
    const s = String(value);
    const name = coordinate.replace(/\(?(\w+):\)$/, '.$1').split('.').pop()!;
    if (l.textIds.has(coordinate) || l.textIds.has(name)) assertStorable(s, field);
    else assertUuid(s, field);
  } else if (t.name === 'Int') {
    if ((value as number) < 0) throw badInput(`${field} must not be negative; got ${value}`, { field });
  } else if (typeof value === 'string') assertStorable(value, field);
  else if (typeof value === 'object') checkJson(value, field, l);
}

/**
 * Guards every field with arguments of a subgraph's schema in place (federation's own `_entities` and `_service`
 * excepted: the gateway calls them). Apply it last, outermost: a refused call reaches no resolver, rate limit or
 * audit row. Returns how many fields it guards.
 */
export function applyInputGuard(schema: GraphQLSchema, o: InputGuardOptions = {}): number {
  const l: Limits = { textIds: new Set(o.textIds ?? []), maxList: o.maxListLength ?? MAX_LIST_LENGTH, maxDepth: o.maxJsonDepth ?? MAX_JSON_DEPTH };
  let guarded = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('_')) continue;
    for (const field of Object.values(type.getFields()) as Array<GraphQLField<unknown, unknown>>) {
      if (!field.args.length || field.name.startsWith('_')) continue;
      const check = (args: Record<string, unknown>) => {
        for (const a of field.args) checkValue(args[a.name], a.type, a.name, `${type.name}.${field.name}(${a.name}:)`, l);
      };
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, ctx, info) => {
        check(args);
        return resolve(source, args, ctx, info);
      };
      const subscribe = field.subscribe;
      if (subscribe) {
        field.subscribe = (source, args, ctx, info) => {
          check(args);
          return subscribe(source, args, ctx, info);
        };
      }
      guarded++;
    }
  }
  return guarded;
}
