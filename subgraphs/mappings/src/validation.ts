import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { badInput } from '@hub/runtime/errors';
import { isValidNhsNumber, NI_NUMBER, SORT_CODE, UK_POSTCODE } from '@hub/runtime/uk-identifiers';
import { issuePath, pointerPath, type DataIssue } from './issues.ts';

/**
 * JSON Schema validation (draft 2020-12 keywords as Ajv reads them) with the formats care-home data needs on top of
 * the standard ones: `nhs-number` (Modulus 11), `uk-postcode`, `ni-number` (HMRC) and `sort-code`.
 */
function newAjv(opts: { cleanse: boolean }): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    // A caller's schema with an $id is not registered by it: callers cannot $ref each other's schemas, and a
    // compiled schema leaves Ajv when the cache below lets it go (Ajv keeps every schema it compiled otherwise).
    addUsedSchema: false,
    // Cleansing: fill defaults, turn "42" into 42 where the schema says number, drop properties a schema closes.
    ...(opts.cleanse ? { useDefaults: true, coerceTypes: true, removeAdditional: true } : {}),
  });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addFormat('nhs-number', { type: 'string', validate: isValidNhsNumber });
  ajv.addFormat('uk-postcode', { type: 'string', validate: (s: string) => UK_POSTCODE.test(s) });
  ajv.addFormat('ni-number', { type: 'string', validate: (s: string) => NI_NUMBER.test(s) });
  ajv.addFormat('sort-code', { type: 'string', validate: (s: string) => SORT_CODE.test(s) });
  return ajv;
}

export interface DataChange {
  path: string;
  /** TRIMMED, REMOVED, COERCED or DEFAULTED. */
  action: string;
  from?: unknown;
  to?: unknown;
}

/** Trims every string and drops empty strings and nulls from objects, noting each change. */
function tidy(value: unknown, at: Array<string | number>, changes: DataChange[]): unknown {
  if (typeof value === 'string') {
    const t = value.trim();
    if (t !== value) changes.push({ path: issuePath(at), action: 'TRIMMED', from: value, to: t });
    return t;
  }
  if (Array.isArray(value)) return value.map((v, i) => tidy(v, [...at, i], changes));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const t = tidy(v, [...at, k], changes);
      if (t === null || t === '') changes.push({ path: issuePath([...at, k]), action: 'REMOVED', from: v });
      else out[k] = t;
    }
    return out;
  }
  return value;
}

/** What Ajv's coercion, defaults and removals did, found by comparing before and after. */
function diff(before: unknown, after: unknown, at: Array<string | number>, changes: DataChange[]): void {
  if (isDeepStrictEqual(before, after)) return;
  const bothObjects = before !== null && after !== null && typeof before === 'object' && typeof after === 'object' && Array.isArray(before) === Array.isArray(after);
  if (!bothObjects) {
    changes.push({ path: issuePath(at), action: before === undefined ? 'DEFAULTED' : 'COERCED', from: before, to: after });
    return;
  }
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const key = Array.isArray(before) ? Number(k) : k;
    if (!(k in a)) changes.push({ path: issuePath([...at, key]), action: 'REMOVED', from: b[k] });
    else diff(b[k], a[k], [...at, key], changes);
  }
}

function describe(e: ErrorObject): string {
  const where = e.instancePath ? pointerPath(e.instancePath) : 'the data';
  if (e.keyword === 'required') return `${where === 'the data' ? '' : `${where}.`}${(e.params as { missingProperty: string }).missingProperty} is required`;
  if (e.keyword === 'additionalProperties') return `${where} has an unexpected property ${(e.params as { additionalProperty: string }).additionalProperty}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

export const schemaIssues = (errors: ErrorObject[] | null | undefined, prefix = ''): DataIssue[] =>
  (errors ?? []).map((e) => {
    const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
    const path = pointerPath(e.instancePath, prefix);
    return { path: missing ? issuePath([...(path ? [path] : []), missing]) : path, code: 'SCHEMA', keyword: e.keyword, message: describe(e) };
  });

export function createValidator(opts: { maxSchemas?: number } = {}) {
  const plain = newAjv({ cleanse: false });
  const cleansing = newAjv({ cleanse: true });
  // Compiling a schema is the expensive part; callers tend to send the same few schemas again and again. Bounded:
  // a schema evicted here is removed from its Ajv too, so caller schemas cost bounded memory however many arrive.
  const compiled = new LRUCache<string, ValidateFunction>({
    max: opts.maxSchemas ?? 500,
    dispose: (fn, key) => (key.startsWith('c:') ? cleansing : plain).removeSchema(fn.schema as object),
  });

  function compile(schema: unknown, cleanse: boolean, field: string): ValidateFunction {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw badInput(`${field} must be a JSON Schema object`, { field });
    const key = `${cleanse ? 'c' : 'p'}:${JSON.stringify(schema)}`;
    let fn = compiled.get(key);
    if (!fn) {
      try {
        fn = (cleanse ? cleansing : plain).compile(schema);
      } catch (err) {
        throw badInput(`${field} is not a valid JSON Schema: ${(err as Error).message}`, { field });
      }
      compiled.set(key, fn);
    }
    return fn;
  }

  return {
    /** Compiled schemas held: in this cache, and in each Ajv instance's own (for tests of the bound). */
    held: () => ({ cached: compiled.size, ajv: ajvCacheSize(plain) + ajvCacheSize(cleansing) }),
    /** Checks a schema now, so a mapping with a broken target schema is refused when it is saved. */
    check: (schema: unknown, field: string) => void compile(schema, false, field),

    validate(data: unknown, schema: unknown, opts: { cleanse: boolean; prefix?: string }): { valid: boolean; issues: DataIssue[]; data: unknown; changes: DataChange[] } {
      const fn = compile(schema, opts.cleanse, 'schema');
      if (!opts.cleanse) {
        const valid = fn(data);
        return { valid, issues: valid ? [] : schemaIssues(fn.errors, opts.prefix), data, changes: [] };
      }
      const changes: DataChange[] = [];
      const tidied = tidy(data, [], changes);
      const cleansed = structuredClone(tidied);
      const valid = fn(cleansed);
      diff(tidied, cleansed, [], changes);
      return { valid, issues: valid ? [] : schemaIssues(fn.errors, opts.prefix), data: cleansed, changes };
    },
  };
}

export type Validator = ReturnType<typeof createValidator>;

const ajvCacheSize = (a: Ajv) => ((a as unknown as { _cache: Map<unknown, unknown> })._cache).size;
