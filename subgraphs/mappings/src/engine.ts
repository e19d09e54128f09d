import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
// Subpaths, not the package: this module is loaded in worker threads, which need none of the rest.
import { badInput } from '@hub/runtime/errors';
import { isValidNhsNumber, normalizePostcode, UK_POSTCODE } from '@hub/runtime/uk-identifiers';
import { issuePath, type DataIssue } from './issues.ts';

/**
 * A mapping's rules, kept as data: each field of the output is a FHIRPath expression over the source record (or over
 * one element a parent rule selected), a constant, or both with a fallback; values can be reshaped by a list of
 * named transforms. FHIRPath walks any JSON, so one language serves every source format (HL7 v2 and XML are read
 * into JSON first; see formats/).
 */
export type Transform =
  | 'trim'
  | 'upper'
  | 'lower'
  | 'text'
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'nhsNumber'
  | 'postcode'
  | { map: Record<string, unknown>; otherwise?: unknown }
  | { prefix: string }
  | { split: string };

export interface FieldRule {
  /** FHIRPath over the current record or element. `%root` is the whole input, `%record` the record being mapped. */
  path?: string;
  /** A constant (used when there is no path, or when the path selects nothing). */
  value?: unknown;
  /** The first value instead of the list. */
  one?: boolean;
  /** Each element the path selects becomes an object with these fields. */
  fields?: Record<string, FieldRule>;
  transform?: Transform[];
  /** Joins the values into one string with this separator. */
  join?: string;
  /** An output record without a value here is reported. */
  required?: boolean;
}

export interface MappingRules {
  /** FHIRPath selecting the records to map (each becomes one output record); absent: the whole input is one record, or each row of a CSV. */
  forEach?: string;
  fields: Record<string, FieldRule>;
}

/** The JSON Schema of rules: saving a mapping checks it, so a malformed rule is refused then, not at transform time. */
export const rulesSchema = {
  $id: 'hub:mapping-rules',
  type: 'object',
  required: ['fields'],
  additionalProperties: false,
  properties: {
    forEach: { type: 'string', minLength: 1 },
    fields: { $ref: '#/$defs/fields' },
  },
  $defs: {
    fields: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z_$][A-Za-z0-9_$-]*$' },
      additionalProperties: { $ref: '#/$defs/rule' },
    },
    rule: {
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['path'] }, { required: ['value'] }],
      properties: {
        path: { type: 'string', minLength: 1 },
        value: {},
        one: { type: 'boolean' },
        fields: { $ref: '#/$defs/fields' },
        join: { type: 'string' },
        required: { type: 'boolean' },
        transform: {
          type: 'array',
          items: {
            oneOf: [
              { enum: ['trim', 'upper', 'lower', 'text', 'string', 'number', 'integer', 'boolean', 'date', 'datetime', 'nhsNumber', 'postcode'] },
              { type: 'object', required: ['map'], additionalProperties: false, properties: { map: { type: 'object' }, otherwise: {} } },
              { type: 'object', required: ['prefix'], additionalProperties: false, properties: { prefix: { type: 'string' } } },
              { type: 'object', required: ['split'], additionalProperties: false, properties: { split: { type: 'string', minLength: 1 } } },
            ],
          },
        },
      },
    },
  },
} as const;

type Evaluate = (node: unknown, env: Record<string, unknown>) => unknown[];
interface Compiled {
  name: string;
  rule: FieldRule;
  evaluate?: Evaluate;
  fields?: Compiled[];
}

// trace() in a caller's expression would print the data it walks (residents' records) to stdout: it is a no-op.
const FHIRPATH_OPTIONS = { traceFn: () => {} };

function compileExpression(expression: string, at: string, fhir: boolean): Evaluate {
  try {
    const f = fhirpath.compile(expression, (fhir ? r4 : undefined) as never, FHIRPATH_OPTIONS as never);
    return (node, env) => f(node as never, env as never) as unknown[];
  } catch (err) {
    throw badInput(`${at}: invalid FHIRPath "${expression}" (${(err as Error).message.split('\n')[0]})`, { field: at });
  }
}

