import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CONTROL_PREFIX, FaultInjector, faultControlRoutes } from '../faults.ts';
import { listen, sendJson } from '../http.ts';

export type DbsStatus = 'NO_MATCH_FOUND' | 'BLANK_NO_NEW_INFO' | 'NON_BLANK_NO_NEW_INFO' | 'NEW_INFO';

export interface DbsSimulatorOptions {
  host?: string;
  port?: number;
}

export interface DbsStatusCall {
  certificateNumber: string;
  query: Record<string, string>;
  status: number;
}

export interface DbsSimulatorStats {
  requests: number;
  /** Every status check received, with its parameters and the HTTP status it was answered. */
  calls: DbsStatusCall[];
}

export interface DbsSimulator {
  url: string;
  stats(): DbsSimulatorStats;
  /** From now on the certificate answers this status (else: by its first digit, as the guide says). */
  setStatus(certificateNumber: string, status: DbsStatus): void;
  close(): Promise<void>;
}

const REQUIRED = ['dateOfBirth', 'surname', 'hasAgreedTermsAndConditions', 'organisationName', 'employeeSurname', 'employeeForename'] as const;
const BY_FIRST_DIGIT: Record<string, DbsStatus> = { '1': 'NO_MATCH_FOUND', '2': 'BLANK_NO_NEW_INFO', '3': 'NON_BLANK_NO_NEW_INFO', '4': 'NEW_INFO' };

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

function validDate(ddmmyyyy: string): boolean {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(ddmmyyyy);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1])));
  return d.getUTCDate() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1;
}

/**
 * The DBS Update Service's Multiple Status Check facility, as the public stand-in documents it
 * (specs/regulatory/dbs/README.md): `GET /crsc/api/status/{disclosureRef}` with every parameter required, answering
 * `<statusCheckResult>` XML. A 12-digit reference's first digit picks the status (1 NO_MATCH_FOUND,
 * 2 BLANK_NO_NEW_INFO, 3 NON_BLANK_NO_NEW_INFO, 4 NEW_INFO), 9 is a 500, any other digit a 400.
 */
export async function startDbsSimulator(o: DbsSimulatorOptions = {}): Promise<DbsSimulator> {
  const overrides = new Map<string, DbsStatus>();
  const faults = new FaultInjector();
  const faultRoutes = faultControlRoutes(faults);
  const stats: DbsSimulatorStats = { requests: 0, calls: [] };

  function answer(req: IncomingMessage, res: ServerResponse, status: number, body: string, type = 'application/xml') {
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dbs.invalid');
    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      const h = faultRoutes[url.pathname]?.[req.method ?? ''];
      if (h) return void h(req, res);
      return sendJson(req, res, 404, { error: 'not_found' });
    }
    stats.requests += 1;
    const m = /^\/crsc\/api\/status\/([^/]+)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') return answer(req, res, 404, 'Not Found', 'text/plain');
    const certificateNumber = decodeURIComponent(m[1]!);
    const query = Object.fromEntries(url.searchParams);
    const reply = (status: number, body: string, type?: string) => {
      stats.calls.push({ certificateNumber, query, status });
      answer(req, res, status, body, type);
    };
    const fault = faults.take(url.pathname);
    if (fault?.status) return reply(fault.status, 'Service Unavailable', 'text/plain');
    const missing = REQUIRED.filter((k) => !url.searchParams.get(k));
    if (!/^\d{12}$/.test(certificateNumber) || missing.length || query.hasAgreedTermsAndConditions !== 'true' || !validDate(query.dateOfBirth!)) {
      return reply(400, 'Bad Request', 'text/plain');
    }
    const status = overrides.get(certificateNumber) ?? BY_FIRST_DIGIT[certificateNumber[0]!];
    if (certificateNumber[0] === '9' && !overrides.has(certificateNumber)) return reply(500, 'Internal Server Error', 'text/plain');
    if (!status) return reply(400, 'Bad Request', 'text/plain');
    const printDate = new Date();
    printDate.setUTCFullYear(printDate.getUTCFullYear() - 1);
    reply(
      200,
      [
        '<statusCheckResult>',
        '    <statusCheckResultType>SUCCESS</statusCheckResultType>',
        `    <status>${status}</status>`,
        '    <forename>TAYLOR</forename>',
        `    <surname>${xmlEscape(query.surname!.toUpperCase())}</surname>`,
        `    <printDate class="sql-date">${printDate.toISOString().slice(0, 10)}</printDate>`,
        '</statusCheckResult>',
      ].join('\n'),
    );
  }

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      answer(req, res, 500, 'Internal Server Error', 'text/plain');
    }
  });
  const url = `http://${await listen(server, o.host, o.port)}`;
  return {
    url,
    stats: () => structuredClone(stats),
    setStatus: (n, s) => void overrides.set(n, s),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
