import { badInput } from '@hub/runtime/errors';

/**
 * HL7 v2 messages in their pipe-and-hat form (ER7), read into JSON that FHIRPath can walk and written back.
 *
 * The JSON: one key per segment name, holding that name's segments in order (`PID`, `NK1`, ...); each segment has
 * its 1-based position in the message (`seq`, so interleaved segments are written back in place) and its fields as
 * `f1`, `f2`, ... (MSH-1 is the field separator, MSH-2 the encoding characters, as in the standard's numbering).
 * A field is a list of its repetitions; a repetition is an object of its components `c1`, `c2`, ...; a component is
 * a string, or an object of its subcomponents `s1`, `s2`, ... when it has any. Empty parts are left out, and the
 * HL7 null `""` is kept as the two characters. So the family name of the patient's first name is
 * `PID.f5.first().c1`, and the NHS number is `PID.f3.where(c5 = 'NH').c1`.
 *
 * Encoding characters come from MSH-2 of each message, not assumed; escape sequences (\F\ \S\ \T\ \R\ \E\, \Xhh\,
 * \.br\) are decoded on reading and written back on writing; formatting escapes such as \H\ and \N\ are kept as
 * they are. The public libraries looked at either assume the default delimiters or leave escapes encoded.
 */
export type Hl7Component = string | Record<string, string>;
export type Hl7Repetition = Record<string, Hl7Component>;
export type Hl7Segment = { seq?: number } & Record<string, Hl7Repetition[] | number | undefined>;
export type Hl7Json = Record<string, Hl7Segment[]>;

interface Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

const DEFAULT: Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
// MLLP framing (start block, end block) that messages copied from an interface engine often still carry.
const MLLP = /^\x0b|\x1c\r?$/g;

function delimitersOf(msh: string): Delimiters {
  if (!msh.startsWith('MSH') || msh.length < 8) throw badInput('HL7 v2: a message starts with an MSH segment', { field: 'data', line: 1 });
  const field = msh[3]!;
  const enc = msh.slice(4, msh.indexOf(field, 4) === -1 ? undefined : msh.indexOf(field, 4));
  if (enc.length < 4 || /[A-Za-z0-9\s]/.test(field + enc) || new Set(field + enc.slice(0, 4)).size !== 5) {
    throw badInput('HL7 v2: MSH-1 and MSH-2 must be five distinct delimiter characters, such as |^~\\&', { field: 'data', line: 1 });
  }
  return { field, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]! };
}

function unescape(value: string, d: Delimiters): string {
  if (!value.includes(d.escape)) return value;
  const e = d.escape;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i]!;
    if (ch !== e) {
      out += ch;
      i++;
      continue;
    }
    const end = value.indexOf(e, i + 1);
    if (end === -1) {
      out += value.slice(i);
      break;
    }
    const seq = value.slice(i + 1, end);
    switch (seq) {
      case 'F': out += d.field; break;
      case 'S': out += d.component; break;
      case 'T': out += d.subcomponent; break;
      case 'R': out += d.repetition; break;
      case 'E': out += d.escape; break;
      case '.br': out += '\n'; break;
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) out += Buffer.from(seq.slice(1), 'hex').toString('latin1');
        else out += e + seq + e; // formatting (\H\, \N\, \.sp\, ...) and charset escapes stay as they are
    }
    i = end + 1;
  }
  return out;
}

/** Escapes what would otherwise be read as a delimiter; formatting escapes written as such are left alone. */
function escape(value: string, d: Delimiters): string {
  const e = d.escape;
  const kept = new RegExp(`${re(e)}(?:[HN]|\\.(?:sp|fi|nf|in|ti|sk|ce)[^${re(e)}]*|[CMZ][^${re(e)}]*)${re(e)}`, 'y');
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === e) {
      kept.lastIndex = i;
      const m = kept.exec(value);
      if (m) {
        out += m[0];
        i += m[0].length - 1;
      } else out += `${e}E${e}`;
    } else if (ch === d.field) out += `${e}F${e}`;
    else if (ch === d.component) out += `${e}S${e}`;
    else if (ch === d.subcomponent) out += `${e}T${e}`;
    else if (ch === d.repetition) out += `${e}R${e}`;
    else if (ch === '\n') out += `${e}.br${e}`;
    else if (ch === '\r') continue;
    else out += ch;
  }
  return out;
}

const re = (c: string) => c.replace(/[\\^$.*+?()[\]{}|-]/g, '\\$&');

function readField(raw: string, d: Delimiters): Hl7Repetition[] {
  return raw.split(d.repetition).map((rep) => {
    const r: Hl7Repetition = {};
    rep.split(d.component).forEach((comp, ci) => {
      if (comp === '') return;
      if (comp.includes(d.subcomponent)) {
        const subs: Record<string, string> = {};
        comp.split(d.subcomponent).forEach((s, si) => {
          if (s !== '') subs[`s${si + 1}`] = unescape(s, d);
        });
        if (Object.keys(subs).length) r[`c${ci + 1}`] = subs;
      } else r[`c${ci + 1}`] = unescape(comp, d);
    });
    return r;
  });
}

