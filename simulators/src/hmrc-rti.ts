/**
 * HMRC's Transaction Engine (the Government Gateway's document submission service) for RTI: FPS and EPS in the GovTalk
 * envelope, after HMRC's Document Submission Protocol v3.1. Submit answers an acknowledgement (CorrelationID,
 * ResponseEndPoint with PollInterval); a poll answers another acknowledgement until the document is processed, then a
 * response or an error (business or fatal, with HMRC's numbers); delete forgets the submission. The sample messages of
 * hmrc/construction-industry-scheme give the shapes.
 *
 * Before accepting a document the simulator checks what HMRC checks: the sender's credentials, the IRmark (recomputed
 * here on its own, with libxml2's canonicaliser, not the hub's code), the schema of the tax year (by the document's
 * namespace, from the RTI packs folder) and a business rule (NINOs HMRC never issues; the IRheader keys matching the
 * GovTalk keys). It counts polls that come sooner than the interval it asked for, and can hold or fail on demand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateXML } from 'xmllint-wasm';
import { HttpError, listen, readBodyBytes } from './http.ts';

const ENVELOPE = 'http://www.govtalk.gov.uk/CM/envelope';

export interface HmrcRtiError {
  number: string;
  type: 'business' | 'fatal';
  text: string;
  location?: string;
}

export interface HmrcRtiSimulatorOptions {
  port?: number;
  host?: string;
  senderId: string;
  password: string;
  /** Seconds the acknowledgement asks the client to wait between polls; default 1. */
  pollIntervalSeconds?: number;
  /** Polls answered with an acknowledgement before the outcome; default 1. */
  pollsBeforeResponse?: number;
  /** Folder of RTI packs (<year>/pack.json and its schemas); default the payroll subgraph's data/rti. */
  packsDir?: string;
}

export interface HmrcRtiSubmission {
  correlationId: string;
  class: string;
  irmark: string;
  namespace: string;
  employees: number;
  receivedAt: Date;
  outcome: 'pending' | 'accepted' | 'error' | 'deleted';
  errors: HmrcRtiError[];
}

export interface HmrcRtiStats {
  requests: number;
  submissions: HmrcRtiSubmission[];
  /** Refused at submission (credentials, IRmark, schema): never given a correlation id. */
  refused: Array<{ reason: string; errors: HmrcRtiError[] }>;
  polls: number;
  /** Polls that came sooner than the PollInterval last given for that correlation id. */
  earlyPolls: number;
  deletes: number;
}

export interface HmrcRtiSimulator {
  /** Base URL; the submission endpoint is `${url}/submission`. */
  url: string;
  submissionUrl: string;
  stats(): HmrcRtiStats;
  /** While held, polls are answered with acknowledgements (the document is "still being processed"). */
  hold(on: boolean): void;
  /** The next document accepted at submission ends, when polled, in this error instead of a response. */
  failNext(error: HmrcRtiError): void;
  close(): Promise<void>;
}

interface Pending extends HmrcRtiSubmission {
  pollsLeft: number;
  lastAskedAt: number;
  failWith: HmrcRtiError | null;
}

const DEFAULT_PACKS = fileURLToPath(new URL('../../subgraphs/payroll/data/rti/', import.meta.url));
const XMLDSIG_STUB = `<?xml version="1.0"?><xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/2000/09/xmldsig#" elementFormDefault="qualified"><xsd:element name="Signature"><xsd:complexType><xsd:sequence><xsd:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType></xsd:element></xsd:schema>`;
// libxml2 refuses a prohibited attribute that declares a type (HMRC's 2014-15 FPS does): the type is never used.
const forLibxml = (xsd: string) => xsd.replace(/<xsd:attribute use="prohibited" name="([^"]+)">[\s\S]*?<\/xsd:attribute>/g, '<xsd:attribute use="prohibited" name="$1"/>');

interface Schemas {
  byNamespace: Map<string, { file: string; xsd: string; cls: string; envelope: string }>;
}

