/**
 * Payload schemas whose regular expressions come from a caller (`pattern`, `patternProperties`, `format: regex`)
 * are checked here, in the worker pool, under its time limit: a pattern that backtracks for ever stops one worker,
 * not the event loop every publisher and subscriber shares (payload-schemas.ts sends only those).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { LRUCache } from 'lru-cache';

const ajv = new Ajv({ allErrors: true, strict: false, addUsedSchema: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
// Keyed by organisation, type and version: a version never changes. Evicted ones leave Ajv too.
const compiled = new LRUCache<string, ValidateFunction>({ max: 500, dispose: (fn) => ajv.removeSchema(fn.schema as object) });

export const tasks = {
  check(a: { key: string; schema: Record<string, unknown>; payloads: unknown[] }): Array<string[] | null> {
    let fn = compiled.get(a.key);
    if (!fn) compiled.set(a.key, (fn = ajv.compile(a.schema)));
    return a.payloads.map((p) => (fn(p) ? null : (fn.errors ?? []).map((x) => `${x.instancePath || '/'} ${x.message}`)));
  },
};
