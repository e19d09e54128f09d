/** One thing wrong with data (a transform's input or output, or data being validated), found without stopping. */
export interface DataIssue {
  /** Where: `[3].name[0].family` (record 3's first name's family), or `` for the whole. */
  path: string;
  /** REQUIRED, TRANSFORM, PATH (an expression failed on this data), SCHEMA (a JSON Schema keyword failed) or FHIR. */
  code: string;
  message: string;
  /** For SCHEMA issues: the JSON Schema keyword that failed (required, type, format, pattern, ...). */
  keyword?: string;
}

/** Joins path segments as `[0].name[1].family`. */
export function issuePath(segments: Array<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number' || /^\d+$/.test(s)) out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}

/** A JSON Pointer (as Ajv reports `instancePath`) as an issue path: `/0/name/1` becomes `[0].name[1]`. */
export const pointerPath = (pointer: string, prefix = ''): string => {
  const segs = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const joined = issuePath(segs);
  if (!prefix) return joined;
  return joined.startsWith('[') || !joined ? prefix + joined : `${prefix}.${joined}`;
};
