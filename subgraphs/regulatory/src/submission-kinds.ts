import { readdirSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * The kinds of submission (a notification or return to a regulator), each a versioned JSON document kept as data
 * in submission-kinds/ (`<name>.v<version>.json`): its payload's JSON Schema, deadline, channel and whether it names
 * a resident. A new version is a new file; a submission keeps the version it was validated against.
 */
export interface SubmissionKind {
  kind: string;
  version: number;
  title: string;
  regulator: string;
  basis: string;
  namesResident: boolean;
  /** How long after it is made it must be sent, unless the submission sets an earlier deadline. */
  deadlineHours: number;
  channel: 'SMTP';
  schema: Record<string, unknown>;
}

export interface KindRegistry {
  /** The latest version of a kind. */
  latest(kind: string): SubmissionKind | undefined;
  get(kind: string, version: number): SubmissionKind | undefined;
  all(): SubmissionKind[];
  /** Every problem with a payload, missing fields first, each as `path: what` (empty when it is valid). */
  problems(k: SubmissionKind, payload: unknown): { missing: string[]; invalid: string[] };
}

const dotted = (pointer: string) => pointer.replace(/^\//, '').replace(/\//g, '.');

function describe(e: ErrorObject): string {
  const at = dotted(e.instancePath) || 'payload';
  if (e.keyword === 'additionalProperties') return `${at === 'payload' ? '' : `${at}.`}${(e.params as { additionalProperty: string }).additionalProperty} is not a field of this kind`;
  if (e.keyword === 'enum') return `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${at} ${e.message}`;
}

export function loadKinds(dir = new URL('./submission-kinds/', import.meta.url)): KindRegistry {
  const ajv = new Ajv({ allErrors: true, strict: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  const kinds: SubmissionKind[] = [];
  const validators = new Map<SubmissionKind, ValidateFunction>();
  for (const file of readdirSync(dir).filter((f) => /\.v\d+\.json$/.test(f)).sort()) {
    const k = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as SubmissionKind;
    if (!/^[A-Z][A-Z0-9_]+$/.test(k.kind) || !Number.isInteger(k.version) || k.version < 1) throw new Error(`submission kind ${file}: kind and version are malformed`);
    if (kinds.some((o) => o.kind === k.kind && o.version === k.version)) throw new Error(`submission kind ${k.kind} v${k.version} is defined twice`);
    kinds.push(k);
    validators.set(k, ajv.compile(k.schema));
  }
  const versions = (kind: string) => kinds.filter((k) => k.kind === kind).sort((a, b) => b.version - a.version);
  return {
    latest: (kind) => versions(kind)[0],
    get: (kind, version) => kinds.find((k) => k.kind === kind && k.version === version),
    all: () => [...kinds],
    problems(k, payload) {
      const validate = validators.get(k)!;
      if (validate(payload)) return { missing: [], invalid: [] };
      const missing: string[] = [];
      const invalid: string[] = [];
      for (const e of validate.errors ?? []) {
        if (e.keyword === 'required') {
          const at = dotted(e.instancePath);
          missing.push(`${at ? `${at}.` : ''}${(e.params as { missingProperty: string }).missingProperty}`);
        } else invalid.push(describe(e));
      }
      return { missing, invalid: [...new Set(invalid)] };
    },
  };
}