function compileFields(fields: Record<string, FieldRule>, at: string, fhir: boolean): Compiled[] {
  return Object.entries(fields).map(([name, rule]) => {
    const where = `${at}.${name}`;
    if (rule.fields && rule.join !== undefined) throw badInput(`${where}: a rule with fields cannot also join`, { field: where });
    return {
      name,
      rule,
      evaluate: rule.path === undefined ? undefined : compileExpression(rule.path, `${where}.path`, fhir),
      fields: rule.fields && compileFields(rule.fields, `${where}.fields`, fhir),
    };
  });
}

/** A date (or a year, or a year and month) that exists: no 31 June, no 29 February outside leap years. */
function calendarDate(y: string, mo?: string, d?: string): string | undefined {
  if (mo === undefined) return y;
  const month = Number(mo);
  if (month < 1 || month > 12) return undefined;
  if (d === undefined) return `${y}-${mo.padStart(2, '0')}`;
  const day = Number(d);
  if (day < 1 || day > new Date(Date.UTC(Number(y), month, 0)).getUTCDate()) return undefined;
  return `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`;
}

/** HL7 v2 and UK date forms to FHIR's: 19880818 and 18/08/1988 become 1988-08-18; partial dates stay partial. */
function toDate(v: string): string | undefined {
  let m = /^(\d{4})(\d{2})?(\d{2})?/.exec(v);
  if (m && /^\d{4}(\d{2}){0,6}(\.\d+)?([+-]\d{4})?$/.test(v)) return calendarDate(m[1]!, m[2], m[3]);
  m = /^(\d{4})-(\d{2})(?:-(\d{2}))?(?:T.*)?$/.exec(v);
  if (m) return calendarDate(m[1]!, m[2], m[3]);
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v);
  if (m) return calendarDate(m[3]!, m[2], m[1]);
  return undefined;
}

