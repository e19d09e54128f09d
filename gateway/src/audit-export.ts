import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from 'csv-stringify';
import type { YogaServerInstance } from 'graphql-yoga';
import { CLIENT_HEADER, PRINCIPAL_HEADER, SCOPES_HEADER } from './auth.ts';

export const AUDIT_EXPORT_PATH = '/api/integration/audit/export';

const PAGE = `query HubAuditExport($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    entries { seq at client userId action targetType targetId residentId outcome requestId details hash }
    endCursor
  }
}`;
const COLUMNS = ['seq', 'at', 'client', 'userId', 'action', 'targetType', 'targetId', 'residentId', 'outcome', 'requestId', 'details', 'hash'] as const;
const FILTERS = ['action', 'targetType', 'targetId', 'residentId', 'client', 'outcome', 'from', 'to'] as const;

/**
 * The organisation's audit trail as a file for its auditors: `?format=csv` (the default) or `ndjson`, with the
 * auditLog filters as query parameters. Pages through the same GraphQL field the graph serves, through the gateway's
 * own pipeline, so the audit scope and the organisation apply exactly as they do there; the file streams out a page
 * at a time, whatever its length. CSV cells that a spreadsheet would run as a formula are escaped.
 */
export async function exportAudit(req: IncomingMessage, res: ServerResponse, search: URLSearchParams, yoga: YogaServerInstance<any, any>): Promise<void> {
  const format = search.get('format') ?? 'csv';
  const send = (status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };
  if (format !== 'csv' && format !== 'ndjson') return send(400, 'BAD_USER_INPUT', 'format must be csv or ndjson');
  const filter = Object.fromEntries(FILTERS.filter((f) => search.has(f)).map((f) => [f, search.get(f)]));
  const headers = {
    'content-type': 'application/json',
    'x-request-id': String(req.headers['x-request-id'] ?? ''),
    ...(req.headers[CLIENT_HEADER] ? { [CLIENT_HEADER]: String(req.headers[CLIENT_HEADER]) } : {}),
    ...(req.headers[SCOPES_HEADER] !== undefined ? { [SCOPES_HEADER]: String(req.headers[SCOPES_HEADER]) } : {}),
    ...(req.headers[PRINCIPAL_HEADER] !== undefined ? { [PRINCIPAL_HEADER]: String(req.headers[PRINCIPAL_HEADER]) } : {}),
  };
  const page = async (after: string | null) => {
    const r = await yoga.fetch('http://hub/graphql', { method: 'POST', headers, body: JSON.stringify({ query: PAGE, variables: { filter, first: 1000, after } }) });
    return (await r.json()) as { data?: { auditLog: { entries: Array<Record<string, unknown>>; endCursor: string | null } }; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  };
  let body = await page(null);
  if (body.errors?.length || !body.data) {
    const e = body.errors?.[0];
    const code = e?.extensions?.code ?? 'INTERNAL';
    return send(code === 'FORBIDDEN' ? 403 : code === 'UNAUTHENTICATED' ? 401 : code === 'BAD_USER_INPUT' ? 400 : 500, code, e?.message ?? 'the audit trail could not be read');
  }
  const date = new Date().toISOString().slice(0, 10);
  res.writeHead(200, {
    'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
    'content-disposition': `attachment; filename="audit-${date}.${format}"`,
    'cache-control': 'no-store',
  });
  const csv = format === 'csv' ? stringify({ header: true, columns: [...COLUMNS], escape_formulas: true, cast: { object: (v) => JSON.stringify(v) } }) : undefined;
  csv?.pipe(res);
  for (;;) {
    for (const e of body.data!.auditLog.entries) {
      if (csv) {
        if (!csv.write(e)) await new Promise((r) => csv.once('drain', r));
      } else if (!res.write(`${JSON.stringify(e)}\n`)) await new Promise((r) => res.once('drain', r));
    }
    const next = body.data!.auditLog.endCursor;
    if (!next) break;
    body = await page(next);
    // A page that fails halfway: the file ends there, and says so, rather than looking complete.
    if (body.errors?.length || !body.data) {
      if (csv) csv.end();
      else res.end(`${JSON.stringify({ error: { code: 'INCOMPLETE', message: 'the export stopped before the end of the trail' } })}\n`);
      return;
    }
  }
  if (csv) csv.end();
  else res.end();
}
