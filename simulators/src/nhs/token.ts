import type { IncomingMessage, ServerResponse } from 'node:http';
import { AssertionRejected, type AssertionFailure, type ClientAssertionVerifier } from '../client-assertion.ts';
import { sendJson } from '../http.ts';
import { JWT_BEARER_ASSERTION_TYPE, NO_STORE, OAuthError, readForm, single } from '../oauth.ts';
import type { TokenStore } from '../tokens.ts';

/**
 * NHS APIM's /oauth2/token for the application-restricted signed-JWT pattern. Errors use APIM's body
 * {error, error_description, message_id} and its wording for each client_assertion problem.
 */
const NHS_ASSERTION_ERRORS: Record<AssertionFailure, [number, string]> = {
  malformed: [400, 'Malformed JWT in client_assertion'],
  missing_kid: [400, "Missing 'kid' header in client_assertion JWT"],
  unknown_kid: [401, "Invalid 'kid' header in client_assertion JWT - no matching public key"],
  alg: [400, "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'"],
  signature: [401, 'Unable to verify client_assertion JWT signature'],
  issuer: [401, "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT"],
  audience: [401, "Missing or invalid 'aud' claim in client_assertion JWT"],
  expired: [400, "Invalid 'exp' claim in client_assertion JWT - JWT has expired"],
  exp_missing: [400, "Missing 'exp' claim in client_assertion JWT"],
  exp_too_far: [400, "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future"],
  jti_missing: [400, "Missing 'jti' claim in client_assertion JWT"],
  jti_replayed: [400, "Non-unique 'jti' claim in client_assertion JWT"],
  claims: [400, 'Invalid client_assertion JWT'],
};

export interface NhsTokenEndpointOptions {
  apiKey: string;
  verify: ClientAssertionVerifier;
  tokens: TokenStore;
  ttlSeconds: number;
}

export function createNhsTokenEndpoint(o: NhsTokenEndpointOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const form = await readForm(req);
      const grantType = single(form, 'grant_type');
      if (grantType !== 'client_credentials') {
        throw grantType === undefined
          ? new OAuthError(400, 'invalid_request', 'grant_type is missing')
          : new OAuthError(400, 'unsupported_grant_type', 'grant_type is invalid');
      }
      const assertionType = single(form, 'client_assertion_type');
      if (assertionType === undefined) throw new OAuthError(400, 'invalid_request', 'Missing client_assertion_type - must be \'urn:ietf:params:oauth:client-assertion-type:jwt-bearer\'');
      if (assertionType !== JWT_BEARER_ASSERTION_TYPE) {
        throw new OAuthError(400, 'invalid_request', "Invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'");
      }
      const assertion = single(form, 'client_assertion');
      if (assertion === undefined) throw new OAuthError(400, 'invalid_request', 'Missing client_assertion');
      try {
        await o.verify(assertion);
      } catch (err) {
        if (!(err instanceof AssertionRejected)) throw err;
        const [status, description] = NHS_ASSERTION_ERRORS[err.reason];
        throw new OAuthError(status, 'invalid_request', description);
      }
      const issuedAt = Date.now();
      const accessToken = o.tokens.issue(o.apiKey, o.ttlSeconds);
      // NHS APIM sends expires_in and issued_at (epoch ms) as strings.
      sendJson(req, res, 200, { access_token: accessToken, expires_in: String(o.ttlSeconds), token_type: 'Bearer', issued_at: String(issuedAt) }, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(req, res, err.status, { error: err.code, error_description: err.message, message_id: `rrt-sim-${Date.now()}` }, { ...NO_STORE, ...err.headers });
    }
  };
}