function loadSchemas(dir: string): Schemas {
  const byNamespace: Schemas['byNamespace'] = new Map();
  if (!existsSync(dir)) return { byNamespace };
  for (const year of readdirSync(dir)) {
    const manifest = join(dir, year, 'pack.json');
    if (!existsSync(manifest)) continue;
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    const envelope = readFileSync(join(dir, year, m.envelope.schema), 'utf8').replace(/schemaLocation="http:\/\/www\.w3\.org\/TR\/[^"]*xmldsig-core-schema\.xsd"/, 'schemaLocation="xmldsig-stub.xsd"');
    for (const kind of ['fps', 'eps']) {
      const d = m[kind];
      byNamespace.set(d.namespace, { file: d.schema, xsd: forLibxml(readFileSync(join(dir, year, d.schema), 'utf8')), cls: d.class, envelope });
    }
  }
  return { byNamespace };
}

const text = (xml: string, tag: string): string | null => {
  const m = new RegExp(`<(?:\\w+:)?${tag}\\b[^>]*>([^<]*)</(?:\\w+:)?${tag}>`).exec(xml);
  return m ? m[1]!.trim() : null;
};

/** HMRC's IRmark, computed independently of the hub: Body with the envelope namespace, no IRmark, C14N by libxml2. */
export async function simulatorIrmark(message: string): Promise<string> {
  const xml = message.replace(/\r\n?/g, '\n');
  const m = /<(?:(\w+):)?Body\b([^>]*)>([\s\S]*)<\/(?:\w+:)?Body>/.exec(xml);
  if (!m) throw new Error('no Body');
  const prefix = m[1];
  const attrs = m[2]!.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
  const inner = m[3]!.replace(/<(?:\w+:)?IRmark\b[^>]*>[^<]*<\/(?:\w+:)?IRmark>/g, '').replace(/<!--[\s\S]*?-->/g, '');
  const tag = prefix ? `${prefix}:Body` : 'Body';
  const ns = prefix ? `xmlns:${prefix}="${ENVELOPE}"` : `xmlns="${ENVELOPE}"`;
  const body = `<${tag} ${ns}${attrs}>${inner}</${tag}>`;
  const r = await validateXML({ xml: [{ fileName: 'body.xml', contents: body }], normalization: 'c14n' });
  if (r.normalized === undefined) throw new Error('canonicalisation failed');
  // xmllint ends its output with a newline that is not part of the canonical form.
  return createHash('sha1').update(r.normalized.replace(/\n$/, ''), 'utf8').digest('base64');
}

const NEVER = /^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$/;

