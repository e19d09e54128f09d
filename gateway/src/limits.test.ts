import { readFileSync } from 'node:fs';
import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { limitsFor, operationCost, upstreamFields } from './limits.ts';

const schema = buildSchema(`
  type Query { systems: [System!]! page(first: Int = 50): Page! one(id: ID!): System }
  type Page { items: [System!]! total: Int! }
  type System { id: ID! name: String! tags: [String!]! runs(limit: Int): [Run!]! }
  type Run { id: ID! }
`);
const sizes = { listSize: 10, upstreamCost: 5 };
const cost = (q: string, variables: Record<string, unknown> = {}, upstream = new Set<string>()) => operationCost(schema, parse(q), undefined, variables, sizes, upstream);

describe('operationCost', () => {
  it('counts each field once per item its parents return', () => {
    expect(cost('{ one(id: "a") { id name } }')).toBe(3);
    // A list without a size argument counts listSize items; a scalar list is one field.
    expect(cost('{ systems { id tags } }')).toBe(1 + 10 * 2);
    expect(cost('{ systems { runs(limit: 3) { id } } }')).toBe(1 + 10 * (1 + 3 * 1));
  });
  it('sizes a page by its first argument: literal, variable, variable default, or the schema default', () => {
    expect(cost('{ page(first: 100) { items { id } } }')).toBe(1 + 100 * (1 + 1));
    expect(cost('query($n: Int) { page(first: $n) { items { id } } }', { n: 7 })).toBe(1 + 7 * 2);
    expect(cost('query($n: Int = 4) { page(first: $n) { items { id } } }')).toBe(1 + 4 * 2);
    expect(cost('{ page { total } }')).toBe(1 + 50);
  });
  it('adds the upstream cost of fields that make their own call, and expands fragments without looping', () => {
    expect(cost('{ one(id: "a") { id } }', {}, new Set(['Query.one']))).toBe(1 + 5 + 1);
    expect(cost('{ systems { ...F } } fragment F on System { id name }')).toBe(1 + 10 * 2);
    expect(cost('{ __typename systems { __typename id } }')).toBe(1 + 10);
  });
});

describe('upstreamFields of the reviewed supergraph', () => {
  const up = upstreamFields(readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8'));
  it('has every root field, and the entity fields another subgraph resolves', () => {
    expect(up.has('Query.externalSystems')).toBe(true);
    expect(up.has('Mutation.publishEvent')).toBe(true);
    expect(up.has('ExternalSystem.integrations')).toBe(true);
    expect(up.has('ExternalSystem.name')).toBe(false);
  });
});

describe('limitsFor', () => {
  const settings = { limits: { maxDepth: 1, maxAliases: 2, maxTokens: 3, maxDirectives: 4, maxCost: 5, listSize: 6, upstreamCost: 7 }, limitsByClient: { big: { maxCost: 500 } }, introspection: true, batchLimit: 0 };
  it("takes a client's own limits over the defaults, and only for that client", () => {
    expect(limitsFor(settings, 'big')).toEqual({ key: 'client:big', limits: { ...settings.limits, maxCost: 500 } });
    expect(limitsFor(settings, 'other')).toEqual({ key: 'default', limits: settings.limits });
    expect(limitsFor(settings, undefined).key).toBe('default');
  });
});
