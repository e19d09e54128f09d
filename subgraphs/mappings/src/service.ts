import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { LRUCache } from 'lru-cache';
import { Histogram } from 'prom-client';
import { mappingsOutbox } from '@hub/db';
import { badInput, conflict, createOutboxRelay, isUuid, notFound, type EventPublisher, type HubRuntime, type OutboxEvent } from '@hub/runtime';
import { compileRules, rulesSchema, type CompiledMapping, type MappingRules } from './engine.ts';
import { DATA_FORMATS, fhirProblem, readData, writeData, type DataFormat, type FormatOptions } from './formats/index.ts';
import type { DataIssue } from './issues.ts';
import { createMappingsStore, type MappingContent, type MappingRow } from './store.ts';
import { createValidator } from './validation.ts';

export interface MappingInput {
  name: string;
  description?: string | null;
  sourceFormat: DataFormat;
  targetFormat: DataFormat;
  rules: unknown;
  targetSchema?: unknown;
}

export interface MappingChange {
  description?: string | null;
  sourceFormat?: DataFormat | null;
  targetFormat?: DataFormat | null;
  rules?: unknown;
  targetSchema?: unknown;
}

export interface TransformationResult {
  mappingId: string;
  mappingVersion: number;
  format: DataFormat;
  valid: boolean;
  /** The transformed data: a value for JSON and FHIR, the text for XML, CSV and HL7 v2. */
  data: unknown;
  text: string;
  records: number;
  issues: DataIssue[];
  durationMs: number;
}

/** The standard mapping convertFormat applies from HL7 v2 to FHIR: an ADT message's PID to a FHIR Patient. */
const ADT_TO_PATIENT = JSON.parse(readFileSync(new URL('./mappings/hl7v2-adt-patient.json', import.meta.url), 'utf8')) as { name: string; rules: MappingRules };