/** Reads one HL7 v2 message (segments separated by CR, LF or CRLF; MLLP framing tolerated). */
export function parseHl7(text: string): Hl7Json {
  const lines = text.replace(MLLP, '').split(/\r\n|\r|\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first === -1) throw badInput('HL7 v2: the message is empty', { field: 'data' });
  const d = delimitersOf(lines[first]!);
  const out: Hl7Json = {};
  let seq = 0;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const name = line.slice(0, 3);
    if (!SEGMENT_NAME.test(name) || (line.length > 3 && line[3] !== d.field)) {
      throw badInput(`HL7 v2: line ${i + 1} is not a segment (it starts "${line.slice(0, 12)}")`, { field: 'data', line: i + 1 });
    }
    if (name === 'MSH' && seq > 0) throw badInput(`HL7 v2: line ${i + 1} starts a second message; send one message at a time`, { field: 'data', line: i + 1 });
    const parts = line.split(d.field);
    const segment: Hl7Segment = { seq: ++seq };
    if (name === 'MSH') {
      segment.f1 = [{ c1: d.field }];
      segment.f2 = [{ c1: parts[1]! }];
      parts.slice(2).forEach((raw, k) => raw !== '' && (segment[`f${k + 3}`] = readField(raw, d)));
    } else {
      parts.slice(1).forEach((raw, k) => raw !== '' && (segment[`f${k + 1}`] = readField(raw, d)));
    }
    (out[name] ??= []).push(segment);
  });
  return out;
}

const numbered = (o: object, prefix: string): Array<[number, unknown]> =>
  Object.entries(o)
    .filter(([k]) => new RegExp(`^${prefix}[1-9][0-9]*$`).test(k))
    .map(([k, v]) => [Number(k.slice(1)), v] as [number, unknown])
    .sort((a, b) => a[0] - b[0]);

function join(items: Array<[number, string]>, sep: string): string {
  const max = items.length ? items[items.length - 1]![0] : 0;
  const slots = Array.from({ length: max }, () => '');
  for (const [n, v] of items) slots[n - 1] = v;
  return slots.join(sep);
}

function writeComponent(c: unknown, d: Delimiters, where: string): string {
  if (c === null || c === undefined) return '';
  if (typeof c === 'object' && !Array.isArray(c)) {
    return join(numbered(c, 's').map(([n, s]) => [n, escape(scalar(s, where), d)]), d.subcomponent);
  }
  return escape(scalar(c, where), d);
}

function scalar(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  throw badInput(`HL7 v2: ${where} must be text`, { field: where });
}

function writeField(value: unknown, d: Delimiters, where: string): string {
  const reps = Array.isArray(value) ? value : [value];
  return reps
    .map((rep, ri) => {
      if (typeof rep !== 'object' || rep === null) return escape(scalar(rep, where), d);
      return join(numbered(rep, 'c').map(([n, c]) => [n, writeComponent(c, d, `${where}[${ri}].c${n}`)]), d.component);
    })
    .join(d.repetition);
}

/** Writes the JSON form back as one message, segments in `seq` order, separated by CR as the standard says. */
export function renderHl7(json: unknown): string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badInput('HL7 v2: expected an object of segments ({ "MSH": [...], "PID": [...] })', { field: 'data' });
  const segments: Array<{ name: string; seq: number; order: number; s: Record<string, unknown> }> = [];
  let order = 0;
  for (const [name, list] of Object.entries(json)) {
    if (!SEGMENT_NAME.test(name)) throw badInput(`HL7 v2: "${name}" is not a segment name (three capitals or digits)`, { field: name });
    for (const s of Array.isArray(list) ? list : [list]) {
      if (typeof s !== 'object' || s === null) throw badInput(`HL7 v2: ${name} must hold segment objects`, { field: name });
      const seq = (s as { seq?: unknown }).seq;
      segments.push({ name, seq: typeof seq === 'number' ? seq : Number.MAX_SAFE_INTEGER, order: order++, s: s as Record<string, unknown> });
    }
  }
  const msh = (json as Hl7Json).MSH?.[0];
  if (!msh) throw badInput('HL7 v2: an MSH segment is required', { field: 'MSH' });
  const encoding = (msh.f2 as Hl7Repetition[] | undefined)?.[0]?.c1;
  const field = (msh.f1 as Hl7Repetition[] | undefined)?.[0]?.c1;
  const d: Delimiters =
    typeof encoding === 'string' && typeof field === 'string' ? delimitersOf(`MSH${field}${encoding}${field}`) : DEFAULT;
  const encodingChars = typeof encoding === 'string' && typeof field === 'string' ? encoding : '^~\\&';
  segments.sort((a, b) => a.seq - b.seq || a.order - b.order);
  if (segments[0]!.name !== 'MSH') throw badInput('HL7 v2: MSH must be the first segment', { field: 'MSH' });
  return segments
    .map(({ name, s }, i) => {
      const fields = numbered(s, 'f');
      if (name === 'MSH') {
        // MSH-1 is the separator itself and MSH-2 is written as given: the split form starts at MSH-3.
        const rest = fields.filter(([n]) => n > 2).map(([n, v]) => [n - 2, writeField(v, d, `MSH[0].f${n}`)] as [number, string]);
        return `MSH${d.field}${encodingChars}${rest.length ? d.field + join(rest, d.field) : ''}`;
      }
      const written = fields.map(([n, v]) => [n, writeField(v, d, `${name}[${i}].f${n}`)] as [number, string]);
      return written.length ? `${name}${d.field}${join(written, d.field)}` : name;
    })
    .join('\r');
}
