import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyResult, type ProtectedHeaderParameters } from 'jose';

/**
 * RFC 7523 §3 client authentication (private_key_jwt): the part shared by every simulator that accepts a signed
 * JWT client assertion. It verifies and classifies; each token endpoint turns the failure reason into its own
 * error body (RFC 6749 for the generic simulator, NHS APIM's wording for the NHS one).
 */

/** Longest assertion lifetime accepted, as NHS-style private_key_jwt rules demand. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

export type AssertionFailure =
  | 'malformed' // not a JWS compact serialisation
  | 'missing_kid'
  | 'unknown_kid' // no public key registered for this kid
  | 'alg' // not RS512
  | 'signature'
  | 'issuer' // iss / sub missing or not the client id
  | 'audience'
  | 'expired'
  | 'exp_missing'
  | 'exp_too_far'
  | 'jti_missing'
  | 'jti_replayed'
  | 'claims'; // any other claim problem (nbf, iat, ...)

export class AssertionRejected extends Error {
  constructor(
    readonly reason: AssertionFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientAssertionVerifierOptions {
  clientId: string;
  /** Exactly the token URL; the assertion's aud must equal it. */
  audience: string;
  /** Public keys (PEM or KeyObject) by kid. The entry '*' serves any kid, or none (clients with one key). */
  keys: Record<string, string | KeyObject>;
  requireKid: boolean;
  maxLifetimeSeconds?: number;
}

export type ClientAssertionVerifier = ((assertion: string) => Promise<JWTVerifyResult>) & {
  /** Forgets every jti seen so far (simulator reset). */
  forget(): void;
};

export function createClientAssertionVerifier(o: ClientAssertionVerifierOptions): ClientAssertionVerifier {
  const keys = new Map<string, KeyObject>();
  for (const [kid, pem] of Object.entries(o.keys)) {
    const key = typeof pem === 'string' ? createPublicKey(pem) : pem;
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`public key "${kid}" must be an RSA public key`);
    keys.set(kid, key);
  }
  const maxLifetime = o.maxLifetimeSeconds ?? MAX_ASSERTION_LIFETIME_SECONDS;
  // jti -> exp (seconds). An entry can be forgotten once exp passes: the assertion would be rejected as expired anyway.
  const seenJti = new Map<string, number>();

  const verify = async (assertion: string): Promise<JWTVerifyResult> => {
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      throw new AssertionRejected('malformed', 'invalid client_assertion: malformed JWT');
    }
    const kid = header.kid;
    if (kid === undefined && o.requireKid) throw new AssertionRejected('missing_kid', 'assertion kid header is required');
    const key = (kid !== undefined ? keys.get(kid) : undefined) ?? keys.get('*');
    if (!key) {
      const known = [...keys.keys()].filter((k) => k !== '*');
      const expected = known.length === 1 ? `"${known[0]}"` : `one of ${known.map((k) => `"${k}"`).join(', ')}`;
      throw new AssertionRejected('unknown_kid', `assertion kid must be ${expected}`);
    }

    let verified: JWTVerifyResult;
    try {
      verified = await jwtVerify(assertion, key, {
        algorithms: ['RS512'],
        issuer: o.clientId,
        subject: o.clientId,
        audience: o.audience,
        requiredClaims: ['jti', 'exp'],
      });
    } catch (err) {
      throw classify(err);
    }

    const now = Math.floor(Date.now() / 1000);
    const exp = verified.payload.exp!;
    if (exp - now > maxLifetime) {
      throw new AssertionRejected('exp_too_far', `assertion exp must be at most ${maxLifetime}s in the future`);
    }
    const jti = verified.payload.jti;
    if (typeof jti !== 'string' || jti === '') throw new AssertionRejected('jti_missing', 'assertion jti must be a non-empty string');
    for (const [seen, seenExp] of seenJti) if (seenExp < now) seenJti.delete(seen);
    // Checked and recorded with no await in between, so concurrent replays cannot both pass.
    if (seenJti.has(jti)) throw new AssertionRejected('jti_replayed', 'assertion jti has already been used');
    seenJti.set(jti, exp);
    return verified;
  };
  return Object.assign(verify, { forget: () => seenJti.clear() });
}

function classify(err: unknown): AssertionRejected {
  const prefix = 'invalid client_assertion: ';
  // JWTExpired extends JWTClaimValidationFailed, so it must be tested first.
  if (err instanceof joseErrors.JWTExpired) return new AssertionRejected('expired', `${prefix}assertion has expired`);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const message = `${prefix}${err.claim}: ${err.message}`;
    if (err.claim === 'iss' || err.claim === 'sub') return new AssertionRejected('issuer', message);
    if (err.claim === 'aud') return new AssertionRejected('audience', message);
    if (err.claim === 'jti') return new AssertionRejected('jti_missing', message);
    if (err.claim === 'exp') return new AssertionRejected('exp_missing', message);
    return new AssertionRejected('claims', message);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new AssertionRejected('alg', `${prefix}alg must be RS512`);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new AssertionRejected('signature', `${prefix}signature verification failed`);
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
    return new AssertionRejected('malformed', `${prefix}${err.message}`);
  }
  return new AssertionRejected('claims', `${prefix}${err instanceof Error ? err.message : String(err)}`);
}
