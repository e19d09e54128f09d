/**
 * MESH (Message Exchange for Social care and Health) API v2 mailbox simulator, after nhs-mesh/mesh-api.yaml.
 *
 * ## Authorization header (exactly what this simulator verifies)
 *
 *     Authorization: NHSMESH <mailbox_id>:<nonce>:<nonce_count>:<timestamp>:<hash>
 *
 * - `mailbox_id`: the calling mailbox, the same as the {mailbox_id} in the path (else 403).
 * - `nonce`: a fresh GUID; `nonce_count`: a non-negative integer. A (mailbox, nonce, nonce_count) triple is
 *   accepted once only: a repeated header gets 403.
 * - `timestamp`: UTC `yyyyMMddHHmm`, within 2 hours of the server clock.
 * - `hash`: lowercase hex HMAC-SHA256, keyed with the environment shared key (option `meshSharedKey`), of
 *   `${mailbox_id}:${nonce}:${nonce_count}:${mailbox_password}:${timestamp}` (password from `meshMailboxes`).
 * Any failure: 403 {"detail": "Authentication failed", "reason": ...}.
 *
 * ## Routes (Accept: application/vnd.mesh.v2+json selects v2 bodies; otherwise the v1 shape)
 * - POST /messageexchange/{mailbox}                         handshake (needs mex-clientversion, mex-osname, mex-osversion)
 * - POST /messageexchange/{mailbox}/outbox                  send: mex-to, mex-workflowid required; mex-subject,
 *   mex-localid, mex-filename, mex-content-checksum, content-type, content-encoding kept -> 202 {message_id}
 * - GET  /messageexchange/{mailbox}/outbox/tracking?messageID=   v2 tracking: status 'accepted' -> 'acknowledged'
 * - GET  /messageexchange/{mailbox}/outbox/tracking/{local_id}   deprecated v1 tracking by local id (300 if not unique)
 * - GET  /messageexchange/{mailbox}/inbox[?max_results=&continue_from=]   {messages, links, approx_inbox_count}
 * - GET  /messageexchange/{mailbox}/count                   {count}
 * - GET|HEAD /messageexchange/{mailbox}/inbox/{message_id}  the payload with mex-* headers (404 unknown, 410 acknowledged)
 * - PUT  /messageexchange/{mailbox}/inbox/{message_id}/status/acknowledged   removes it from the inbox
 * Chunked messages (mex-chunk-range other than 1:1) are refused with 417.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeEqual } from '../auth.ts';
import { readBodyBytes } from '../http.ts';

const MAX_MESSAGE_BYTES = 20 * 1024 * 1024;
const TIMESTAMP_SKEW_MS = 2 * 60 * 60 * 1000;
const V2 = 'application/vnd.mesh.v2+json';
const EXPIRY_MS = 5 * 24 * 60 * 60 * 1000; // undownloaded messages expire after five days

interface MeshMessage {
  messageId: string;
  sender: string;
  recipient: string;
  workflowId: string;
  subject?: string;
  localId?: string;
  filename?: string;
  checksum?: string;
  contentType: string;
  contentEncoding?: string;
  body: Buffer;
  uploadedAt: Date;
  status: 'accepted' | 'acknowledged';
  statusAt: Date;
  downloadedAt?: Date;
}

export class MeshError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`MESH ${status}`);
  }
}

const authFailed = (reason: string): MeshError => new MeshError(403, { detail: 'Authentication failed', reason });

/** MESH message ids: 20-digit UTC timestamp + 6 hex, e.g. 20200529155357895317_3573F8. */
function newMessageId(now: Date): string {
  const t = now.toISOString().replace(/[-:TZ.]/g, ''); // yyyyMMddHHmmssSSS
  return `${t}${String(randomBytes(2).readUInt16BE() % 1000).padStart(3, '0')}_${randomBytes(3).toString('hex').toUpperCase()}`;
}

const compact = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // yyyyMMddHHmmss
const isoSeconds = (d: Date): string => d.toISOString().slice(0, 19);

