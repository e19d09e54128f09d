import { badInput, HTTP_STATUS, isHubError, scalarResolvers, type ErrorCode } from '@hub/runtime';

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
const API = `id name version description basePath upstreamUrl rateLimit { requests perSeconds } status timeoutMs createdAt updatedAt`;
const API_STATS = `requests errors rateLimited errorRate averageLatencyMs p50LatencyMs p95LatencyMs p99LatencyMs maxLatencyMs byOutcome { outcome count }`;
/** An IntegrationEvent as REST and the SSE stream (sse.ts, `toEventJson`) both show it. */
const EVENT = `id sequence type source destination payload timestamp correlationId causationId metadata status publisher`;
/** A subject-access bundle: everything the hub holds about one resident, from every subgraph (see SubjectAccess). */
const SUBJECT_ACCESS = `residentId nhsNumber organisationId since generatedAt
  stays { id home { id name } admittedOn dischargedOn admittedBy dischargedBy createdAt updatedAt }
  events(first: 10000) { events { ${EVENT} residentId homeId } endCursor }
  auditEntries(first: 10000) { entries { seq at client userId action targetType targetId residentId outcome requestId details hash } endCursor }
  dischargeSummaries { id recipientMailbox workflowId status meshMessageId document attempts lastError createdAt sentAt acknowledgedAt }
  nhsCalls { id at actor requestId api operation purpose outcome httpStatus latencyMs upstreamRequestId }`;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** The body a POST takes: a JSON object (the default), or events (one object, a JSON array, or NDJSON lines). */
  body?: 'object' | 'events';
  /** Routes that share method and path: the first whose `when` accepts the parsed body answers. */
  when?(body: unknown): boolean;
  query: string;
  /** Builds variables from path params, query string and JSON body; may throw a HubError (bad parameters). */
  variables(p: { params: string[]; search: URLSearchParams; body: unknown }): Record<string, unknown>;
  field: string;
  status: number | ((data: any) => number);
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
  {
    method: 'GET',
    pattern: /^\/api\/integration\/apis$/,
    query: `query { apis { ${API} } }`,
    variables: () => ({}),
    field: 'apis',
    status: 200,
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/apis$/,
    query: `mutation($input: RegisterApiInput!) { registerAPI(input: $input) { ${API} } }`,
    variables: ({ body }) => ({ input: body }),
    field: 'registerAPI',
    status: 201,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/integration/apis/${id}/route$`),
    query: `mutation($id: ID!, $request: ApiRequestInput!) { routeRequest(apiId: $id, request: $request) {
      status headers body bodyText durationMs deprecated rateLimit { clientId limit remaining retryAfterSeconds resetAt } } }`,
    variables: ({ params, body }) => ({ id: params[0], request: body }),
    field: 'routeRequest',
    // The upstream's status is in the body: this endpoint answered.
    status: 200,
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/integration/apis/${id}/metrics$`),
    query: `query($id: ID!, $timeRange: TimeRangeInput) { apiMetrics(apiId: $id, timeRange: $timeRange) {
      api { id name version } from to ${API_STATS} series { minute ${API_STATS} } } }`,
    variables: ({ params, search }) => {
      const { from, to } = parseEventFilter(search);
      return { id: params[0], timeRange: from || to ? { from: from?.toISOString(), to: to?.toISOString() } : null };
    },
    field: 'apiMetrics',
    status: 200,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/integration/apis/${id}/ratelimit$`),
    query: `mutation($id: ID!, $limit: ApiRateLimitInput) { configureRateLimit(apiId: $id, limit: $limit) { ${API} } }`,
    // The limit itself ({ requests, perSeconds }), or { "limit": null } to remove it.
    variables: ({ params, body }) => ({ id: params[0], limit: body && typeof body === 'object' && 'limit' in body ? (body as { limit: unknown }).limit : body }),
    field: 'configureRateLimit',
    status: 200,
  },
  {
    // Where HMRC sends the operator back after they signed in and granted the hub access (HMRC_REDIRECT_URI).
    method: 'GET',
    pattern: /^\/api\/integration\/hmrc\/oauth\/callback$/,
    query: `mutation($code: String!, $state: String!) { completeHmrcAuthorisation(code: $code, state: $state) {
      environment simulated authorised scopes accessTokenExpiresAt grantedAt grantedBy } }`,
    variables: ({ search }) => {
      const error = search.get('error');
      if (error) throw badInput(`HMRC did not grant access: ${error}${search.get('error_description') ? ` (${search.get('error_description')})` : ''}`, { field: 'error' });
      const code = search.get('code');
      const state = search.get('state');
      if (!code || !state) throw badInput('code and state are required', { field: code ? 'state' : 'code' });
      return { code, state };
    },
    field: 'completeHmrcAuthorisation',
    status: 200,
  },
  {
    // Where the bank sends the payer back after they approved (or declined) a payment (OPEN_BANKING_REDIRECT_URI).
    method: 'GET',
    pattern: /^\/api\/integration\/banking\/oauth\/callback$/,
    query: `mutation($state: String!, $code: String, $error: String) { completePaymentAuthorisation(state: $state, code: $code, error: $error) {
      id reference amount { amount currency } creditorName status consentId bankPaymentId error createdBy createdAt updatedAt } }`,
    variables: ({ search }) => {
      const state = search.get('state');
      if (!state) throw badInput('state is required', { field: 'state' });
      return { state, code: search.get('code'), error: search.get('error') };
    },
    field: 'completePaymentAuthorisation',
    status: 200,
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/events\/publish$/,
    body: 'events',
    when: (body) => !Array.isArray(body),
    query: `mutation($input: PublishEventInput!) { publishEvent(input: $input) { duplicate event { ${EVENT} } } }`,
    variables: ({ body }) => ({ input: body }),
    field: 'publishEvent',
    // A repeated idempotency key appended nothing: 200 with the event published first.
    status: (d) => (d.duplicate ? 200 : 201),
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/events\/publish$/,
    body: 'events',
    when: (body) => Array.isArray(body),
    query: `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { duplicate event { ${EVENT} } } }`,
    variables: ({ body }) => ({ inputs: body }),
    field: 'publishEvents',
    status: 201,
  },
  {
    method: 'GET',
    pattern: /^\/api\/integration\/events\/history$/,
    query: `query($filter: EventFilter, $first: Int, $after: String) { eventHistory(filter: $filter, first: $first, after: $after) {
      events { ${EVENT} } endCursor } }`,
    variables: ({ search }) => {
      const { from, to, ...rest } = parseEventFilter(search);
      const filter = { ...rest, ...(from ? { from: from.toISOString() } : {}), ...(to ? { to: to.toISOString() } : {}) };
      return { filter: Object.keys(filter).length ? filter : null, first: intParam(search, 'first'), after: search.get('after') || undefined };
    },
    field: 'eventHistory',
    status: 200,
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/subject-access$/,
    query: `query($nhsNumber: String, $residentId: ID) { subjectAccess(nhsNumber: $nhsNumber, residentId: $residentId) { ${SUBJECT_ACCESS} } }`,
    variables: ({ body }) => subjectRef(body),
    field: 'subjectAccess',
    status: 200,
  },
  {
    method: 'POST',
    pattern: /^\/api\/integration\/erasures$/,
    query: `mutation($nhsNumber: String, $residentId: ID, $reason: String!) { eraseResident(nhsNumber: $nhsNumber, residentId: $residentId, reason: $reason) {
      residentId erasedAt records { kind count } } }`,
    variables: ({ body }) => ({ ...subjectRef(body), reason: (body as { reason?: unknown } | null | undefined)?.reason ?? null }),
    field: 'eraseResident',
    status: 200,
  },
  // Regulators (the regulatory subgraph): the CQC register, DBS status checks, tracked submissions.
  ...regulatoryRoutes(),
];

/** The regulatory subgraph's endpoints under /api/integration/regulatory (docs/regulatory.md). */
function regulatoryRoutes(): Route[] {
  const LOCATION = `locationId providerId name registrationStatus registrationDate deregistrationDate careHome numberOfBeds localAuthority region postalCode
    regulatedActivities { code name } serviceTypes { name description } specialisms currentRatings { overall { rating reportDate reportLinkId } keyQuestions { name rating reportDate } }
    lastInspectionDate lastReportPublishedOn reports { linkId reportDate reportType reportUri firstVisitDate } followedFor homeId fetchedAt changedAt`;
  const PROFILE = `organisationId organisationName dbsContact { forename surname } cqcProviderId cqcChangesReadTo cqcLastSyncAt cqcLastError cqcEnvironment dbsEnvironment cqcLocations { ${LOCATION} }`;
  const CHECK = `id staffMemberId certificateNumber status printDate httpStatus error requestedBy checkedAt`;
  const STAFF = `id homeId forename surname dateOfBirth dbsCertificateNumber dbsConsentRecordedAt dbsConsentRecordedBy nextDbsCheckAt createdAt latestDbsCheck { ${CHECK} }`;
  const SUBMISSION = `id kind schemaVersion homeId residentId status deadline channel recipient createdBy approvedBy approvedAt sentAt deliveryRef
    acknowledgedAt acknowledgedBy regulatorReference rejectedAt rejectionReason overdueAt attempts lastError createdAt updatedAt`;
  const base = '\\/api\\/integration\\/regulatory';
  const at = (path: string) => new RegExp(`^${base}${path}$`);
  const field = (body: unknown, name: string) => (body && typeof body === 'object' ? ((body as Record<string, unknown>)[name] ?? null) : null);
  return [
    { method: 'GET', pattern: at('\\/profile'), query: `query { regulatoryProfile { ${PROFILE} } }`, variables: () => ({}), field: 'regulatoryProfile', status: 200 },
    { method: 'POST', pattern: at('\\/profile'), query: `mutation($input: RegulatoryProfileInput!) { updateRegulatoryProfile(input: $input) { ${PROFILE} } }`, variables: ({ body }) => ({ input: body }), field: 'updateRegulatoryProfile', status: 200 },
    { method: 'POST', pattern: at('\\/cqc\\/sync'), query: 'mutation { syncCqc { fullRead readFrom readTo changedOnRegister locationsRead ratingChanges registrationChanges requests throttled } }', variables: () => ({}), field: 'syncCqc', status: 200 },
    { method: 'GET', pattern: at(`\\/cqc\\/locations\\/${id}`), query: `query($id: ID!) { cqcLocation(locationId: $id) { ${LOCATION} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'cqcLocation', status: 200, notFound: 'CQC location' },
    { method: 'GET', pattern: at('\\/staff'), query: `query($homeId: ID) { staffMembers(homeId: $homeId) { ${STAFF} } }`, variables: ({ search }) => ({ homeId: search.get('homeId') || null }), field: 'staffMembers', status: 200 },
    { method: 'POST', pattern: at('\\/staff'), query: `mutation($input: AddStaffMemberInput!) { addStaffMember(input: $input) { ${STAFF} } }`, variables: ({ body }) => ({ input: body }), field: 'addStaffMember', status: 201 },
    { method: 'GET', pattern: at(`\\/staff\\/${id}`), query: `query($id: ID!) { staffMember(id: $id) { ${STAFF} dbsChecks(first: 100) { ${CHECK} } } }`, variables: ({ params }) => ({ id: params[0] }), field: 'staffMember', status: 200, notFound: 'staff member' },
    { method: 'POST', pattern: at(`\\/staff\\/${id}\\/consent`), query: `mutation($id: ID!) { recordDbsConsent(staffMemberId: $id) { ${STAFF} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'recordDbsConsent', status: 200 },
    { method: 'POST', pattern: at(`\\/staff\\/${id}\\/consent\\/withdraw`), query: `mutation($id: ID!) { withdrawDbsConsent(staffMemberId: $id) { ${STAFF} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'withdrawDbsConsent', status: 200 },
    { method: 'POST', pattern: at(`\\/staff\\/${id}\\/dbs-checks`), query: `mutation($id: ID!) { checkDbsStatus(staffMemberId: $id) { ${CHECK} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'checkDbsStatus', status: 201 },
    { method: 'GET', pattern: at('\\/submissions'), query: `query($status: SubmissionStatus, $first: Int) { submissions(status: $status, first: $first) { ${SUBMISSION} } }`, variables: ({ search }) => ({ status: search.get('status') || null, first: intParam(search, 'first') }), field: 'submissions', status: 200 },
    { method: 'POST', pattern: at('\\/submissions'), query: `mutation($input: CreateSubmissionInput!) { createSubmission(input: $input) { ${SUBMISSION} payload } }`, variables: ({ body }) => ({ input: body }), field: 'createSubmission', status: 201 },
    { method: 'GET', pattern: at(`\\/submissions\\/${id}`), query: `query($id: ID!) { submission(id: $id) { ${SUBMISSION} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'submission', status: 200, notFound: 'submission' },
    { method: 'POST', pattern: at(`\\/submissions\\/${id}\\/approve`), query: `mutation($id: ID!) { approveSubmission(id: $id) { ${SUBMISSION} } }`, variables: ({ params }) => ({ id: params[0] }), field: 'approveSubmission', status: 200 },
    {
      method: 'POST',
      pattern: at(`\\/submissions\\/${id}\\/acknowledge`),
      query: `mutation($id: ID!, $ref: String!) { acknowledgeSubmission(id: $id, regulatorReference: $ref) { ${SUBMISSION} } }`,
      variables: ({ params, body }) => ({ id: params[0], ref: field(body, 'regulatorReference') }),
      field: 'acknowledgeSubmission',
      status: 200,
    },
    {
      method: 'POST',
      pattern: at(`\\/submissions\\/${id}\\/reject`),
      query: `mutation($id: ID!, $reason: String!) { rejectSubmission(id: $id, reason: $reason) { ${SUBMISSION} } }`,
      variables: ({ params, body }) => ({ id: params[0], reason: field(body, 'reason') }),
      field: 'rejectSubmission',
      status: 200,
    },
  ];
}

/** A resident named in a JSON body, by NHS number or pseudonym (never in the URL, where it would reach access logs). */
function subjectRef(body: unknown): { nhsNumber?: unknown; residentId?: unknown } {
  const b = (body ?? {}) as Record<string, unknown>;
  return { nhsNumber: b.nhsNumber ?? null, residentId: b.residentId ?? null };
}

/** Every endpoint's method and path pattern (its id segments `([^/]+)`), for tests that walk them all. */
export const restRoutes = (): ReadonlyArray<{ method: string; pattern: RegExp }> => routes.map((r) => ({ method: r.method, pattern: r.pattern }));

/** The filter of the event endpoints (history and the SSE stream) from the query string; `types` is comma-separated. */
export interface EventFilterParams {
  types?: string[];
  source?: string;
  destination?: string;
  correlationId?: string;
  from?: Date;
  to?: Date;
}

export function parseEventFilter(search: URLSearchParams): EventFilterParams {
  const out: EventFilterParams = {};
  const types = search
    .getAll('types')
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length) out.types = types;
  for (const n of ['source', 'destination', 'correlationId'] as const) {
    const v = search.get(n);
    if (v != null && v !== '') out[n] = v;
  }
  for (const n of ['from', 'to'] as const) {
    const v = search.get(n);
    if (v == null || v === '') continue;
    try {
      // The GraphQL DateTime scalar's own parsing, so REST accepts exactly what GraphQL does.
      out[n] = scalarResolvers.DateTime.parseValue(v) as Date;
    } catch {
      throw badInput(`${n} must be an RFC 3339 date-time such as 2024-05-01T09:00:00Z; got ${JSON.stringify(v)}`, { field: n });
    }
  }
  return out;
}

function intParam(search: URLSearchParams, name: string): number | undefined {
  const v = search.get(name);
  if (v == null || v === '') return undefined;
  if (!/^-?\d{1,9}$/.test(v)) throw badInput(`${name} must be a whole number; got ${JSON.stringify(v)}`, { field: name });
  return Number(v);
}

/** NDJSON: one JSON object a line, blank lines ignored. A bad line is named (1-based) and nothing is published. */
function parseNdjson(raw: string): unknown[] {
  const out: unknown[] = [];
  const lines = raw.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw badInput(`line ${i + 1} of the NDJSON body is not valid JSON`, { line: i + 1 });
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badInput(`line ${i + 1} of the NDJSON body is not a JSON object`, { line: i + 1 });
    out.push(v);
  }
  return out;
}

const isNdjson = (contentType: string | undefined) => /^application\/(x-)?ndjson\b/i.test(contentType?.trim() ?? '');

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

const fromHubError = (err: unknown): RestResult => {
  if (!isHubError(err)) throw err;
  return { status: err.httpStatus, body: errorBody(err.code, err.message, err.details) };
};

const EVENTS_BODY = 'the request body must be one event (a JSON object), a JSON array of events, or NDJSON (Content-Type: application/x-ndjson)';

/** Answers a REST request, or returns undefined when no route matches the path (the caller 404s). */
export async function handleRest(
  method: string,
  pathname: string,
  search: URLSearchParams,
  rawBody: string | undefined,
  run: Execute,
  contentType?: string,
): Promise<RestResult | undefined> {
  const matching = routes.filter((r) => r.pattern.test(pathname));
  if (!matching.length) return undefined;
  const candidates = matching.filter((r) => r.method === method);
  if (!candidates.length) {
    const allowed = [...new Set(matching.map((r) => r.method))];
    return { status: 405, body: errorBody('METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}; use ${allowed.join(', ')}`) };
  }
  const kind = candidates[0]!.body ?? 'object';
  let body: unknown = undefined;
  if (method === 'POST' && rawBody && rawBody.trim() !== '') {
    if (kind === 'events' && isNdjson(contentType)) {
      try {
        body = parseNdjson(rawBody);
      } catch (err) {
        return fromHubError(err);
      }
    } else {
      try {
        body = JSON.parse(rawBody);
      } catch {
        const hint = kind === 'events' && rawBody.trim().includes('\n') ? '; for one event a line, send Content-Type: application/x-ndjson' : '';
        return { status: 400, body: errorBody('BAD_USER_INPUT', `the request body is not valid JSON${hint}`) };
      }
      const object = typeof body === 'object' && body !== null;
      if (kind === 'events' ? !object : !object || Array.isArray(body)) {
        return { status: 400, body: errorBody('BAD_USER_INPUT', kind === 'events' ? EVENTS_BODY : 'the request body must be a JSON object') };
      }
    }
  }
  if (kind === 'events' && body === undefined) return { status: 400, body: errorBody('BAD_USER_INPUT', EVENTS_BODY) };
  const route = candidates.find((r) => !r.when || r.when(body));
  if (!route) return { status: 400, body: errorBody('BAD_USER_INPUT', 'the request body does not fit this endpoint') };
  let params: string[];
  try {
    params = route.pattern.exec(pathname)!.slice(1).map(decodeURIComponent);
  } catch {
    // A lone `%` or an escape that is not UTF-8 (`%E0%A4%A`, `%FF`): the caller's path is malformed.
    return { status: 400, body: errorBody('BAD_USER_INPUT', `the path ${JSON.stringify(pathname.slice(0, 200))} is not valid percent-encoding`) };
  }
  let variables: Record<string, unknown>;
  try {
    variables = route.variables({ params, search, body });
  } catch (err) {
    return fromHubError(err);
  }
  const result = await run(route.query, variables);
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
  return { status: typeof route.status === 'function' ? route.status(data) : route.status, body: data };
}