export function createMappingsService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createMappingsStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'mappings' });
  const relay = createOutboxRelay({ name: 'mappings', db: rt.database.db, table: mappingsOutbox, publisher, log });
  const validator = createValidator();
  const checkRules = new Ajv({ allErrors: false, strict: false }).compile(rulesSchema);
  // Versions never change, so a compiled version is good for as long as it is kept.
  const compiled = new LRUCache<string, CompiledMapping>({ max: 1_000 });
  const adtToPatient = compileRules(ADT_TO_PATIENT.rules, { fhir: false });

  const durations = new Histogram({
    name: 'hub_mapping_transform_duration_seconds',
    help: 'transformData and convertFormat: reading, mapping, validating and writing one request',
    labelNames: ['operation', 'from', 'to'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [rt.metrics],
  });

  const announce = (type: string, m: MappingRow): OutboxEvent => ({
    organisationId: m.organisationId,
    type,
    source: 'hub.mappings',
    payload: { mappingId: m.id, name: m.name, version: m.version, sourceFormat: m.sourceFormat, targetFormat: m.targetFormat },
  });

  function format(value: unknown, field: string): DataFormat {
    if (!DATA_FORMATS.includes(value as DataFormat)) throw badInput(`${field} must be one of ${DATA_FORMATS.join(', ')}`, { field });
    return value as DataFormat;
  }

  /** Checks a mapping's content and compiles it: whatever would fail at transform time is refused when saving. */
  function checked(c: MappingContent): CompiledMapping {
    format(c.sourceFormat, 'sourceFormat');
    format(c.targetFormat, 'targetFormat');
    if (!checkRules(c.rules)) {
      const e = checkRules.errors![0]!;
      throw badInput(`rules${e.instancePath.replace(/\//g, '.')} ${e.message}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`, { field: 'rules' });
    }
    if (c.targetSchema != null) validator.check(c.targetSchema, 'targetSchema');
    return compileRules(c.rules as MappingRules, { fhir: c.sourceFormat === 'FHIR' });
  }

  function description(d: string | null | undefined): string | null {
    if (d != null && d.length > 2_000) throw badInput('description must be at most 2,000 characters', { field: 'description' });
    return d ?? null;
  }

  /** The organisation's mapping; another organisation's is NOT_FOUND, like one that does not exist. */
  async function head(org: string, id: string): Promise<MappingRow> {
    const m = isUuid(id) ? await store.byId(org, id) : undefined;
    if (!m) throw notFound('mapping', id);
    return m;
  }

  /** Reads, checks and shapes output records: FHIR targets must be resources; a target schema, when set, holds. */
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

  const service = {
    list: (org: string) => store.list(org),
    byIds: (org: string, ids: readonly string[]) => store.byIds(org, ids.filter(isUuid)),
    async byId(org: string, id: string) {
      return isUuid(id) ? ((await store.byId(org, id)) ?? null) : null;
    },
    versions: (org: string, id: string) => store.versions(org, id),

    async create(org: string, input: MappingInput): Promise<MappingRow> {
      const name = input.name.trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,199}$/.test(name)) throw badInput('name must be 1 to 200 letters, digits, spaces or . _ : / -, starting with a letter or digit', { field: 'name' });
      const content: MappingContent = {
        description: description(input.description),
        sourceFormat: input.sourceFormat,
        targetFormat: input.targetFormat,
        rules: input.rules,
        targetSchema: (input.targetSchema ?? null) as Record<string, unknown> | null,
      };
      const c = checked(content);
      const row = await store.insert(org, { id: randomUUID(), name, ...content }, (r) => announce('mapping.created', r));
      if (!row) throw conflict(`a mapping named "${name}" already exists`, { field: 'name' });
      compiled.set(`${row.id}:1`, c);
      relay.kick();
      return row;
    },

    async update(org: string, id: string, expectedVersion: number, change: MappingChange): Promise<MappingRow> {
      const current = await head(org, id);
      if (current.version !== expectedVersion) {
        throw conflict(`mapping ${id} is at version ${current.version}, not ${expectedVersion}: read it again and reapply your change`, { currentVersion: current.version });
      }
      const next: MappingContent = {
        description: change.description === undefined ? current.description : description(change.description),
        sourceFormat: change.sourceFormat ?? current.sourceFormat,
        targetFormat: change.targetFormat ?? current.targetFormat,
        rules: change.rules ?? current.rules,
        targetSchema: (change.targetSchema === undefined ? current.targetSchema : change.targetSchema) as Record<string, unknown> | null,
      };
      const c = checked(next);
      const row = await store.update(org, id, expectedVersion, next, (r) => announce('mapping.updated', r));
      if (!row) {
        const now = await head(org, id);
        throw conflict(`mapping ${id} is at version ${now.version}, not ${expectedVersion}: read it again and reapply your change`, { currentVersion: now.version });
      }
      compiled.set(`${row.id}:${row.version}`, c);
      relay.kick();
      return row;
    },

    async remove(org: string, id: string): Promise<string> {
      if (!isUuid(id) || !(await store.remove(org, id, (r) => announce('mapping.deleted', r)))) throw notFound('mapping', id);
      relay.kick();
      return id;
    },

    async transform(org: string, data: unknown, mappingId: string, version?: number | null): Promise<TransformationResult> {
      const started = performance.now();
      const current = await head(org, mappingId);
      let m: MappingContent & { version: number } = current;
      if (version != null && version !== current.version) {
        const v = await store.version(org, mappingId, version);
        if (!v) throw notFound('mapping version', `${mappingId}@${version}`);
        m = v;
      }
      const key = `${mappingId}:${m.version}`;
      let c = compiled.get(key);
      if (!c) compiled.set(key, (c = compileRules(m.rules as MappingRules, { fhir: m.sourceFormat === 'FHIR' })));
      const source = m.sourceFormat as DataFormat;
      const target = m.targetFormat as DataFormat;
      const input = readData(source, data);
      const { output, records, issues } = c.apply(input);
      issues.push(...outputIssues(target, output, m.targetSchema, Array.isArray(output)));
      const written = writeData(target === 'FHIR' ? 'JSON' : target, output);
      const durationMs = performance.now() - started;
      durations.observe({ operation: 'transformData', from: source, to: target }, durationMs / 1000);
      return { mappingId, mappingVersion: m.version, format: target, valid: issues.length === 0, data: written.data, text: written.text, records, issues, durationMs };
    },

    validate(data: unknown, schema: unknown, opts: { format: DataFormat; cleanse: boolean }) {
      const value = readData(opts.format, data);
      return validator.validate(value, schema, { cleanse: opts.cleanse });
    },

    convert(data: unknown, from: DataFormat, to: DataFormat, options: FormatOptions = {}) {
      const started = performance.now();
      if (options.csvDelimiter !== undefined && (options.csvDelimiter.length !== 1 || /["\r\n]/.test(options.csvDelimiter))) {
        throw badInput('options.csvDelimiter must be one character other than a quote or a line break', { field: 'options.csvDelimiter' });
      }
      let value = readData(from, data, options);
      const warnings: string[] = [];
      if (to === 'FHIR' && from === 'HL7V2') {
        if (!(value as Record<string, unknown>).PID) throw badInput('HL7 v2 to FHIR reads a resident from the PID segment, and this message has none', { field: 'data' });
        const mapped = adtToPatient.apply(value);
        value = mapped.output;
        warnings.push(...mapped.issues.map((i) => `${i.path}: ${i.message}`));
      } else if (from === 'FHIR' && to !== 'FHIR' && to !== 'JSON') {
        throw badInput(`FHIR converts to JSON here, not to ${to} (FHIR's own XML form is not supported); for another shape create a mapping with sourceFormat FHIR`, { field: 'to' });
      } else if (to === 'FHIR' && from !== 'JSON') {
        throw badInput(`${from} has no standard FHIR form; HL7V2 and JSON (already FHIR-shaped) convert to FHIR, anything else through a mapping with targetFormat FHIR`, { field: 'from' });
      }
      const out = writeData(to, value, options);
      durations.observe({ operation: 'convertFormat', from, to }, (performance.now() - started) / 1000);
      return { format: to, data: out.data, text: out.text, warnings };
    },

    start: () => relay.start(),
    stop: () => relay.stop(),
  };
  return service;
}

export type MappingsService = ReturnType<typeof createMappingsService>;
