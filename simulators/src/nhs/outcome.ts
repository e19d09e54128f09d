import type { IncomingMessage, ServerResponse } from 'node:http';
import { clone, errorBodies, type JsonObject } from './fixtures.ts';

export const SPINE_ERROR_SYSTEM = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

/**
 * Spine codes the error-responses/ folder has no file for: [FHIR issue code, display, severity].
 * TOO_MANY_MATCHES is answered with HTTP 200 (patient search), the rest with their own status.
 */
const EXTRA_CODES: Record<string, [string, string, string]> = {
  TOO_MANY_REQUESTS: ['throttled', "You have exceeded your application's rate limit", 'error'],
  TOO_MANY_MATCHES: ['multiple-matches', 'Too Many Matches', 'information'],
  SERVICE_UNAVAILABLE: ['timeout', 'Service unavailable', 'error'],
  UNABLE_TO_CALL_SERVICE: ['timeout', 'Unable to call service', 'error'],
  SERVER_ERROR: ['exception', 'Server error', 'error'],
  VALIDATION_ERROR: ['invalid', 'A parameter or value has resulted in a validation error', 'error'],
};

/** What the templates' "#(display)" placeholders become. */
const DISPLAYS: Record<string, string> = {
  ACCESS_DENIED: 'Access Denied - Unauthorised',
  INVALID_METHOD: 'Cannot perform this action',
};

/**
 * The OperationOutcome for a Spine code: the exact error-responses/<CODE>.json body where one exists, with its
 * "#(diagnostics)" placeholder replaced by `diagnostics` (or dropped when none is given).
 */
export function operationOutcome(code: string, diagnostics?: string): JsonObject {
  const template = errorBodies.get(code);
  if (template) {
    const body = clone(template);
    const issue = (body.issue as JsonObject[])[0]!;
    const coding = ((issue.details as JsonObject).coding as JsonObject[])[0]!;
    if (coding.display === '#(display)') coding.display = DISPLAYS[code] ?? code;
    if (diagnostics !== undefined) issue.diagnostics = diagnostics;
    else if (issue.diagnostics === '#(diagnostics)') delete issue.diagnostics;
    return body;
  }
  const [issueCode, display, severity] = EXTRA_CODES[code] ?? ['processing', code, 'error'];
  const issue: JsonObject = {
    severity,
    code: issueCode,
    details: { coding: [{ system: SPINE_ERROR_SYSTEM, version: '1', code, display }] },
  };
  if (diagnostics !== undefined) issue.diagnostics = diagnostics;
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

/** An error answered with an OperationOutcome (thrown by handlers, caught by the server). */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly diagnostics?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${code}${diagnostics ? `: ${diagnostics}` : ''}`);
  }
}

export function sendFhir(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/fhir+json');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(payload);
}

export function sendFhirError(res: ServerResponse, err: FhirError): void {
  sendFhir(res, err.status, operationOutcome(err.code, err.diagnostics), err.headers);
}

/** X-Request-ID (mandatory UUID) and X-Correlation-ID are mirrored on every response, errors included. */
export function mirrorTraceHeaders(req: IncomingMessage, res: ServerResponse): void {
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string') res.setHeader('X-Request-ID', requestId);
  const correlationId = req.headers['x-correlation-id'];
  if (typeof correlationId === 'string') res.setHeader('X-Correlation-ID', correlationId);
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function requireRequestId(req: IncomingMessage): void {
  const value = req.headers['x-request-id'];
  if (value === undefined || value === '') {
    throw new FhirError(400, 'MISSING_VALUE', 'Invalid request with error - X-Request-ID header must be supplied to access this resource');
  }
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new FhirError(400, 'INVALID_VALUE', `Invalid value - '${String(value)}' in header 'X-Request-ID'`);
  }
}

/** FHIR instants as PDS writes them: 2019-12-25T12:00:00+00:00. */
export function fhirNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
