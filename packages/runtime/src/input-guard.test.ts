import { buildSchema, graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { applyInputGuard, unstorable } from './input-guard.ts';

const schema = () => {
  const s = buildSchema(`
    scalar JSON
    input Filter { homeId: ID, systemId: ID, names: [String!] }
    type Query {
      thing(id: ID!): String
      home(id: ID!): String
      resident(residentId: ID!): String
      list(filter: Filter, first: Int, data: JSON): String
    }
  `);
  for (const f of Object.values(s.getQueryType()!.getFields())) f.resolve = () => 'ok';
  return s;
};

async function run(query: string, variableValues: Record<string, unknown> = {}) {
  const s = schema();
  applyInputGuard(s, { textIds: ['Query.home(id:)', 'Filter.homeId', 'residentId'] });
  const r = await graphql({ schema: s, source: query, variableValues });
  return { data: r.data, errors: r.errors?.map((e) => ({ message: e.message, code: (e.originalError as { code?: string } | undefined)?.code, field: (e.originalError as { details?: { field?: string } } | undefined)?.details?.field })) };
}

describe('unstorable', () => {
  it('finds NULs and unpaired surrogates, and lets paired ones (emoji) through', () => {
    expect(unstorable('plain')).toBeUndefined();
    expect(unstorable('😀 ok')).toBeUndefined();
    expect(unstorable('a\u0000b')).toMatch(/NUL/);
    expect(unstorable('\uD800')).toMatch(/surrogate/);
    expect(unstorable('x\uDC00')).toMatch(/surrogate/);
    expect(unstorable('\uD83D\uDE00\uD83D')).toMatch(/surrogate/);
  });
});

describe('applyInputGuard', () => {
  it('refuses an ID that is not a UUID, naming the argument; text ids and UUIDs pass', async () => {
    expect((await run('{ thing(id: "x") }')).errors).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'id' })]);
    expect((await run('{ thing(id: "0190a8f4-3c5e-7d2a-9b1e-4f6a8c2d0e11") }')).data).toEqual({ thing: 'ok' });
    expect((await run('{ home(id: "sunrise-oak-lodge") }')).data).toEqual({ home: 'ok' });
    expect((await run('{ home(id: "a\\u0000") }')).errors?.[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    // A name alone covers that argument wherever it appears.
    expect((await run('{ resident(residentId: "res_abcdefghij234567") }')).data).toEqual({ resident: 'ok' });
  });

  it('walks input objects and lists, with their own coordinates', async () => {
    expect((await run('query($f: Filter) { list(filter: $f) }', { f: { homeId: 'oak', systemId: 'nope' } })).errors?.[0]).toMatchObject({ field: 'filter.systemId' });
    expect((await run('query($f: Filter) { list(filter: $f) }', { f: { names: ['ok', 'b\uDFFF'] } })).errors?.[0]).toMatchObject({ field: 'filter.names[1]' });
    expect((await run('query($f: Filter) { list(filter: $f) }', { f: { names: Array.from({ length: 1001 }, () => 'n') } })).errors?.[0]).toMatchObject({ field: 'filter.names' });
    expect((await run('query($f: Filter) { list(filter: $f) }', { f: { homeId: 'oak', names: ['a'] } })).data).toEqual({ list: 'ok' });
  });

  it('refuses negative Ints, and NULs, surrogates or too deep nesting inside JSON (keys too)', async () => {
    expect((await run('{ list(first: -1) }')).errors?.[0]).toMatchObject({ field: 'first' });
    expect((await run('query($d: JSON) { list(data: $d) }', { d: { a: [{ b: 'x\u0000' }] } })).errors?.[0]).toMatchObject({ field: 'data.a[0].b' });
    expect((await run('query($d: JSON) { list(data: $d) }', { d: { '\u0000': 1 } })).errors?.[0]).toMatchObject({ code: 'BAD_USER_INPUT' });
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect((await run('query($d: JSON) { list(data: $d) }', { d: deep })).errors?.[0]).toMatchObject({ field: 'data' });
    expect((await run('query($d: JSON) { list(data: $d) }', { d: { a: [1, 'fine', { b: null }] } })).data).toEqual({ list: 'ok' });
  });
});