function parseMeshTimestamp(ts: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(ts);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  return Number.isNaN(t) ? undefined : t;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export class MeshService {
  private messages = new Map<string, MeshMessage>();
  private usedNonces = new Set<string>();

  constructor(
    private readonly mailboxes: Record<string, string>,
    private readonly sharedKey: string,
  ) {}

  reset(): void {
    this.messages.clear();
    this.usedNonces.clear();
  }

  acknowledgeAll(mailbox: string): number {
    let n = 0;
    for (const m of this.messages.values()) {
      if (m.recipient === mailbox && m.status === 'accepted') {
        this.acknowledge(m);
        n += 1;
      }
    }
    return n;
  }

  private acknowledge(m: MeshMessage): void {
    m.status = 'acknowledged';
    m.statusAt = new Date();
  }

  /** Verifies the NHSMESH Authorization header for the mailbox in the path. */
  authenticate(req: IncomingMessage, pathMailbox: string): void {
    const raw = req.headers.authorization;
    if (typeof raw !== 'string' || !raw.startsWith('NHSMESH ')) throw authFailed('missing NHSMESH authorization header');
    const parts = raw.slice('NHSMESH '.length).split(':');
    if (parts.length !== 5) throw authFailed('authorization must be NHSMESH mailbox:nonce:nonce_count:timestamp:hash');
    const [mailbox, nonce, nonceCount, timestamp, hash] = parts as [string, string, string, string, string];
    const password = this.mailboxes[mailbox];
    if (password === undefined) throw authFailed('unknown mailbox');
    if (!/^\d+$/.test(nonceCount) || nonce === '') throw authFailed('bad nonce or nonce_count');
    const ts = parseMeshTimestamp(timestamp);
    if (ts === undefined || Math.abs(Date.now() - ts) > TIMESTAMP_SKEW_MS) throw authFailed('timestamp is not within 2 hours of server time');
    const expected = createHmac('sha256', this.sharedKey).update(`${mailbox}:${nonce}:${nonceCount}:${password}:${timestamp}`).digest('hex');
    if (!safeEqual(hash.toLowerCase(), expected)) throw authFailed('hash does not match');
    const key = `${mailbox}:${nonce}:${nonceCount}`;
    if (this.usedNonces.has(key)) throw authFailed('authorization token has already been used');
    this.usedNonces.add(key);
    if (mailbox !== pathMailbox) throw authFailed('the mailbox in the path does not match the authorization header');
  }

  /** Returns false when the path is not a MESH route. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    let segments: string[];
    try {
      segments = url.pathname.split('/').slice(2).map((seg) => decodeURIComponent(seg)); // after /messageexchange
    } catch {
      return false;
    }
    const [mailbox, area, ...rest] = segments;
    if (!mailbox) return false;
    const method = req.method ?? 'GET';
    const v2 = (req.headers.accept ?? '').includes(V2);
    const shape = [area ?? '', ...rest.map((seg, i) => ((area === 'inbox' && i === 0) || (area === 'outbox' && i === 1) ? ':id' : seg))];
    const route = `${method} ${shape.join('/')}`;

    const known = [
      'POST ', 'POST outbox', 'GET outbox/tracking', 'GET outbox/tracking/:id', 'GET inbox', 'GET count',
      'GET inbox/:id', 'HEAD inbox/:id', 'PUT inbox/:id/status/acknowledged',
    ];
    if (!known.includes(route)) {
      const pathKnown = known.some((k) => k.split(' ')[1] === route.split(' ')[1]);
      if (pathKnown) throw new MeshError(405, { detail: 'Method Not Allowed' });
      return false;
    }
    this.authenticate(req, mailbox);

    switch (route) {
      case 'POST ':
        return this.handshake(req, res, mailbox, v2);
      case 'POST outbox':
        return this.send(req, res, mailbox, v2);
      case 'GET outbox/tracking':
        return this.trackById(res, mailbox, url.searchParams.get('messageID'), v2);
      case 'GET outbox/tracking/:id':
        return this.trackByLocalId(res, mailbox, rest[1]!);
      case 'GET inbox':
        return this.inbox(res, mailbox, url, v2);
      case 'GET count': {
        const count = this.inboxOf(mailbox).length;
        json(res, 200, v2 ? { count } : { count, internalID: newMessageId(new Date()), allResultsIncluded: true }, v2);
        return true;
      }
      case 'GET inbox/:id':
      case 'HEAD inbox/:id':
        return this.download(res, mailbox, rest[0]!, method === 'HEAD');
      default: {
        const m = this.received(mailbox, rest[0]!);
        if (m.status === 'accepted') this.acknowledge(m);
        if (v2) {
          res.statusCode = 200;
          res.setHeader('Content-Length', 0);
          res.end();
        } else json(res, 200, { messageId: m.messageId }, false);
        return true;
      }
    }
  }

  private handshake(req: IncomingMessage, res: ServerResponse, mailbox: string, v2: boolean): boolean {
    const missing = ['mex-clientversion', 'mex-osname', 'mex-osversion'].filter((h) => header(req, h) === undefined);
    if (missing.length > 0) {
      throw new MeshError(400, { detail: missing.map((h) => ({ loc: ['header', h], msg: 'field required', type: 'value_error.missing' })) });
    }
    json(res, 200, v2 ? { mailbox_id: mailbox } : { mailboxId: mailbox }, v2);
    return true;
  }

  private async send(req: IncomingMessage, res: ServerResponse, sender: string, v2: boolean): Promise<boolean> {
    const sendError = (code: string, msg: string): MeshError =>
      new MeshError(417, v2 ? { message_id: null, internal_id: newMessageId(new Date()), detail: [{ event: 'SEND', code, msg }] } : { messageID: null, errorEvent: 'SEND', errorCode: code, errorDescription: msg });
    const to = header(req, 'mex-to');
    const workflowId = header(req, 'mex-workflowid');
    if (to === undefined) throw sendError('08', 'Missing Mex-To header');
    if (workflowId === undefined) throw sendError('06', 'Malformed headers: Mex-WorkflowID is required');
    if (this.mailboxes[to] === undefined) throw sendError('12', 'Unregistered to address');
    const from = header(req, 'mex-from');
    if (from !== undefined && from !== sender) throw sendError('07', 'Invalid From Address, the mailbox does not match the authorization header');
    const chunkRange = header(req, 'mex-chunk-range');
    if (chunkRange !== undefined && chunkRange !== '1:1') throw sendError('06', 'Chunked messages are not supported by this simulator');
    const body = await readBodyBytes(req, MAX_MESSAGE_BYTES);
    if (body.length === 0) throw sendError('02', 'Data file is missing or inaccessible');
    const now = new Date();
    const m: MeshMessage = {
      messageId: newMessageId(now),
      sender,
      recipient: to,
      workflowId,
      subject: header(req, 'mex-subject'),
      localId: header(req, 'mex-localid'),
      filename: header(req, 'mex-filename'),
      checksum: header(req, 'mex-content-checksum'),
      contentType: header(req, 'content-type') ?? 'application/octet-stream',
      contentEncoding: header(req, 'content-encoding'),
      body,
      uploadedAt: now,
      status: 'accepted',
      statusAt: now,
    };
    this.messages.set(m.messageId, m);
    json(res, 202, v2 ? { message_id: m.messageId } : { messageID: m.messageId }, v2);
    return true;
  }

  private trackById(res: ServerResponse, sender: string, messageId: string | null, v2: boolean): boolean {
    if (!messageId) throw new MeshError(400, { detail: [{ loc: ['query', 'messageID'], msg: 'field required', type: 'value_error.missing' }] });
    const m = this.messages.get(messageId);
    if (!m || m.sender !== sender) throw new MeshError(404, { detail: 'message not found' });
    json(res, 200, v2 ? trackingV2(m) : trackingV1(m), v2);
    return true;
  }

  private trackByLocalId(res: ServerResponse, sender: string, localId: string): boolean {
    const found = [...this.messages.values()].filter((m) => m.sender === sender && m.localId === localId);
    if (found.length === 0) throw new MeshError(404, { detail: 'message not found' });
    if (found.length > 1) throw new MeshError(300, { detail: 'local_id is not unique', messages: found.map((m) => m.messageId) });
    json(res, 200, trackingV1(found[0]!), false);
    return true;
  }

  private inboxOf(mailbox: string): MeshMessage[] {
    const now = Date.now();
    return [...this.messages.values()]
      .filter((m) => m.recipient === mailbox && m.status === 'accepted' && now - m.uploadedAt.getTime() < EXPIRY_MS)
      .sort((a, b) => a.messageId.localeCompare(b.messageId));
  }

  private inbox(res: ServerResponse, mailbox: string, url: URL, v2: boolean): boolean {
    let ids = this.inboxOf(mailbox).map((m) => m.messageId);
    if (!v2) {
      json(res, 200, { messages: ids.slice(0, 500) }, false);
      return true;
    }
    const maxRaw = url.searchParams.get('max_results');
    const max = maxRaw === null ? 500 : Number(maxRaw);
    if (!Number.isInteger(max) || max < 10 || max > 5000) {
      throw new MeshError(400, { detail: [{ loc: ['query', 'max_results'], msg: 'ensure this value is between 10 and 5000', type: 'value_error' }] });
    }
    const total = ids.length;
    const from = url.searchParams.get('continue_from');
    if (from !== null) {
      const after = Buffer.from(from, 'base64url').toString('utf8');
      ids = ids.filter((id) => id > after);
    }
    const page = ids.slice(0, max);
    const base = `/messageexchange/${mailbox}/inbox?max_results=${max}`;
    const links: Record<string, string> = { self: base };
    if (ids.length > max) links.next = `${base}&continue_from=${Buffer.from(page[page.length - 1]!).toString('base64url')}`;
    json(res, 200, { messages: page, links, approx_inbox_count: total }, true);
    return true;
  }

  private received(mailbox: string, messageId: string): MeshMessage {
    const m = this.messages.get(messageId);
    if (!m || m.recipient !== mailbox) throw new MeshError(404, { detail: 'message not found' });
    return m;
  }

  private download(res: ServerResponse, mailbox: string, messageId: string, head: boolean): boolean {
    const m = this.received(mailbox, messageId);
    if (m.status === 'acknowledged') throw new MeshError(410, { detail: 'message has been acknowledged' });
    if (!head) m.downloadedAt = new Date();
    res.statusCode = 200;
    const h: Record<string, string | undefined> = {
      'Content-Type': m.contentType,
      'Content-Encoding': m.contentEncoding,
      'mex-messageid': m.messageId,
      'mex-from': m.sender,
      'mex-to': m.recipient,
      'mex-workflowid': m.workflowId,
      'mex-subject': m.subject,
      'mex-localid': m.localId,
      'mex-filename': m.filename,
      'mex-content-checksum': m.checksum,
      'mex-messagetype': 'DATA',
      'mex-addresstype': 'ALL',
      'mex-content-compressed': 'N',
      'mex-version': '1.0',
    };
    for (const [name, value] of Object.entries(h)) if (value !== undefined) res.setHeader(name, value);
    res.setHeader('Content-Length', m.body.length);
    res.end(head ? undefined : m.body);
    return true;
  }
}

function trackingV2(m: MeshMessage): Record<string, unknown> {
  return {
    message_id: m.messageId,
    local_id: m.localId ?? null,
    workflow_id: m.workflowId,
    filename: m.filename ?? null,
    expiry_time: isoSeconds(new Date(m.uploadedAt.getTime() + EXPIRY_MS)),
    upload_timestamp: isoSeconds(m.uploadedAt),
    recipient: m.recipient,
    recipient_name: `${m.recipient} (simulated)`,
    recipient_ods_code: m.recipient.slice(0, 3),
    recipient_org_code: m.recipient.slice(0, 3),
    recipient_org_name: 'Simulated organisation',
    status_success: true,
    status: m.status,
    status_event: m.status === 'acknowledged' ? 'DOWNLOAD' : 'TRANSFER',
    status_timestamp: isoSeconds(m.statusAt),
    status_description: m.status === 'acknowledged' ? 'Acknowledged' : 'Success',
    status_code: '00',
  };
}

function trackingV1(m: MeshMessage): Record<string, unknown> {
  return {
    addressType: 'ALL',
    checksum: m.checksum ?? null,
    chunkCount: 1,
    contentEncoding: m.contentEncoding ?? '',
    downloadTimestamp: m.status === 'acknowledged' ? compact(m.statusAt) : null,
    dtsId: m.messageId,
    expiryTime: compact(new Date(m.uploadedAt.getTime() + EXPIRY_MS)),
    fileName: m.filename ?? null,
    fileSize: m.body.length,
    localId: m.localId ?? null,
    messageId: m.messageId,
    messageType: 'DATA',
    recipient: m.recipient,
    sender: m.sender,
    status: m.status === 'acknowledged' ? 'Acknowledged' : 'Accepted',
    statusSuccess: 'SUCCESS',
    statusTimestamp: compact(m.statusAt),
    subject: m.subject ?? null,
    uploadTimestamp: compact(m.uploadedAt),
    version: '1.0',
    workflowId: m.workflowId,
  };
}

function json(res: ServerResponse, status: number, body: unknown, v2: boolean): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', v2 ? V2 : 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  res.end(payload);
}

export function sendMeshError(res: ServerResponse, err: MeshError): void {
  if (res.headersSent || res.destroyed) return;
  json(res, err.status, err.body, false);
}
