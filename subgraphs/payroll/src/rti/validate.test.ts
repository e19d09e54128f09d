import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPack, RtiPackMissing } from './packs.ts';
import { validateMessage } from './validate.ts';

const sample = (f: string) => readFileSync(new URL(`../../data/rti/samples/${f}`, import.meta.url), 'utf8');

describe('schema validation (xmllint)', () => {
  const pack = loadPack('2014-15');
  it("accepts HMRC's 2014-15 samples", async () => {
    expect(await validateMessage(sample('sample-FPS-2014-15.xml'), pack, 'fps')).toEqual([]);
    expect(await validateMessage(sample('sample-EPS-2014-15.xml'), pack, 'eps')).toEqual([]);
  });
  it('reports what is wrong, with the line', async () => {
    const bad = sample('sample-FPS-2014-15.xml').replace('<NINO>AB164231A</NINO>', '<NINO>ZZ164231A</NINO>');
    const errors = await validateMessage(bad, pack, 'fps');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.message).toMatch(/NINO/);
  });
  it('refuses a message of another year', async () => {
    const errors = await validateMessage(sample('sample-FPS-2013-14.xml'), pack, 'fps');
    expect(errors[0]!.message).toMatch(/not http:\/\/www\.govtalk\.gov\.uk\/taxation\/PAYE\/RTI\/FullPaymentSubmission\/14-15\/4/);
  });
  it('refuses a year with no pack, naming the files it needs', () => {
    expect(() => loadPack('2026-27')).toThrow(RtiPackMissing);
    expect(() => loadPack('2026-27')).toThrow(/FullPaymentSubmission-2027-v1-0\.xsd.*EmployerPaymentSummary-2027-v1-0\.xsd/);
    expect(() => loadPack('2025-26')).toThrow(/2025-26\/pack\.json/);
  });
});
