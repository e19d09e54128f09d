import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DoorSettings } from '@hub/runtime';
import { CSRF_HEADERS } from './guards.ts';

/**
 * Who may knock on the gateway's doors, before any credentials are read: the Host a request names (DNS rebinding
 * ends here), the Origin a browser sends (CORS allow-list; same origin otherwise), and how many long-lived
 * connections one client may hold open (graphql-ws sockets, event streams).
 */

/** Paths a probe or a scraper calls by address (a pod's IP): no Host check, they serve nothing of anyone's. */
export const OPERATIONAL_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The request's Host is one the gateway answers to (`name` matches any port; `name:port` that port only). */
export function hostAllowed(doors: DoorSettings, host: string | undefined): boolean {
  if (doors.allowedHosts === null) return true;
  if (!host) return false;
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0]!;
  return doors.allowedHosts.includes(h) || doors.allowedHosts.includes(name);
}

/** A browser's Origin is the gateway's own (same scheme-less host and port as the Host it asked). */
const sameOrigin = (origin: string, host: string | undefined): boolean => {
  try {
    return !!host && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
};

/** The Origin (if any) may call: absent (not a browser), the gateway's own, or on CORS_ORIGINS. */
export function originAllowed(doors: DoorSettings, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  return doors.corsOrigins.includes(origin) || sameOrigin(origin, host);
}

const ALLOW_HEADERS = ['content-type', 'accept', 'x-request-id', 'last-event-id', 'x-hub-client', ...CSRF_HEADERS].join(', ');

/**
 * CORS: an allowed cross-origin caller gets its own origin back (never `*`, never an origin that is not listed, and
 * no Allow-Credentials: the hub's credentials are headers, not cookies). A preflight is answered here.
 * Returns true when the request has been answered.
 */
export function applyCors(doors: DoorSettings, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  res.setHeader('vary', 'Origin');
  if (origin !== undefined && doors.corsOrigins.includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'x-request-id, retry-after, www-authenticate');
  }
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    if (origin !== undefined && doors.corsOrigins.includes(origin)) {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS', 'access-control-allow-headers': ALLOW_HEADERS, 'access-control-max-age': '600', 'content-length': '0' });
    } else {
      res.writeHead(403, { 'content-type': 'application/json; charset=utf-8' });
      res.write(JSON.stringify({ error: { code: 'FORBIDDEN', message: `origin ${origin ?? '(none)'} may not call this hub (CORS_ORIGINS)` } }));
    }
    res.end();
    return true;
  }
  return false;
}

/** Counts what each client holds open (sockets, streams, subscriptions) against a limit. */
export class OpenCounter {
  private readonly open = new Map<string, number>();
  constructor(readonly limit: number) {}

  /** Takes one for the client; false (and nothing taken) when it already holds `limit`. */
  acquire(client: string): boolean {
    const n = this.open.get(client) ?? 0;
    if (n >= this.limit) return false;
    this.open.set(client, n + 1);
    return true;
  }

  release(client: string): void {
    const n = (this.open.get(client) ?? 1) - 1;
    if (n <= 0) this.open.delete(client);
    else this.open.set(client, n);
  }
}

/** The key a caller's allowances are counted under: an authenticated client wherever it calls from, else its address. */
export const clientKey = (identity: { client: string; via: string } | undefined, address: string | undefined): string =>
  identity && identity.via !== 'anonymous' ? `client:${identity.client}` : (address ?? 'unknown');
