import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/**
 * HMRC fraud-prevention headers (spec version 3.1), as the Test Fraud Prevention Headers API checks them:
 * presence of every header the connection method requires, then the basic format of each header sent.
 */

export type FraudHeadersCode = 'VALID_HEADERS' | 'INVALID_HEADERS' | 'POTENTIALLY_INVALID_HEADERS';

export interface FraudHeaderIssue {
  code: string;
  message: string;
  headers: string[];
}

export interface FraudHeadersReport {
  specVersion: '3.1';
  code: FraudHeadersCode;
  message: string;
  errors?: FraudHeaderIssue[];
  warnings?: FraudHeaderIssue[];
}

export interface FraudHeadersResult {
  report: FraudHeadersReport;
  /** Required headers absent (or empty) for the request's connection method. */
  missing: string[];
}

export const REQUIRED_FRAUD_HEADERS = {
  WEB_APP_VIA_SERVER: [
    'Gov-Client-Connection-Method',
    'Gov-Client-Public-IP',
    'Gov-Client-Public-IP-Timestamp',
    'Gov-Client-Public-Port',
    'Gov-Client-Device-ID',
    'Gov-Client-User-IDs',
    'Gov-Client-Timezone',
    'Gov-Client-Screens',
    'Gov-Client-Window-Size',
    'Gov-Client-Browser-JS-User-Agent',
    'Gov-Client-Browser-Do-Not-Track',
    'Gov-Client-Multi-Factor',
    'Gov-Vendor-Version',
    'Gov-Vendor-Product-Name',
    'Gov-Vendor-Public-IP',
    'Gov-Vendor-Forwarded',
  ],
  BATCH_PROCESS_DIRECT: [
    'Gov-Client-Connection-Method',
    'Gov-Client-Device-ID',
    'Gov-Client-User-IDs',
    'Gov-Client-Timezone',
    'Gov-Client-Local-IPs',
    'Gov-Client-Local-IPs-Timestamp',
    'Gov-Client-MAC-Addresses',
    'Gov-Client-User-Agent',
    'Gov-Vendor-Version',
    'Gov-Vendor-Product-Name',
  ],
} as const satisfies Record<string, readonly string[]>;

/** Real connection methods whose header sets this simulator does not model: only the formats of what is sent are checked. */
const UNMODELLED_METHODS = new Set(['DESKTOP_APP_DIRECT', 'DESKTOP_APP_VIA_SERVER', 'MOBILE_APP_DIRECT', 'MOBILE_APP_VIA_SERVER', 'WEB_APP_DIRECT', 'OTHER_DIRECT', 'OTHER_VIA_SERVER']);

/** Headers allowed to be sent empty (no multi-factor authentication used). */
const MAY_BE_EMPTY = new Set(['Gov-Client-Multi-Factor']);

// ---------- format checks: each returns an error message, or {warning} ----------

type Check = (value: string) => string | { warning: string } | undefined;

