import { readFileSync } from 'node:fs';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

/**
 * FHIR-to-graph mappings kept as data: each field of the graph's type is a FHIRPath expression over the resource
 * (or over one element of a repeating field). Changing what the graph shows from a FHIR resource is an edit of a
 * JSON file, which the graph also serves (`Query.nhsFhirMappings`), not a code change.
 */
export interface FieldRule {
  path: string;
  /** The first value instead of the list. */
  one?: boolean;
  /** Each element the path selects becomes an object with these fields. */
  fields?: Record<string, FieldRule>;
  /** The FHIR type of the selected elements, when the path selects whole resources (e.g. from a Bundle). */
  type?: string;
}

export interface FhirMapping {
  name: string;
  description: string;
  source: string;
  fields: Record<string, FieldRule>;
}

type Compiled = { rule: FieldRule; fn: (node: unknown) => unknown[]; fields?: Array<[string, Compiled]> };

function compileRule(rule: FieldRule, base: string): Compiled {
  let fn: Compiled['fn'];
  try {
    const f = fhirpath.compile({ base, expression: rule.path }, r4 as never);
    fn = (node) => f(node as never) as unknown[];
  } catch (err) {
    throw new Error(`invalid FHIRPath "${rule.path}" (${(err as Error).message})`);
  }
  const childBase = rule.type ?? `${base}.${rule.path.split(/[.(]/)[0]}`;
  return { rule, fn, fields: rule.fields && Object.entries(rule.fields).map(([k, r]) => [k, compileRule(r, childBase)]) };
}

function apply(compiled: Array<[string, Compiled]>, node: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, c] of compiled) {
    const values = c.fn(node);
    const shaped = c.fields ? values.map((v) => apply(c.fields!, v)) : values;
    out[name] = c.rule.one ? (shaped[0] ?? null) : shaped;
  }
  return out;
}

export interface CompiledMapping {
  mapping: FhirMapping;
  map(resource: unknown): Record<string, unknown>;
}

export function compileMapping(mapping: FhirMapping): CompiledMapping {
  const compiled = Object.entries(mapping.fields).map(([k, r]) => [k, compileRule(r, mapping.source)] as [string, Compiled]);
  return { mapping, map: (resource) => apply(compiled, resource) };
}

export function loadMapping(file: string): CompiledMapping {
  return compileMapping(JSON.parse(readFileSync(new URL(`./mappings/${file}`, import.meta.url), 'utf8')) as FhirMapping);
}

/** Flattens a mapping to (target field, FHIRPath) rows, as the graph lists them. */
export function mappingRows(m: FhirMapping): Array<{ mapping: string; target: string; expression: string }> {
  const rows: Array<{ mapping: string; target: string; expression: string }> = [];
  const walk = (fields: Record<string, FieldRule>, prefix: string, pathPrefix: string) => {
    for (const [k, r] of Object.entries(fields)) {
      const expression = pathPrefix ? `${pathPrefix}.${r.path}` : r.path;
      if (r.fields) walk(r.fields, `${prefix}${k}.`, expression);
      else rows.push({ mapping: m.name, target: `${prefix}${k}`, expression });
    }
  };
  walk(m.fields, '', '');
  return rows;
}
