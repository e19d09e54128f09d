import { describe, expect, it } from 'vitest';
import { createValidator } from './validation.ts';

describe('caller JSON Schemas', () => {
  it('are compiled once and kept in a bounded cache: evicted ones leave Ajv as well', () => {
    const v = createValidator({ maxSchemas: 3 });
    const own = v.held().ajv; // Ajv's meta-schemas
    for (let i = 0; i < 50; i++) {
      const schema = { type: 'object', properties: { [`f${i}`]: { type: 'string', maxLength: i + 1 } } };
      expect(v.validate({ [`f${i}`]: 'x'.repeat(i + 2) }, schema, { cleanse: false }).valid).toBe(false);
      expect(v.validate({ [`f${i}`]: 'x' }, schema, { cleanse: i % 2 === 0 }).valid).toBe(true);
    }
    expect(v.held().cached).toBe(3);
    expect(v.held().ajv - own).toBeLessThanOrEqual(3);
  });

  it("one caller's $id is not another's $ref, and the same $id can be sent twice", () => {
    const v = createValidator();
    const a = { $id: 'https://example.test/resident', type: 'object', required: ['a'] };
    const b = { $id: 'https://example.test/resident', type: 'object', required: ['b'] };
    expect(v.validate({ a: 1 }, a, { cleanse: false }).valid).toBe(true);
    expect(v.validate({ a: 1 }, b, { cleanse: false }).valid).toBe(false);
    expect(() => v.check({ $ref: 'https://example.test/resident' }, 'schema')).toThrow(/not a valid JSON Schema/);
  });
});