/** Unreserved characters (as left by encodeURIComponent) and %XX escapes, decodable. */
function pctEncoded(s: string): boolean {
  if (!/^(?:[A-Za-z0-9\-._~!*'()]|%[0-9A-Fa-f]{2})*$/.test(s)) return false;
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}
const decode = (s: string): string => decodeURIComponent(s);

/** `key=value&key=value`, each part percent-encoded, keys non-empty; undefined when malformed. */
function pairs(s: string): Map<string, string> | undefined {
  if (s === '') return undefined;
  const out = new Map<string, string>();
  for (const part of s.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (!pctEncoded(k) || !pctEncoded(v)) return undefined;
    out.set(decode(k), decode(v));
  }
  return out;
}
const list = (s: string): string[] => s.split(',');

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isTimestamp = (s: string): boolean => TIMESTAMP.test(s) && !Number.isNaN(Date.parse(s));
const uint = (s: string | undefined): boolean => s !== undefined && /^\d+$/.test(s);
const PAIRS_MSG = 'must be key=value pairs separated by &, with keys and values percent-encoded';

function isPrivateIp(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  const l = ip.toLowerCase();
  return l === '::1' || l.startsWith('fc') || l.startsWith('fd') || l.startsWith('fe80');
}

const publicIp: Check = (v) => {
  if (isIP(v) === 0) return 'must be an IPv4 or IPv6 address';
  if (isPrivateIp(v)) return { warning: 'is a private or loopback address, not a public one' };
  return undefined;
};
const timestamp: Check = (v) => (isTimestamp(v) ? undefined : 'must be a UTC timestamp yyyy-MM-ddThh:mm:ss.sssZ');
const keyValues =
  (required: string[] = []): Check =>
  (v) => {
    const p = pairs(v);
    if (!p) return PAIRS_MSG;
    const absent = required.filter((k) => !p.has(k));
    return absent.length > 0 ? `must include ${absent.join(', ')}` : undefined;
  };
const nonEmptyEncoded: Check = (v) => (pctEncoded(v) ? undefined : 'must be percent-encoded');

const CHECKS: Record<string, Check> = {
  'Gov-Client-Public-IP': publicIp,
  'Gov-Client-Public-IP-Timestamp': timestamp,
  'Gov-Client-Public-Port': (v) => {
    if (!uint(v) || Number(v) < 1 || Number(v) > 65535) return 'must be a port number between 1 and 65535';
    if (v === '80' || v === '443') return { warning: 'is a server port (80/443), not the client port' };
    return undefined;
  },
  'Gov-Client-Device-ID': nonEmptyEncoded,
  'Gov-Client-User-IDs': keyValues(),
  'Gov-Client-Timezone': (v) => (/^UTC[+-](0\d|1[0-4]):[0-5]\d$/.test(v) ? undefined : 'must be UTC±hh:mm'),
  'Gov-Client-Screens': (v) => {
    for (const screen of list(v)) {
      const p = pairs(screen);
      if (!p) return PAIRS_MSG;
      for (const k of ['width', 'height', 'colour-depth']) if (!uint(p.get(k))) return `each screen must include a numeric ${k}`;
      if (!/^\d+(\.\d+)?$/.test(p.get('scaling-factor') ?? '')) return 'each screen must include a numeric scaling-factor';
    }
    return undefined;
  },
  'Gov-Client-Window-Size': (v) => {
    const p = pairs(v);
    if (!p) return PAIRS_MSG;
    return uint(p.get('width')) && uint(p.get('height')) ? undefined : 'must include numeric width and height';
  },
  'Gov-Client-Browser-JS-User-Agent': () => undefined,
  'Gov-Client-Browser-Do-Not-Track': (v) => (v === 'true' || v === 'false' ? undefined : 'must be true or false'),
  'Gov-Client-Multi-Factor': (v) => {
    if (v === '') return undefined;
    for (const factor of list(v)) {
      const p = pairs(factor);
      if (!p) return PAIRS_MSG;
      if (!['TOTP', 'AUTH_CODE', 'OTHER'].includes(p.get('type') ?? '')) return 'type must be TOTP, AUTH_CODE or OTHER';
      if (!isTimestamp(p.get('timestamp') ?? '')) return 'timestamp must be yyyy-MM-ddThh:mm:ss.sssZ (percent-encoded)';
      if (!p.get('unique-reference')) return 'must include a unique-reference';
    }
    return undefined;
  },
  'Gov-Client-Local-IPs': (v) => (list(v).every((ip) => pctEncoded(ip) && isIP(decode(ip)) !== 0) ? undefined : 'must be a comma-separated list of percent-encoded IP addresses'),
  'Gov-Client-Local-IPs-Timestamp': timestamp,
  'Gov-Client-MAC-Addresses': (v) =>
    list(v).every((mac) => pctEncoded(mac) && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(decode(mac))) ? undefined : 'must be a comma-separated list of percent-encoded MAC addresses',
  'Gov-Client-User-Agent': keyValues(['os-family', 'os-version', 'device-manufacturer', 'device-model']),
  'Gov-Vendor-Version': keyValues(),
  'Gov-Vendor-Product-Name': nonEmptyEncoded,
  'Gov-Vendor-Public-IP': publicIp,
  'Gov-Vendor-Forwarded': (v) => {
    for (const hop of list(v)) {
      const p = pairs(hop);
      if (!p || isIP(p.get('by') ?? '') === 0 || isIP(p.get('for') ?? '') === 0) return 'must be a comma-separated list of by=<IP>&for=<IP>';
    }
    return undefined;
  },
};

const MESSAGES: Record<FraudHeadersCode, string> = {
  VALID_HEADERS: 'All headers appear to be valid',
  INVALID_HEADERS: 'At least 1 header is invalid',
  POTENTIALLY_INVALID_HEADERS: 'At least 1 header is potentially invalid',
};

export function validateFraudHeaders(headers: IncomingHttpHeaders): FraudHeadersResult {
  const get = (name: string): string | undefined => {
    const v = headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const errors: FraudHeaderIssue[] = [];
  const warnings: FraudHeaderIssue[] = [];
  const missing: string[] = [];

  const method = get('Gov-Client-Connection-Method');
  let required: readonly string[] = [];
  if (method === undefined || method === '') {
    missing.push('Gov-Client-Connection-Method');
    errors.push({ code: method === undefined ? 'MISSING_HEADER' : 'EMPTY_HEADER', message: 'Header required', headers: ['Gov-Client-Connection-Method'] });
  } else if (method in REQUIRED_FRAUD_HEADERS) {
    required = REQUIRED_FRAUD_HEADERS[method as keyof typeof REQUIRED_FRAUD_HEADERS];
  } else if (UNMODELLED_METHODS.has(method)) {
    warnings.push({ code: 'UNMODELLED_CONNECTION_METHOD', message: `The simulator does not know the required headers for ${method}; only formats were checked`, headers: ['Gov-Client-Connection-Method'] });
  } else {
    errors.push({ code: 'INVALID_HEADER', message: 'Value is not a recognised connection method', headers: ['Gov-Client-Connection-Method'] });
  }

  for (const name of required) {
    if (name === 'Gov-Client-Connection-Method') continue;
    const v = get(name);
    if (v === undefined) {
      missing.push(name);
      errors.push({ code: 'MISSING_HEADER', message: 'Header required', headers: [name] });
    } else if (v.trim() === '' && !MAY_BE_EMPTY.has(name)) {
      missing.push(name);
      errors.push({ code: 'EMPTY_HEADER', message: 'Header must not be empty', headers: [name] });
    }
  }
  // Format of every known header sent (required or not), skipping the empty ones already reported.
  for (const [name, check] of Object.entries(CHECKS)) {
    const v = get(name);
    if (v === undefined || (v.trim() === '' && !MAY_BE_EMPTY.has(name))) continue;
    const outcome = check(v);
    if (typeof outcome === 'string') errors.push({ code: 'INVALID_HEADER', message: `Value ${outcome}`, headers: [name] });
    else if (outcome) warnings.push({ code: 'POTENTIALLY_INVALID_HEADER', message: `Value ${outcome.warning}`, headers: [name] });
  }

  const code: FraudHeadersCode = errors.length > 0 ? 'INVALID_HEADERS' : warnings.length > 0 ? 'POTENTIALLY_INVALID_HEADERS' : 'VALID_HEADERS';
  const report: FraudHeadersReport = { specVersion: '3.1', code, message: MESSAGES[code] };
  if (errors.length > 0) report.errors = errors;
  if (warnings.length > 0) report.warnings = warnings;
  return { report, missing };
}
