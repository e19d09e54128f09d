/**
 * The mappings subgraph's CPU-heavy and caller-programmable work, run in the worker pool (see
 * packages/runtime/src/workers): reading and writing formats (a 10 MB CSV, an HL7 v2 batch), FHIRPath over the
 * data (a caller's expression, `matches()` with a caller's regular expression among them) and validation against a
 * caller's JSON Schema (its `pattern`s too). Whatever a caller sends runs here under the pool's time and memory
 * limits, never on the event loop that answers everything else.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { LRUCache } from 'lru-cache';
import { badInput } from '@hub/runtime/errors';
import { compileRules, rulesSchema, type CompiledMapping, type MappingRules } from './engine.ts';
import { fhirProblem, readData, writeData, type DataFormat, type FormatOptions } from './formats/index.ts';
import type { DataIssue } from './issues.ts';
import { createValidator } from './validation.ts';

export interface MappingSource {
  /** `<id>:<version>`: a version never changes, so its compiled rules are good for as long as they are kept. */
  key?: string;
  sourceFormat: DataFormat;
  targetFormat: DataFormat;
  rules: unknown;
  targetSchema?: unknown;
}

/** The standard mapping convertFormat applies from HL7 v2 to FHIR: an ADT message's PID to a FHIR Patient. */
const ADT_TO_PATIENT = JSON.parse(readFileSync(new URL('./mappings/hl7v2-adt-patient.json', import.meta.url), 'utf8')) as { name: string; rules: MappingRules };

const validator = createValidator();
const checkRules = new Ajv({ allErrors: false, strict: false }).compile(rulesSchema);
const compiled = new LRUCache<string, CompiledMapping>({ max: 1_000 });
let adtToPatient: CompiledMapping | undefined;

function formatOf(value: unknown, field: string): DataFormat {
  if (!['JSON', 'XML', 'CSV', 'HL7V2', 'FHIR'].includes(value as string)) throw badInput(`${field} must be one of JSON, XML, CSV, HL7V2, FHIR`, { field });
  return value as DataFormat;
}

/** Checks a mapping's content and compiles it: whatever would fail at transform time is refused when saving. */
function check(m: MappingSource): CompiledMapping {
  formatOf(m.sourceFormat, 'sourceFormat');
  formatOf(m.targetFormat, 'targetFormat');
  if (!checkRules(m.rules)) {
    const e = checkRules.errors![0]!;
    throw badInput(`rules${e.instancePath.replace(/\//g, '.')} ${e.message}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`, { field: 'rules' });
  }
  if (m.targetSchema != null) validator.check(m.targetSchema, 'targetSchema');
  return compileRules(m.rules as MappingRules, { fhir: m.sourceFormat === 'FHIR' });
}

function compiledOf(m: MappingSource): CompiledMapping {
  const hit = m.key ? compiled.get(m.key) : undefined;
  if (hit) return hit;
  const c = compileRules(m.rules as MappingRules, { fhir: m.sourceFormat === 'FHIR' });
  if (m.key) compiled.set(m.key, c);
  return c;
}

/** FHIR targets must be resources; a target schema, when set, holds for each output record. */
function outputIssues(target: DataFormat, output: unknown, targetSchema: unknown, many: boolean): DataIssue[] {
  const issues: DataIssue[] = [];
  if (target === 'FHIR') {
    const p = fhirProblem(output);
    if (p) issues.push({ path: '', code: 'FHIR', message: p });
  }
  if (targetSchema != null) {
    const list = many ? (output as unknown[]) : [output];
    list.forEach((rec, i) => issues.push(...validator.validate(rec, targetSchema, { cleanse: false, prefix: many ? `[${i}]` : '' }).issues));
  }
  return issues;
}

export const tasks = {
  /** Saving a mapping: its rules and target schema are checked (and compiled, then cached under its key). */
  checkMapping(m: MappingSource): null {
    const c = check(m);
    if (m.key) compiled.set(m.key, c);
    return null;
  },

  transform(a: { mapping: MappingSource; data: unknown }) {
    const { mapping: m } = a;
    const c = compiledOf(m);
    const input = readData(m.sourceFormat, a.data);
    const { output, records, issues } = c.apply(input);
    issues.push(...outputIssues(m.targetFormat, output, m.targetSchema, Array.isArray(output)));
    const written = writeData(m.targetFormat === 'FHIR' ? 'JSON' : m.targetFormat, output);
    return { data: written.data, text: written.text, records, issues };
  },

  validate(a: { data: unknown; schema: unknown; format: DataFormat; cleanse: boolean }) {
    const value = readData(a.format, a.data);
    return validator.validate(value, a.schema, { cleanse: a.cleanse });
  },

  convert(a: { data: unknown; from: DataFormat; to: DataFormat; options: FormatOptions }) {
    const { from, to, options } = a;
    let value = readData(from, a.data, options);
    const warnings: string[] = [];
    if (to === 'FHIR' && from === 'HL7V2') {
      if (!(value as Record<string, unknown>).PID) throw badInput('HL7 v2 to FHIR reads a resident from the PID segment, and this message has none', { field: 'data' });
      adtToPatient ??= compileRules(ADT_TO_PATIENT.rules, { fhir: false });
      const mapped = adtToPatient.apply(value);
      value = mapped.output;
      warnings.push(...mapped.issues.map((i) => `${i.path}: ${i.message}`));
    } else if (from === 'FHIR' && to !== 'FHIR' && to !== 'JSON') {
      throw badInput(`FHIR converts to JSON here, not to ${to} (FHIR's own XML form is not supported); for another shape create a mapping with sourceFormat FHIR`, { field: 'to' });
    } else if (to === 'FHIR' && from !== 'JSON') {
      throw badInput(`${from} has no standard FHIR form; HL7V2 and JSON (already FHIR-shaped) convert to FHIR, anything else through a mapping with targetFormat FHIR`, { field: 'from' });
    }
    const out = writeData(to, value, options);
    return { format: to, data: out.data, text: out.text, warnings };
  },
};
