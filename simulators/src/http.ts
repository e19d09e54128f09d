import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STATUS_CODES } from 'node:http';

/** Largest request body we read; the simulator only ever receives tiny forms and JSON. */
const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  // Echoing the caller's correlation id lets hub logs be matched to simulator traffic.
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string') res.setHeader('X-Request-ID', requestId);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(payload);
}

/** The simulator's uniform resource-error shape: {"error": code, "message": text}. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: HttpError): void {
  sendJson(req, res, err.status, { error: err.code, message: err.message }, err.headers);
}

/** 'Service Unavailable' -> 'service_unavailable', for machine-readable codes of arbitrary statuses. */
export function statusCode(status: number): string {
  return (STATUS_CODES[status] ?? `http_${status}`).toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBodyBytes(req)).toString('utf8');
}

/** The raw body, refused with 413 beyond maxBytes (default 64 KiB). */
export async function readBodyBytes(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'payload_too_large', `body exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Listens on `host:port` (default 127.0.0.1 and any free port) and resolves with the `host:port` to put in URLs.
 * A wildcard bind address is not dialable: loopback is advertised instead (the fixture server cert covers it).
 */
export async function listen(server: Server, host = '127.0.0.1', port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${shown}:${bound}`;
}
