import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, print } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { check, hubSubgraphs, print as printSchemas, SCHEMA_DIR, type SubgraphSdl } from '../scripts/schema-registry.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the checked-in schema/ to run the registry against. */
function registryCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));
  dirs.push(dir);
  cpSync(SCHEMA_DIR, dir, { recursive: true });
  return dir;
}

/** The hub's subgraphs with one subgraph's SDL edited. */
function edited(name: string, edit: (sdl: string) => string): SubgraphSdl[] {
  return hubSubgraphs.map((s) => (s.name === name ? { name, typeDefs: parse(edit(print(s.typeDefs))) } : s));
}

describe('npm run schema:check', () => {
  it('passes on the checked-in schema', async () => {
    const r = await check();
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('fails on a breaking change until it is approved', async () => {
    const dir = registryCopy();
    const breaking = edited('systems', (sdl) => sdl.replace(/\n\s*healthPath: String!\n/, '\n'));
    const r = await check(breaking, dir);
    expect(r.ok).toBe(false);
    expect(r.unapproved).toEqual(["Field 'healthPath' was removed from object type 'ExternalSystem'"]);
    // Printing does not let an unapproved breaking change through.
    expect((await printSchemas(breaking, dir)).ok).toBe(false);
    writeFileSync(join(dir, 'approved-changes.json'), JSON.stringify([{ change: "Field 'healthPath' was removed from object type 'ExternalSystem'", reason: 'test' }]));
    const approved = await check(breaking, dir);
    expect(approved.unapproved).toEqual([]);
    expect(approved.stale).toContain('api.graphql');
    expect((await printSchemas(breaking, dir)).ok).toBe(true);
    expect((await check(breaking, dir)).ok).toBe(true);
  });

  it('fails on a stale checked-in schema even when the change is safe', async () => {
    const dir = registryCopy();
    const additive = edited('mappings', (sdl) => sdl.replace('type Query {', 'type Query {\n  mappingCount: Int!'));
    const r = await check(additive, dir);
    expect(r.breaking).toEqual([]);
    expect(r.ok).toBe(false);
    expect(r.stale).toEqual(expect.arrayContaining(['api.graphql', 'supergraph.graphql', 'mappings.graphql']));
  });

  it('fails when the subgraphs do not compose', async () => {
    const clash = edited('mappings', (sdl) => sdl.replace('type Query {', 'type ExternalSystem @key(fields: "id") {\n  id: ID!\n  name: Int!\n}\n\ntype Query {'));
    await expect(check(clash, registryCopy())).rejects.toThrow(/does not compose/);
  });
});
