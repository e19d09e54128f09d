import { HTTP_STATUS, type ErrorCode } from '@hub/runtime';

/**
 * The seed's REST endpoints, each one GraphQL operation run through the gateway's own pipeline (limits,
 * metrics and errors alike). One table: method, path, operation, how the request becomes variables, and the
 * status of a success.
 */
const SYSTEM = `id name type endpoint healthPath status lastConnected capabilities dataFormats configuration createdAt updatedAt
  authentication { kind header tokenUrl scope keyId hasCredentials }
  rateLimits { requests perSeconds scope }
  health { status ok checkedAt latencyMs httpStatus error }`;
const INTEGRATION = `id name description kind status lastSync errorCount successCount configuration createdAt updatedAt
  externalSystem { id name status }
  resource { path pagination pageSize dataField nextCursorField totalField cursorParam limitParam offsetParam idField maxPages }
  syncSchedule { cron timezone enabled nextRunAt }`;
const RUN = `id trigger status queuedAt startedAt finishedAt durationMs pages recordsReceived recordsStored errorCount error`;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  query: string;
  /** Builds variables from path params, query string and JSON body. */
  variables(p: { params: string[]; search: URLSearchParams; body: unknown }): Record<string, unknown>;
  field: string;
  status: number;
  /** For reads of one thing: a null result is a 404. */
  notFound?: string;
  /** A success that still means the upstream failed (a handshake that did not connect). */
  failedWhen?(data: any): boolean;
}

const id = '([^/]+)';
const routes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/api\/integration\/systems$/,
    query: `mutation($input: RegisterExternalSystemInput!) { registerExternalSystem(input: $input) { ${SYSTEM} } }`,
    variables: ({ body }) => ({ input: body }),
    field: 'registerExternalSystem',
    status: 201,
  },
  {
    method: 'GET',
    pattern: /^\/api\/integration\/systems$/,
    query: `query($filter: ExternalSystemFilter) { externalSystems(filter: $filter) { ${SYSTEM} } }`,
    variables: ({ search }) => ({ filter: pickParams(search, ['type', 'status', 'nameContains']) }),
    field: 'externalSystems',
    status: 200,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/integration/systems/${id}$`),
    query: `query($id: ID!) { externalSystem(id: $id) { ${SYSTEM} } }`,
    variables: ({ params }) => ({ id: params[0] }),
    field: 'externalSystem',
    status: 200,
    notFound: 'external system',
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/integration/systems/${id}/connect$`),
    query: `mutation($id: ID!, $credentials: SystemCredentialsInput!) { connectToSystem(systemId: $id, credentials: $credentials) {
      connected status latencyMs httpStatus error checkedAt system { ${SYSTEM} } } }`,
    variables: ({ params, body }) => ({ id: params[0], credentials: body ?? {} }),
    field: 'connectToSystem',
    status: 200,
    failedWhen: (d) => d && d.connected === false,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/integration/systems/${id}/disconnect$`),
    query: `mutation($id: ID!) { disconnectFromSystem(systemId: $id) { ${SYSTEM} } }`,
    variables: ({ params }) => ({ id: params[0] }),
    field: 'disconnectFromSystem',
    status: 200,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/integration/systems/${id}/status$`),
    query: `query($id: ID!) { externalSystem(id: $id) { id name status lastConnected health { status ok checkedAt latencyMs httpStatus error } } }`,
    variables: ({ params }) => ({ id: params[0] }),
    field: 'externalSystem',
    status: 200,
    notFound: 'external system',
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/integrations$/,
    query: `mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { ${INTEGRATION} } }`,
    variables: ({ body }) => ({ input: body }),
    field: 'createIntegration',
    status: 201,
  },
  {
    method: 'GET',
    pattern: /^\/api\/integration\/integrations$/,
    query: `query($filter: IntegrationFilter) { integrations(filter: $filter) { ${INTEGRATION} } }`,
    variables: ({ search }) => ({ filter: pickParams(search, ['externalSystemId', 'status']) }),
    field: 'integrations',
    status: 200,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/integration/integrations/${id}$`),
    query: `query($id: ID!) { integration(id: $id) { ${INTEGRATION} } }`,
    variables: ({ params }) => ({ id: params[0] }),
    field: 'integration',
    status: 200,
    notFound: 'integration',
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/integration/integrations/${id}/sync$`),
    query: `mutation($id: ID!, $config: SyncConfigurationInput) { syncData(integrationId: $id, config: $config) { ${RUN} } }`,
    variables: ({ params, body }) => ({ id: params[0], config: body ?? null }),
    field: 'syncData',
    status: 202,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/integration/integrations/${id}/logs$`),
    query: `query($id: ID!, $first: Int, $runId: ID) { integration(id: $id) {
      id syncRuns(first: 20) { ${RUN} } logs(first: $first, runId: $runId) { id runId at level message data } } }`,
    variables: ({ params, search }) => ({
      id: params[0],
      first: search.has('first') ? Number(search.get('first')) : 100,
      runId: search.get('runId'),
    }),
    field: 'integration',
    status: 200,
    notFound: 'integration',
  },
];

function pickParams(search: URLSearchParams, names: string[]): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = search.get(n);
    if (v != null && v !== '') out[n] = v;
  }
  return Object.keys(out).length ? out : null;
}

export interface RestResult {
  status: number;
  body: unknown;
}

type Execute = (query: string, variables: Record<string, unknown>) => Promise<{ data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;

const errorBody = (code: string, message: string, details?: unknown) => ({ error: { code, message, ...(details ? { details } : {}) } });

/** Answers a REST request, or returns undefined when no route matches the path (the caller 404s). */
export async function handleRest(method: string, pathname: string, search: URLSearchParams, rawBody: string | undefined, run: Execute): Promise<RestResult | undefined> {
  const matching = routes.filter((r) => r.pattern.test(pathname));
  if (!matching.length) return undefined;
  const route = matching.find((r) => r.method === method);
  if (!route) return { status: 405, body: errorBody('METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}; use ${matching.map((r) => r.method).join(', ')}`) };
  let body: unknown = undefined;
  if (route.method === 'POST' && rawBody && rawBody.trim() !== '') {
    try {
      body = JSON.parse(rawBody);
    } catch {
      return { status: 400, body: errorBody('BAD_USER_INPUT', 'the request body is not valid JSON') };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { status: 400, body: errorBody('BAD_USER_INPUT', 'the request body must be a JSON object') };
    }
  }
  const params = route.pattern.exec(pathname)!.slice(1).map(decodeURIComponent);
  const result = await run(route.query, route.variables({ params, search, body }));
  const data = result.data?.[route.field];
  if (result.errors?.length) {
    const first = result.errors[0]!;
    const code = String(first.extensions?.code ?? (result.data == null ? 'BAD_USER_INPUT' : 'INTERNAL'));
    const status = HTTP_STATUS[code as ErrorCode] ?? (code === 'GRAPHQL_VALIDATION_FAILED' || result.data == null ? 400 : 500);
    const { code: _c, ...details } = first.extensions ?? {};
    return { status, body: errorBody(code, first.message, Object.keys(details).length ? details : undefined) };
  }
  if (data == null && route.notFound) return { status: 404, body: errorBody('NOT_FOUND', `${route.notFound} ${params[0]} not found`) };
  if (route.failedWhen?.(data)) return { status: 502, body: data };
  return { status: route.status, body: data };
}
