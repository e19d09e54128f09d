import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import r4 from 'fhirpath/fhir-context/r4';
import { badInput } from '@hub/runtime/errors';
import { parseHl7, renderHl7 } from './hl7v2.ts';

export const DATA_FORMATS = ['JSON', 'XML', 'CSV', 'HL7V2', 'FHIR'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

export interface FormatOptions {
  /** CSV field delimiter (one character). */
  csvDelimiter?: string;
  /** XML: the root element written around a list or around an object with several keys. */
  xmlRoot?: string;
  /** XML: the element each item of a list is written as. */
  xmlItem?: string;
}

/** Text formats arrive as a string; JSON and FHIR as the value itself. */
export const isText = (f: DataFormat) => f === 'XML' || f === 'CSV' || f === 'HL7V2';

/*
 * XML in JSON: attributes are keys starting with @ (`` Amt.`@Ccy` `` in FHIRPath), mixed text is `#text`; values stay
 * text, never guessed into numbers (an account number or a sort code with a leading zero must survive). Documents
 * with a DTD are refused: external data has no business declaring entities, and it closes the door on entity
 * expansion attacks.
 */
const XML_OPTIONS = { ignoreAttributes: false, attributeNamePrefix: '@', textNodeName: '#text', parseTagValue: false, parseAttributeValue: false, trimValues: true } as const;
const xmlParser = new XMLParser({ ...XML_OPTIONS, processEntities: true, htmlEntities: false, ignoreDeclaration: true, ignorePiTags: true });
const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?$/;

function text(data: unknown, format: DataFormat): string {
  if (typeof data !== 'string') throw badInput(`data must be a string of ${format} text`, { field: 'data' });
  return data;
}

/** A FHIR R4 resource type, known to the R4 model FHIRPath uses. */
export function isFhirResourceType(t: unknown): boolean {
  const parents = (r4 as unknown as { type2Parent: Record<string, string> }).type2Parent;
  let cur = typeof t === 'string' ? t : undefined;
  for (let i = 0; cur && i < 5; i++) {
    if (cur === 'Resource') return t !== 'Resource' && t !== 'DomainResource';
    cur = parents[cur];
  }
  return false;
}

/** What is wrong with a value that should be a FHIR resource (or a list of them), or null. */
export function fhirProblem(value: unknown): string | null {
  const one = (v: unknown, at: string): string | null => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at || 'the data'} is not a FHIR resource (a JSON object with resourceType)`;
    const rt = (v as { resourceType?: unknown }).resourceType;
    if (!isFhirResourceType(rt)) return `${at ? `${at}.` : ''}resourceType ${JSON.stringify(rt ?? null)} is not a FHIR R4 resource type`;
    return null;
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = one(value[i], `[${i}]`);
      if (p) return p;
    }
    return null;
  }
  return one(value, '');
}

/** Reads data in a format into JSON (objects, lists, strings): what mappings and validation work on. */
export function readData(format: DataFormat, data: unknown, opts: FormatOptions = {}): unknown {
  switch (format) {
    case 'JSON':
      return data;
    case 'FHIR': {
      const problem = fhirProblem(data);
      if (problem) throw badInput(problem, { field: 'data' });
      return data;
    }
    case 'HL7V2':
      return parseHl7(text(data, format));
    case 'XML': {
      const xml = text(data, format);
      if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw badInput('XML with a DOCTYPE or entity declarations is not accepted', { field: 'data' });
      const valid = XMLValidator.validate(xml);
      if (valid !== true) throw badInput(`XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`, { field: 'data', line: valid.err.line });
      return xmlParser.parse(xml);
    }
    case 'CSV': {
      try {
        // Every value stays text: NHS numbers, phone numbers and sort codes keep their leading zeros.
        return parseCsv(text(data, format), { columns: true, bom: true, skip_empty_lines: true, delimiter: opts.csvDelimiter ?? ',' }) as unknown[];
      } catch (err) {
        if (err instanceof CsvError) throw badInput(`CSV: ${err.message}`, { field: 'data', csvCode: err.code });
        throw err;
      }
    }
  }
}

/** Flattens nested values to dotted columns (`address.postalCode`, `given.0`) for CSV. */
function flatten(value: unknown, prefix: string, out: Record<string, unknown>): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0 && prefix) out[prefix] = '';
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = value ?? '';
  else out.value = value ?? '';
}

function checkXmlNames(value: unknown, at: string): void {
  if (Array.isArray(value)) return value.forEach((v, i) => checkXmlNames(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const name = k.startsWith('@') ? k.slice(1) : k;
    if (k !== '#text' && !XML_NAME.test(name)) throw badInput(`"${k}"${at ? ` (at ${at})` : ''} cannot be an XML ${k.startsWith('@') ? 'attribute' : 'element'} name`, { field: 'data' });
    checkXmlNames(v, at ? `${at}.${k}` : k);
  }
}

/** Writes JSON in a format: the text for XML, CSV and HL7 v2, the value for JSON and FHIR (with its JSON text). */
export function writeData(format: DataFormat, value: unknown, opts: FormatOptions = {}): { data: unknown; text: string } {
  switch (format) {
    case 'JSON':
      return { data: value, text: JSON.stringify(value) ?? 'null' };
    case 'FHIR': {
      const problem = fhirProblem(value);
      if (problem) throw badInput(problem, { field: 'data' });
      return { data: value, text: JSON.stringify(value) };
    }
    case 'HL7V2': {
      const t = renderHl7(value);
      return { data: t, text: t };
    }
    case 'XML': {
      const root = opts.xmlRoot ?? 'root';
      const item = opts.xmlItem ?? 'item';
      for (const n of [root, item]) if (!XML_NAME.test(n)) throw badInput(`"${n}" is not an XML element name`, { field: 'options' });
      let doc: unknown = value;
      if (Array.isArray(value)) doc = { [root]: { [item]: value } };
      else if (value === null || typeof value !== 'object') doc = { [root]: value };
      else if (Object.keys(value).filter((k) => !k.startsWith('?')).length !== 1) doc = { [root]: value };
      checkXmlNames(doc, '');
      const builder = new XMLBuilder({ ...XML_OPTIONS, format: true, suppressEmptyNode: true, arrayNodeName: item });
      const t = `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc) as string}`;
      return { data: t, text: t };
    }
    case 'CSV': {
      const rows = (Array.isArray(value) ? value : [value]).map((r) => {
        const flat: Record<string, unknown> = {};
        flatten(r, '', flat);
        return flat;
      });
      const columns: string[] = [];
      const seen = new Set<string>();
      for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) seen.add(k), columns.push(k);
      // escape_formulas: a text cell starting with = + - @ tab or CR gets a leading ' so a spreadsheet shows it rather
      // than running it (CSV injection); numbers, negative ones included, are written as they are.
      const t = stringifyCsv(rows, { header: true, columns, delimiter: opts.csvDelimiter ?? ',', record_delimiter: 'windows', escape_formulas: true, cast: { boolean: (b) => String(b) } });
      return { data: t, text: t };
    }
  }
}
