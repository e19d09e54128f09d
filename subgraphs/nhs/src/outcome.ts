import { HubError, conflict, forbidden, upstreamError, upstreamUnavailable, badInput, type OutboundResponse } from '@hub/runtime';

interface OperationOutcome {
  resourceType?: string;
  issue?: Array<{ code?: string; severity?: string; diagnostics?: string; details?: { coding?: Array<{ code?: string; display?: string }> } }>;
}

/** The spine's error code and text from an OperationOutcome body, if it is one. */
export function spineIssue(res: OutboundResponse): { spineCode?: string; display?: string; diagnostics?: string } {
  try {
    const body = JSON.parse(res.body) as OperationOutcome;
    const issue = body.resourceType === 'OperationOutcome' ? body.issue?.[0] : undefined;
    const coding = issue?.details?.coding?.[0];
    return { spineCode: coding?.code, display: coding?.display, diagnostics: issue?.diagnostics?.slice(0, 300) };
  } catch {
    return {};
  }
}

/** Maps an NHS API's error answer to the graph's error codes, keeping the spine's code for the client. */
export function spineError(system: string, res: OutboundResponse, what: { resource?: string; nhsNumber?: string } = {}): HubError {
  const { spineCode, display, diagnostics } = spineIssue(res);
  const text = [display, diagnostics].filter(Boolean).join(': ') || `HTTP ${res.status}`;
  const details = { system, status: res.status, ...(spineCode ? { spineCode } : {}) };
  switch (true) {
    case res.status === 404:
      return new HubError('NOT_FOUND', `${what.resource ?? 'resource'}${what.nhsNumber ? ` ${what.nhsNumber}` : ''} not found`, { ...details, what: what.resource, id: what.nhsNumber });
    case res.status === 409:
      return conflict(`${system}: ${text}`, details);
    case res.status === 403 || res.status === 401:
      return forbidden(`${system} refused access: ${text}`, details);
    case res.status === 429 || res.status >= 500:
      return upstreamUnavailable(system, `answered HTTP ${res.status}${spineCode ? ` (${spineCode})` : ''}`, details);
    case res.status >= 400:
      return badInput(`${system} rejected the request: ${text}`, details);
    default:
      return upstreamError(system, `unexpected HTTP ${res.status}`, details);
  }
}
