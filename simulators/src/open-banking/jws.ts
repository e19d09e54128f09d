import { compactVerify, importSPKI, type CryptoKey } from 'jose';

/**
 * Verification of the OBIE `x-jws-signature` request header (Read/Write API v3.1.4+ profile): a detached compact JWS
 * (`<protected>..<signature>`) over the exact request body bytes, alg PS256, with the OB claims in the protected header
 * and listed in `crit`. `b64` must be absent (it was dropped in v3.1.4, so the payload is base64url-encoded as usual).
 */

export const OB_IAT = 'http://openbanking.org.uk/iat';
export const OB_ISS = 'http://openbanking.org.uk/iss';
export const OB_TAN = 'http://openbanking.org.uk/tan';
export const OB_CRIT = [OB_IAT, OB_ISS, OB_TAN] as const;
export const OB_TRUST_ANCHOR = 'openbanking.org.uk';
/** How far in the future `iat` may be (clock skew). */
const IAT_SKEW_SECONDS = 5 * 60;

export type SignatureErrorCode =
  | 'UK.OBIE.Signature.Missing'
  | 'UK.OBIE.Signature.Malformed'
  | 'UK.OBIE.Signature.MissingClaim'
  | 'UK.OBIE.Signature.InvalidClaim'
  | 'UK.OBIE.Signature.Invalid';

export class SignatureRejected extends Error {
  constructor(
    readonly errorCode: SignatureErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class JwsVerifier {
  private constructor(
    private readonly keys: Map<string, CryptoKey>,
    private readonly issuer: string,
  ) {}

  /** kid -> SPKI PEM (RSA); imported once, up front, so a bad key fails at start-up rather than per request. */
  static async create(signingKeys: Record<string, string>, issuer: string): Promise<JwsVerifier> {
    const keys = new Map<string, CryptoKey>();
    for (const [kid, pem] of Object.entries(signingKeys)) {
      try {
        keys.set(kid, await importSPKI(pem, 'PS256'));
      } catch (err) {
        throw new Error(`signingKeys[${kid}] is not an RSA SPKI PEM public key: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (keys.size === 0) throw new Error('signingKeys must hold at least one kid -> SPKI PEM entry');
    return new JwsVerifier(keys, issuer);
  }

  /** Throws SignatureRejected unless `header` is a valid detached OB JWS over `body`. */
  async verify(header: string | undefined, body: Uint8Array): Promise<void> {
    if (header === undefined || header.trim() === '') throw new SignatureRejected('UK.OBIE.Signature.Missing', 'x-jws-signature header is required');
    const parts = header.trim().split('.');
    if (parts.length !== 3) throw new SignatureRejected('UK.OBIE.Signature.Malformed', 'x-jws-signature must be a compact JWS');
    const [protectedB64, payload, signature] = parts as [string, string, string];
    if (payload !== '') throw new SignatureRejected('UK.OBIE.Signature.Malformed', 'x-jws-signature must be detached (empty payload part)');
    if (protectedB64 === '' || signature === '') throw new SignatureRejected('UK.OBIE.Signature.Malformed', 'x-jws-signature has an empty part');
    let h: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(protectedB64, 'base64url').toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      h = parsed as Record<string, unknown>;
    } catch {
      throw new SignatureRejected('UK.OBIE.Signature.Malformed', 'the JWS protected header is not base64url-encoded JSON');
    }
    this.checkHeader(h);

    const key = this.keys.get(h.kid as string);
    if (!key) throw new SignatureRejected('UK.OBIE.Signature.Invalid', `unknown kid "${String(h.kid)}"`);
    try {
      await compactVerify(`${protectedB64}.${Buffer.from(body).toString('base64url')}.${signature}`, key, {
        algorithms: ['PS256'],
        crit: { [OB_IAT]: true, [OB_ISS]: true, [OB_TAN]: true },
      });
    } catch {
      throw new SignatureRejected('UK.OBIE.Signature.Invalid', 'the JWS signature does not verify against the request body');
    }
  }

  private checkHeader(h: Record<string, unknown>): void {
    const missing = (claim: string): never => {
      throw new SignatureRejected('UK.OBIE.Signature.MissingClaim', `the JWS protected header lacks ${claim}`);
    };
    const invalid = (message: string): never => {
      throw new SignatureRejected('UK.OBIE.Signature.InvalidClaim', message);
    };
    if (h.alg === undefined) missing('alg');
    if (h.alg !== 'PS256') invalid(`alg must be PS256, not ${String(h.alg)}`);
    if (h.kid === undefined) missing('kid');
    if (typeof h.kid !== 'string' || h.kid === '') invalid('kid must be a non-empty string');
    if (h.typ !== undefined && h.typ !== 'JOSE') invalid('typ must be JOSE when present');
    if (h.cty !== undefined && h.cty !== 'json' && h.cty !== 'application/json') invalid('cty must be json or application/json when present');
    if (h.b64 !== undefined) invalid('b64 must not be present (removed in v3.1.4)');
    if (h[OB_IAT] === undefined) missing(OB_IAT);
    const iat = h[OB_IAT];
    if (typeof iat !== 'number' || !Number.isFinite(iat)) invalid(`${OB_IAT} must be a JSON number`);
    if ((iat as number) > Date.now() / 1000 + IAT_SKEW_SECONDS) invalid(`${OB_IAT} is in the future`);
    if (h[OB_ISS] === undefined) missing(OB_ISS);
    if (h[OB_ISS] !== this.issuer) invalid(`${OB_ISS} must be "${this.issuer}"`);
    if (h[OB_TAN] === undefined) missing(OB_TAN);
    if (h[OB_TAN] !== OB_TRUST_ANCHOR) invalid(`${OB_TAN} must be "${OB_TRUST_ANCHOR}"`);
    if (h.crit === undefined) missing('crit');
    const crit = h.crit;
    if (!Array.isArray(crit) || crit.length !== OB_CRIT.length || !OB_CRIT.every((c) => crit.includes(c))) {
      invalid(`crit must list exactly ${OB_CRIT.join(', ')}`);
    }
  }
}
