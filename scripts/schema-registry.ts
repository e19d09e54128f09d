import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema, lexicographicSortSchema, printSchema, type DocumentNode } from 'graphql';
import { typeDefs as systems } from '@hub/subgraph-systems';
import { typeDefs as integrations } from '@hub/subgraph-integrations';
import { typeDefs as mappings } from '@hub/subgraph-mappings';
import { typeDefs as metrics } from '@hub/subgraph-metrics';
import { typeDefs as events } from '@hub/subgraph-events';
import { typeDefs as nhs } from '@hub/subgraph-nhs';
import { typeDefs as hmrc } from '@hub/subgraph-hmrc';
import { typeDefs as banking } from '@hub/subgraph-banking';
import { typeDefs as care } from '@hub/subgraph-care';
import { typeDefs as audit } from '@hub/subgraph-audit';
import { typeDefs as regulatory } from '@hub/subgraph-regulatory';
import { typeDefs as payroll } from '@hub/subgraph-payroll';

/**
 * The schema registry check. `schema/` holds each subgraph's SDL, the composed supergraph and the client-facing
 * API schema, as last approved. A change must compose, and any breaking change to the API schema (a removed
 * field, a narrowed argument, ...) must be approved in `schema/approved-changes.json` before it is printed.
 */
export const SCHEMA_DIR = new URL('../schema/', import.meta.url).pathname;
export const APPROVALS = join(SCHEMA_DIR, 'approved-changes.json');

export interface SubgraphSdl {
  name: string;
  typeDefs: DocumentNode;
}

export const hubSubgraphs: SubgraphSdl[] = [
  { name: 'systems', typeDefs: systems },
  { name: 'integrations', typeDefs: integrations },
  { name: 'mappings', typeDefs: mappings },
  { name: 'metrics', typeDefs: metrics },
  { name: 'events', typeDefs: events },
  { name: 'nhs', typeDefs: nhs },
  { name: 'hmrc', typeDefs: hmrc },
  { name: 'banking', typeDefs: banking },
  { name: 'audit', typeDefs: audit },
  { name: 'care', typeDefs: care },
  { name: 'regulatory', typeDefs: regulatory },
  { name: 'payroll', typeDefs: payroll },
];

export interface Approval {
  /** The breaking change as graphql-inspector words it, e.g. "Field 'x' was removed from object type 'Y'". */
  change: string;
  reason: string;
  approvedBy?: string;
}

export interface Composed {
  files: Record<string, string>;
  apiSchema: string;
}

export function compose(subgraphs: SubgraphSdl[]): Composed {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: `inproc://${s.name}`, typeDefs: s.typeDefs })));
  if (result.errors?.length || !result.schema || !result.supergraphSdl) {
    throw new Error(`the supergraph does not compose:\n${(result.errors ?? []).map((e) => `  - ${e.message}`).join('\n')}`);
  }
  const apiSchema = printSchema(lexicographicSortSchema(result.schema.toAPISchema().toGraphQLJSSchema()));
  const files: Record<string, string> = {
    'supergraph.graphql': result.supergraphSdl,
    'api.graphql': apiSchema,
  };
  for (const s of subgraphs) files[`${s.name}.graphql`] = printSubgraphSchema(buildSubgraphSchema({ typeDefs: s.typeDefs })) + '\n';
  return { files, apiSchema };
}

export interface CheckResult {
  ok: boolean;
  breaking: string[];
  unapproved: string[];
  stale: string[];
  problems: string[];
}

export async function check(subgraphs: SubgraphSdl[] = hubSubgraphs, dir = SCHEMA_DIR): Promise<CheckResult> {
  const composed = compose(subgraphs);
  const baselineFile = join(dir, 'api.graphql');
  const approvals: Approval[] = existsSync(join(dir, 'approved-changes.json')) ? JSON.parse(readFileSync(join(dir, 'approved-changes.json'), 'utf8')) : [];
  const breaking: string[] = [];
  if (existsSync(baselineFile)) {
    const changes = await diff(buildSchema(readFileSync(baselineFile, 'utf8')), buildSchema(composed.apiSchema));
    for (const c of changes) if (c.criticality.level === CriticalityLevel.Breaking) breaking.push(c.message);
  }
  const approved = new Set(approvals.map((a) => a.change));
  const unapproved = breaking.filter((b) => !approved.has(b));
  const stale = Object.entries(composed.files)
    .filter(([name, text]) => !existsSync(join(dir, name)) || readFileSync(join(dir, name), 'utf8') !== text)
    .map(([name]) => name);
  const problems = [
    ...unapproved.map((b) => `breaking change not approved: ${b}`),
    ...stale.map((f) => `schema/${f} is out of date: run npm run schema:print`),
  ];
  return { ok: problems.length === 0, breaking, unapproved, stale, problems };
}

/** Writes the files; refuses while a breaking change is unapproved, so approval cannot be skipped by printing. */
export async function print(subgraphs: SubgraphSdl[] = hubSubgraphs, dir = SCHEMA_DIR): Promise<CheckResult> {
  const result = await check(subgraphs, dir);
  if (result.unapproved.length) return result;
  for (const [name, text] of Object.entries(compose(subgraphs).files)) writeFileSync(join(dir, name), text);
  return { ...result, ok: true, stale: [], problems: [] };
}
