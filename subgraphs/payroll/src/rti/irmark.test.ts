import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { base32, irmark, irmarkDigest, irmarkInMessage, withIrmark } from './irmark.ts';

const SAMPLES = new URL('../../data/rti/samples/', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('IRMARK-TEST-VECTORS.json', SAMPLES), 'utf8')) as {
  vectors: Array<{ file: string; irmark_in_file: string; computed_base64: string; computed_base32: string; expected_by_hmrc_test?: string }>;
};

describe('IRmark: every vector of IRMARK-TEST-VECTORS.json', () => {
  it.each(vectors.vectors.map((v) => [v.file, v] as const))('%s', (_f, v) => {
    const xml = readFileSync(new URL(v.file.split('/').pop()!, SAMPLES), 'utf8');
    expect(irmark(xml)).toBe(v.expected_by_hmrc_test ?? v.irmark_in_file);
    expect(irmark(xml)).toBe(v.computed_base64);
    expect(base32(irmarkDigest(xml))).toBe(v.computed_base32);
  });
  it('has all eight', () => expect(vectors.vectors.length).toBe(8));
  it('does not depend on the IRmark it carries, and detects a changed body', () => {
    const xml = readFileSync(new URL('sample-FPS-2014-15.xml', SAMPLES), 'utf8');
    const blanked = xml.replace(irmarkInMessage(xml)!, 'placeholder');
    expect(irmark(blanked)).toBe(irmarkInMessage(xml));
    expect(irmarkInMessage(withIrmark(blanked))).toBe(irmarkInMessage(xml));
    expect(irmark(xml.replace('<PayeRef>A635</PayeRef>', '<PayeRef>A636</PayeRef>'))).not.toBe(irmarkInMessage(xml));
  });
});
