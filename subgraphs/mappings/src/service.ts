import { randomUUID } from 'node:crypto';
import { Histogram } from 'prom-client';
import { mappingsOutbox } from '@hub/db';
import { badInput, conflict, createOutboxRelay, createWorkerPool, isUuid, notFound, type EventPublisher, type HubRuntime, type OutboxEvent } from '@hub/runtime';
import { DATA_FORMATS, type DataFormat, type FormatOptions } from './formats/index.ts';
import type { DataIssue } from './issues.ts';
import { createMappingsStore, type MappingContent, type MappingRow } from './store.ts';
import type { DataChange } from './validation.ts';
import type { MappingSource, tasks } from './worker.ts';

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

type Tasks = typeof tasks;
export function createMappingsService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createMappingsStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'mappings' });
  const relay = createOutboxRelay({ name: 'mappings', db: rt.database.db, table: mappingsOutbox, publisher, log });
  // Reading, mapping, validating and writing run in worker threads (worker.ts), under a time and a memory limit.
  const pool = createWorkerPool({
    name: 'mappings',
    module: new URL('./worker.ts', import.meta.url),
    ...rt.config.workerPool,
    metrics: rt.metrics,
    onError: (err) => log.error({ err }, 'a mappings worker failed outside a task'),
  });
  const work = <K extends keyof Tasks>(task: K, input: Parameters<Tasks[K]>[0]) => pool.run<ReturnType<Tasks[K]>>(task, input);

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

  /** Checks a mapping's content (in a worker): whatever would fail at transform time is refused when saving. */
  const checked = (c: MappingContent) => work('checkMapping', source(c));
  const source = (c: MappingContent, key?: string): MappingSource => ({ key, sourceFormat: c.sourceFormat as DataFormat, targetFormat: c.targetFormat as DataFormat, rules: c.rules, targetSchema: c.targetSchema });

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
      await checked(content);
      const row = await store.insert(org, { id: randomUUID(), name, ...content }, (r) => announce('mapping.created', r));
      if (!row) throw conflict(`a mapping named "${name}" already exists`, { field: 'name' });
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
      await checked(next);
      const row = await store.update(org, id, expectedVersion, next, (r) => announce('mapping.updated', r));
      if (!row) {
        const now = await head(org, id);
        throw conflict(`mapping ${id} is at version ${now.version}, not ${expectedVersion}: read it again and reapply your change`, { currentVersion: now.version });
      }
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
      const target = m.targetFormat as DataFormat;
      const { data: out, text, records, issues } = await work('transform', { mapping: source(m, `${mappingId}:${m.version}`), data });
      const durationMs = performance.now() - started;
      durations.observe({ operation: 'transformData', from: m.sourceFormat, to: target }, durationMs / 1000);
      return { mappingId, mappingVersion: m.version, format: target, valid: issues.length === 0, data: out, text, records, issues, durationMs };
    },

    validate(data: unknown, schema: unknown, opts: { format: DataFormat; cleanse: boolean }): Promise<{ valid: boolean; issues: DataIssue[]; data: unknown; changes: DataChange[] }> {
      return work('validate', { data, schema, format: opts.format, cleanse: opts.cleanse });
    },

    async convert(data: unknown, from: DataFormat, to: DataFormat, options: FormatOptions = {}) {
      const started = performance.now();
      if (options.csvDelimiter !== undefined && (options.csvDelimiter.length !== 1 || /["\r\n]/.test(options.csvDelimiter))) {
        throw badInput('options.csvDelimiter must be one character other than a quote or a line break', { field: 'options.csvDelimiter' });
      }
      const out = await work('convert', { data, from, to, options });
      durations.observe({ operation: 'convertFormat', from, to }, (performance.now() - started) / 1000);
      return out;
    },

    start() {
      // A worker loads in a second or two (tsx compiles its modules): load one now, not on a caller's first transform.
      pool.warm();
      return relay.start();
    },
    async stop() {
      await relay.stop();
      await pool.close();
    },
  };
  return service;
}

export type MappingsService = ReturnType<typeof createMappingsService>;