export async function startHmrcRtiSimulator(o: HmrcRtiSimulatorOptions): Promise<HmrcRtiSimulator> {
  if (!o.senderId || !o.password) throw new Error('senderId and password are required');
  const interval = o.pollIntervalSeconds ?? 1;
  const schemas = loadSchemas(o.packsDir ?? DEFAULT_PACKS);
  const pending = new Map<string, Pending>();
  const stats: HmrcRtiStats = { requests: 0, submissions: [], refused: [], polls: 0, earlyPolls: 0, deletes: 0 };
  let held = false;
  let nextFailure: HmrcRtiError | null = null;
  let url = '';

  const answer = (res: ServerResponse, xml: string, status = 200) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/xml');
    res.end(xml);
  };
  const details = (cls: string, qualifier: string, fn: string, correlationId: string, endpoint: string | null, pollInterval: number | null) =>
    `<MessageDetails><Class>${cls}</Class><Qualifier>${qualifier}</Qualifier><Function>${fn}</Function><CorrelationID>${correlationId}</CorrelationID>${
      endpoint ? `<ResponseEndPoint${pollInterval !== null ? ` PollInterval="${pollInterval}"` : ''}>${endpoint}</ResponseEndPoint>` : ''
    }<GatewayTimestamp>${new Date().toISOString().slice(0, 23)}</GatewayTimestamp></MessageDetails>`;
  const ack = (cls: string, id: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><GovTalkMessage xmlns="${ENVELOPE}"><EnvelopeVersion>2.0</EnvelopeVersion><Header>${details(cls, 'acknowledgement', 'submit', id, `${url}/poll`, interval)}<SenderDetails/></Header><GovTalkDetails><Keys/></GovTalkDetails><Body/></GovTalkMessage>`;
  const errorMessage = (cls: string, id: string, errors: HmrcRtiError[]) =>
    `<?xml version="1.0" encoding="UTF-8"?><GovTalkMessage xmlns="${ENVELOPE}"><EnvelopeVersion>2.0</EnvelopeVersion><Header>${details(cls, 'error', 'submit', id, `${url}/submission`, null)}<SenderDetails/></Header><GovTalkDetails><Keys/><GovTalkErrors>${errors
      .map((e) => `<Error><RaisedBy>ChRIS</RaisedBy><Number>${e.number}</Number><Type>${e.type}</Type><Text>${escape(e.text)}</Text>${e.location ? `<Location>${escape(e.location)}</Location>` : ''}</Error>`)
      .join('')}</GovTalkErrors></GovTalkDetails><Body/></GovTalkMessage>`;
  const response = (cls: string, id: string, fn: 'submit' | 'delete', irmark: string | null) =>
    `<?xml version="1.0" encoding="UTF-8"?><GovTalkMessage xmlns="${ENVELOPE}"><EnvelopeVersion>2.0</EnvelopeVersion><Header>${details(cls, 'response', fn, id, `${url}/submission`, null)}<SenderDetails/></Header><GovTalkDetails><Keys/></GovTalkDetails><Body>${
      fn === 'submit' ? `<SuccessResponse xmlns="http://www.inlandrevenue.gov.uk/SuccessResponse"><IRmarkReceipt><Message code="0000">HMRC has received the document with IRmark ${irmark}</Message></IRmarkReceipt><AcceptedTime>${new Date().toISOString().slice(0, 19)}</AcceptedTime></SuccessResponse>` : ''
    }</Body></GovTalkMessage>`;

  function refuse(res: ServerResponse, cls: string, reason: string, errors: HmrcRtiError[]) {
    stats.refused.push({ reason, errors });
    answer(res, errorMessage(cls, '', errors));
  }

  async function submit(res: ServerResponse, xml: string, cls: string) {
    if (text(xml, 'SenderID') !== o.senderId || text(xml, 'Value') !== o.password) {
      return refuse(res, cls, 'credentials', [{ number: '1046', type: 'fatal', text: 'Authentication Failure. The supplied user credentials failed validation for the requested service.' }]);
    }
    const ns = /<(?:\w+:)?IRenvelope\b[^>]*\bxmlns="([^"]+)"/.exec(xml)?.[1] ?? '';
    const schema = schemas.byNamespace.get(ns);
    if (!schema) return refuse(res, cls, 'schema', [{ number: '3001', type: 'fatal', text: `no schema of this service for the document's namespace ${ns || '(none)'}` }]);
    if (schema.cls !== cls) return refuse(res, cls, 'class', [{ number: '1001', type: 'fatal', text: `the document's namespace is not one of class ${cls}` }]);
    const env = await validateXML({ xml: [{ fileName: 'message.xml', contents: xml }], schema: { fileName: 'envelope.xsd', contents: schema.envelope }, preload: [{ fileName: 'xmldsig-stub.xsd', contents: XMLDSIG_STUB }] });
    const ir = /<(?:\w+:)?IRenvelope\b[\s\S]*<\/(?:\w+:)?IRenvelope>/.exec(xml)?.[0] ?? '';
    const doc = env.valid ? await validateXML({ xml: [{ fileName: 'body.xml', contents: ir }], schema: { fileName: schema.file, contents: schema.xsd } }) : env;
    if (!doc.valid) {
      const errors = doc.errors.filter((e) => !/Schemas parser warning/.test(e.message)).slice(0, 10);
      return refuse(res, cls, 'schema', errors.map((e) => ({ number: '3001', type: 'fatal', text: e.message.trim(), location: e.loc ? `line ${e.loc.lineNumber}` : undefined })));
    }
    const given = text(xml, 'IRmark');
    const computed = await simulatorIrmark(xml);
    if (given !== computed) return refuse(res, cls, 'irmark', [{ number: '2021', type: 'fatal', text: `The IRmark in the document (${given}) is incorrect` }]);
    // Business rules HMRC applies after acceptance: they come back on a poll, as business errors by element.
    const errors: HmrcRtiError[] = [];
    const employees = ir.split(/<(?:\w+:)?Employee>/).slice(1);
    employees.forEach((e, i) => {
      const nino = text(e, 'NINO');
      if (nino && !NEVER.test(nino)) errors.push({ number: '7821', type: 'business', text: `NINO ${nino} is not a valid National Insurance number`, location: `/IRenvelope/FullPaymentSubmission/Employee[${i + 1}]/EmployeeDetails/NINO` });
    });
    const gtKeys = /<GovTalkDetails>[\s\S]*?<Keys>([\s\S]*?)<\/Keys>/.exec(xml)?.[1]?.replace(/\s/g, '');
    const irKeys = /<IRheader>[\s\S]*?<Keys>([\s\S]*?)<\/Keys>/.exec(ir)?.[1]?.replace(/\s/g, '');
    if (gtKeys !== irKeys) errors.push({ number: '7822', type: 'business', text: 'Keys in IRheader must match GovTalk header', location: '/IRenvelope/IRheader/Keys' });
    const correlationId = randomBytes(16).toString('hex').toUpperCase();
    const s: Pending = {
      correlationId,
      class: cls,
      irmark: computed,
      namespace: ns,
      employees: employees.length,
      receivedAt: new Date(),
      outcome: 'pending',
      errors: [],
      pollsLeft: o.pollsBeforeResponse ?? 1,
      lastAskedAt: Date.now(),
      failWith: errors.length ? null : nextFailure,
    };
    if (errors.length) s.errors = errors;
    nextFailure = null;
    pending.set(correlationId, s);
    stats.submissions.push(s);
    answer(res, ack(cls, correlationId));
  }

  function poll(res: ServerResponse, cls: string, id: string) {
    stats.polls++;
    const s = pending.get(id);
    if (!s || s.outcome === 'deleted') return answer(res, errorMessage(cls, id, [{ number: '2000', type: 'fatal', text: `Correlation ID ${id} not found` }]));
    if (Date.now() - s.lastAskedAt < interval * 1000 - 50) stats.earlyPolls++;
    s.lastAskedAt = Date.now();
    if (held || s.pollsLeft > 0) {
      if (!held) s.pollsLeft--;
      return answer(res, ack(s.class, id));
    }
    if (s.errors.length || s.failWith) {
      if (s.failWith) s.errors = [s.failWith];
      s.outcome = 'error';
      return answer(res, errorMessage(s.class, id, s.errors));
    }
    s.outcome = 'accepted';
    answer(res, response(s.class, id, 'submit', s.irmark));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    stats.requests++;
    const path = new URL(req.url ?? '/', 'http://sim.invalid').pathname;
    if (req.method !== 'POST' || (path !== '/submission' && path !== '/poll')) throw new HttpError(404, 'not_found', `no such endpoint ${req.method} ${path}`);
    const xml = (await readBodyBytes(req, 32 * 1024 * 1024)).toString('utf8');
    const cls = text(xml, 'Class') ?? '';
    const qualifier = text(xml, 'Qualifier');
    const fn = text(xml, 'Function');
    const id = text(xml, 'CorrelationID') ?? '';
    if (!/<(?:\w+:)?GovTalkMessage\b/.test(xml) || !qualifier) return answer(res, errorMessage(cls, '', [{ number: '1001', type: 'fatal', text: 'The submitted XML document either failed to validate against the GovTalk schema or is not well formed' }]));
    if (cls !== 'HMRC-PAYE-RTI-FPS' && cls !== 'HMRC-PAYE-RTI-EPS') return answer(res, errorMessage(cls, id, [{ number: '1002', type: 'fatal', text: `Unknown class ${cls}` }]));
    if (qualifier === 'poll') return poll(res, cls, id);
    if (qualifier === 'request' && fn === 'delete') {
      stats.deletes++;
      const s = pending.get(id);
      if (!s) return answer(res, errorMessage(cls, id, [{ number: '2000', type: 'fatal', text: `Correlation ID ${id} not found` }]));
      if (s.outcome === 'pending') s.outcome = 'deleted';
      pending.delete(id);
      return answer(res, response(cls, id, 'delete', null));
    }
    if (qualifier === 'request' && fn === 'submit') return submit(res, xml, cls);
    return answer(res, errorMessage(cls, id, [{ number: '1001', type: 'fatal', text: `Qualifier ${qualifier} with Function ${fn} is not part of the protocol` }]));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal', String((err as Error).message));
      if (!res.headersSent) {
        res.statusCode = e.status;
        res.end(e.message);
      }
    });
  });
  url = `http://${await listen(server, o.host, o.port)}`;
  return {
    url,
    submissionUrl: `${url}/submission`,
    stats: () => stats,
    hold: (on) => void (held = on),
    failNext: (e) => void (nextFailure = e),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
