import { createHmac, randomBytes } from 'node:crypto';
import { HttpError } from './http.ts';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/**
 * Read-only resident collection with the two pagination styles third-party
 * systems commonly use. Records are pre-sorted by id (see prepareRecords), so
 * both styles see one stable order.
 */
export class ResidentCollection {
  // Per-instance key: cursors are opaque and only valid against the simulator that issued them.
  private readonly cursorKey = randomBytes(16);
  private readonly byId: Map<string, Record<string, unknown>>;

  constructor(private readonly records: ReadonlyArray<Record<string, unknown>>) {
    this.byId = new Map(records.map((r) => [String(r.id), r]));
  }

  get(id: string): Record<string, unknown> {
    const record = this.byId.get(id);
    if (!record) throw new HttpError(404, 'not_found', `resident ${id} not found`);
    return record;
  }

  /** Offset style when `offset` is given, cursor style otherwise (a first cursor page has no cursor). */
  list(query: URLSearchParams): Record<string, unknown> {
    const limit = parseIntParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
    const hasOffset = query.has('offset');
    const hasCursor = query.has('cursor');
    if (hasOffset && hasCursor) throw new HttpError(400, 'invalid_request', 'use either cursor or offset, not both');

    if (hasOffset) {
      const offset = parseIntParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      return { data: this.records.slice(offset, offset + limit), total: this.records.length, offset, limit };
    }

    const start = hasCursor ? this.decodeCursor(query.get('cursor')!) : 0;
    const end = start + limit;
    return {
      data: this.records.slice(start, end),
      next_cursor: end < this.records.length ? this.encodeCursor(end) : null,
    };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.cursorKey).update(payload).digest('base64url').slice(0, 16);
  }

  private encodeCursor(position: number): string {
    const payload = Buffer.from(JSON.stringify({ p: position })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  private decodeCursor(cursor: string): number {
    const bad = new HttpError(400, 'invalid_request', 'cursor is invalid or was not issued by this server');
    const [payload, mac, ...rest] = cursor.split('.');
    if (!payload || !mac || rest.length > 0 || mac !== this.sign(payload)) throw bad;
    try {
      const { p } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { p: unknown };
      if (typeof p === 'number' && Number.isInteger(p) && p >= 0) return p;
    } catch {
      // fall through to the 400
    }
    throw bad;
  }
}

/** Strict decimal integer in [min, max]; "10abc", "-1", "1.5" and "" are all 400s rather than silently coerced. */
function parseIntParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new HttpError(400, 'invalid_request', `${name} must be an integer ${range}`);
  }
  return value;
}
