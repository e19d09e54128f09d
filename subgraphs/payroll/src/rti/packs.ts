import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * An RTI pack: the FPS and EPS schemas of one tax year, their namespaces and the document layout they take, read from
 * `<packs>/<year>/pack.json` (default subgraphs/payroll/data/rti). Tax years are data: the next year's pack is a new
 * folder. A year with no pack is refused, naming the files it needs.
 */
export interface RtiDocumentPack {
  class: string;
  namespace: string;
  schemaFile: string;
  schema: string;
}

export interface RtiPack {
  taxYear: string;
  layout: string;
  relatedTaxYear: string;
  dir: string;
  envelopeSchema: string;
  fps: RtiDocumentPack;
  eps: RtiDocumentPack;
}

export const LAYOUTS = ['rti-2014-15'] as const;

export class RtiPackMissing extends Error {
  constructor(
    readonly taxYear: string,
    readonly needs: string[],
    why: string,
  ) {
    super(`RTI submissions for tax year ${taxYear} are not possible on this hub: ${why}; it needs ${needs.join(', ')}`);
  }
}

export const DEFAULT_PACKS_DIR = fileURLToPath(new URL('../../data/rti/', import.meta.url));
const STUB = fileURLToPath(new URL('../../data/rti/xmldsig-stub.xsd', import.meta.url));
export const XMLDSIG_STUB = readFileSync(STUB, 'utf8');

interface Expected {
  [year: string]: { from: string; files: Record<string, string> };
}
const expected = JSON.parse(readFileSync(new URL('../../data/rti/expected-packs.json', import.meta.url), 'utf8')) as Expected;

const cache = new Map<string, RtiPack>();

/**
 * libxml2 refuses a prohibited attribute that still declares its type (HMRC's 2014-15 FPS schema does so for the
 * TaxCode's SVR attribute); a prohibited attribute's type is never used, so it is dropped in memory. The file stays
 * HMRC's own (its checksum is checked as published).
 */
function forLibxml(xsd: string): string {
  return xsd.replace(/<xsd:attribute use="prohibited" name="([^"]+)">[\s\S]*?<\/xsd:attribute>/g, '<xsd:attribute use="prohibited" name="$1"/>');
}

export function loadPack(taxYear: string, dir = DEFAULT_PACKS_DIR): RtiPack {
  const key = `${dir}|${taxYear}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const folder = join(dir, taxYear);
  const manifest = join(folder, 'pack.json');
  const known = expected[taxYear];
  const needs = known
    ? [...Object.keys(known.files).map((f) => `${taxYear}/${f}`), `${taxYear}/pack.json`, `(HMRC publishes them at ${known.from})`]
    : [`${taxYear}/pack.json`, `${taxYear}/ the year's FullPaymentSubmission and EmployerPaymentSummary schemas and the GovTalk envelope schema from HMRC's Release Information Pack`];
  if (!existsSync(manifest)) throw new RtiPackMissing(taxYear, needs, `there is no RTI pack for ${taxYear} in ${dir}`);
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as {
    taxYear: string;
    layout: string;
    relatedTaxYear: string;
    envelope: { schema: string };
    fps: { class: string; namespace: string; schema: string };
    eps: { class: string; namespace: string; schema: string };
    sha256?: Record<string, string>;
  };
  if (!(LAYOUTS as readonly string[]).includes(m.layout)) throw new RtiPackMissing(taxYear, [`a document writer for layout "${m.layout}"`], `the pack's layout is unknown to this version of the hub`);
  const read = (file: string) => {
    const path = join(folder, file);
    if (!existsSync(path)) throw new RtiPackMissing(taxYear, [`${taxYear}/${file}`], `the pack names ${file} but it is not there`);
    const text = readFileSync(path, 'utf8');
    const want = m.sha256?.[file] ?? known?.files[file];
    if (want && createHash('sha256').update(readFileSync(path)).digest('hex') !== want) throw new RtiPackMissing(taxYear, [`${taxYear}/${file} as HMRC published it (sha256 ${want})`], `${file} is not HMRC's file`);
    return text;
  };
  const doc = (d: { class: string; namespace: string; schema: string }): RtiDocumentPack => ({ class: d.class, namespace: d.namespace, schemaFile: d.schema, schema: forLibxml(read(d.schema)) });
  const pack: RtiPack = {
    taxYear,
    layout: m.layout,
    relatedTaxYear: m.relatedTaxYear,
    dir: folder,
    // The envelope imports W3C's xmldsig schema by URL: validation uses the local stand-in instead of the network.
    envelopeSchema: read(m.envelope.schema).replace(/schemaLocation="http:\/\/www\.w3\.org\/TR\/[^"]*xmldsig-core-schema\.xsd"/, 'schemaLocation="xmldsig-stub.xsd"'),
    fps: doc(m.fps),
    eps: doc(m.eps),
  };
  cache.set(key, pack);
  return pack;
}