/** HL7 v2 timestamps (YYYYMMDDHHMMSS.S+ZZZZ) to FHIR dateTime; a time without a zone is refused (FHIR needs one). */
function toDateTime(v: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4}|Z)?$/.exec(v);
  if (m) {
    const [, y, mo, d, h, mi = '00', s = '00', frac = '', zone] = m;
    if (!zone || !calendarDate(y!, mo, d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
    const tz = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${tz}`;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return v;
  return toDate(v);
}

type Step = (v: unknown) => unknown;
const failed = Symbol('failed');

function stepFor(t: Transform): { step: Step; name: string } {
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : failed);
  const onString = (name: string, f: (s: string) => unknown) => ({
    name,
    step: (v: unknown) => {
      const s = str(v);
      return s === failed ? failed : f(s as string);
    },
  });
  if (typeof t === 'object') {
    if ('map' in t) {
      const has = 'otherwise' in t;
      return { name: 'map', step: (v) => (Object.hasOwn(t.map, String(v)) ? t.map[String(v)] : has ? t.otherwise : failed) };
    }
    if ('prefix' in t) return onString('prefix', (s) => t.prefix + s);
    return onString('split', (s) => s.split(t.split));
  }
  switch (t) {
    case 'trim':
      return onString(t, (s) => s.trim());
    case 'upper':
      return onString(t, (s) => s.toUpperCase());
    case 'lower':
      return onString(t, (s) => s.toLowerCase());
    case 'string':
      return { name: t, step: (v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : str(v)) };
    case 'text':
      // An HL7 component with subcomponents reads as its first one (the surname of a family name, say).
      return { name: t, step: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (Object.values(v)[0] ?? failed) : v) };
    case 'number':
      return onString(t, (s) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : failed));
    case 'integer':
      return onString(t, (s) => (/^\s*[+-]?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : failed));
    case 'boolean':
      return {
        name: t,
        step: (v) => {
          if (typeof v === 'boolean') return v;
          const s = String(v).trim().toLowerCase();
          return ['true', 'yes', 'y', '1'].includes(s) ? true : ['false', 'no', 'n', '0'].includes(s) ? false : failed;
        },
      };
    case 'date':
      return onString(t, (s) => toDate(s.trim()) ?? failed);
    case 'datetime':
      return onString(t, (s) => toDateTime(s.trim()) ?? failed);
    case 'nhsNumber':
      return onString(t, (s) => {
        const n = s.replace(/[\s-]/g, '');
        return isValidNhsNumber(n) ? n : failed;
      });
    case 'postcode':
      return onString(t, (s) => {
        const p = normalizePostcode(s);
        return UK_POSTCODE.test(p) ? p : failed;
      });
  }
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

export interface CompiledMapping {
  /**
   * Maps parsed input. With forEach, or when the input is a list (the rows of a CSV, say), each selected record
   * becomes one output record and the output is a list; otherwise the output is one record.
   */
  apply(input: unknown): { output: unknown; records: number; issues: DataIssue[] };
}

/** Checks and compiles rules; a bad expression or transform is a BAD_USER_INPUT naming the rule. */
export function compileRules(rules: MappingRules, opts: { fhir: boolean }): CompiledMapping {
  const fields = compileFields(rules.fields, 'rules.fields', opts.fhir);
  const forEach = rules.forEach === undefined ? undefined : compileExpression(rules.forEach, 'rules.forEach', opts.fhir);
  const steps = new Map<Transform, { step: Step; name: string }>();
  const stepOf = (t: Transform) => steps.get(t) ?? steps.set(t, stepFor(t)).get(t)!;

  function mapObject(compiled: Compiled[], node: unknown, env: Record<string, unknown>, at: string, issues: DataIssue[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const c of compiled) {
      const where = `${at}${at ? '.' : ''}${c.name}`;
      let values: unknown[] = [];
      try {
        if (c.evaluate) values = c.evaluate(node, env);
      } catch (err) {
        // FHIRPath that compiles can still fail on the data (a list where one value is expected, say).
        issues.push({ path: where, code: 'PATH', message: `${c.rule.path} failed: ${(err as Error).message.split('\n')[0]}` });
      }
      if (values.length === 0 && c.rule.value !== undefined) values = [c.rule.value];
      if (c.fields) {
        values = values.map((v, i) => mapObject(c.fields!, v, env, c.rule.one ? where : `${where}[${i}]`, issues)).filter((o) => Object.keys(o).length > 0);
      }
      for (const t of c.rule.transform ?? []) {
        const { step, name } = stepOf(t);
        values = values.flatMap((v, i) => {
          const r = step(v);
          if (r === failed) {
            issues.push({ path: where, code: 'TRANSFORM', message: `${name} cannot take ${JSON.stringify(v)}${values.length > 1 ? ` (value ${i + 1})` : ''}` });
            return [];
          }
          return Array.isArray(r) ? r : [r];
        });
      }
      values = values.filter((v) => !isEmpty(v));
      if (c.rule.join !== undefined && values.length) values = [values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(c.rule.join)];
      if (values.length === 0) {
        if (c.rule.required) issues.push({ path: where, code: 'REQUIRED', message: `${where} is required and the source has no value for it` });
        continue;
      }
      out[c.name] = c.rule.one ? values[0] : values;
    }
    return out;
  }

  return {
    apply(input) {
      const issues: DataIssue[] = [];
      const many = forEach !== undefined || Array.isArray(input);
      const records = forEach ? forEach(input, { root: input }) : Array.isArray(input) ? input : [input];
      const out = records.map((r, i) => mapObject(fields, r, { root: input, record: r }, many ? issuePath([i]) : '', issues));
      return { output: many ? out : out[0], records: out.length, issues };
    },
  };
}
