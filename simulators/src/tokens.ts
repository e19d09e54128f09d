import { randomBytes } from 'node:crypto';

interface IssuedToken {
  clientId: string;
  scope?: string;
  expiresAt: number; // epoch ms
}

/**
 * Opaque bearer tokens issued by this simulator instance. Opaque (not JWTs) on
 * purpose: the hub must treat access tokens as opaque strings, and a token from
 * another simulator instance must be rejected.
 */
export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();
  issued = 0;

  issue(clientId: string, ttlSeconds: number, scope?: string): string {
    this.purgeExpired();
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { clientId, scope, expiresAt: Date.now() + ttlSeconds * 1000 });
    this.issued += 1;
    return token;
  }

  /** 'valid' | 'expired' | 'unknown', so the 401 can say why. */
  check(token: string): 'valid' | 'expired' | 'unknown' {
    const t = this.tokens.get(token);
    if (!t) return 'unknown';
    if (Date.now() >= t.expiresAt) return 'expired';
    return 'valid';
  }

  /** The client a currently valid token was issued to, else undefined. */
  clientOf(token: string): string | undefined {
    const t = this.tokens.get(token);
    return t && Date.now() < t.expiresAt ? t.clientId : undefined;
  }

  /** Expires every token issued so far (they then answer 'expired'); new ones can still be issued. */
  expireAll(): void {
    const now = Date.now();
    for (const t of this.tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
  }

  // Expired tokens are kept until the next issue() so a late caller still gets "expired", not "unknown".
  private purgeExpired(): void {
    const now = Date.now();
    for (const [token, t] of this.tokens) if (now - t.expiresAt > 60_000) this.tokens.delete(token);
  }
}
