import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileRules } from './engine.ts';

afterEach(() => vi.restoreAllMocks());

describe('mapping rules', () => {
  it("FHIRPath's trace() writes nothing (it would print residents' records to stdout)", () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const m = compileRules({ fields: { nhs: { path: "nhs.trace('nhs')", one: true }, name: { path: "name.trace('n', given)", one: true } } }, { fhir: false });
    const { output, issues } = m.apply({ nhs: '9434765919', name: { given: 'Jane' } });
    expect(issues).toEqual([]);
    expect(output).toEqual({ nhs: '9434765919', name: { given: 'Jane' } });
    expect(log).not.toHaveBeenCalled();
  });
});
