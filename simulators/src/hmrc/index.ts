/**
 * HMRC Making Tax Digital VAT API v1.0 simulator (with HMRC OAuth 2.0 and the Test Fraud Prevention Headers API).
 */
import type { FraudHeadersCode } from './fraud-headers.ts';

export interface HmrcSimulatorOptions {
  port?: number;
  host?: string; // default 0 / 127.0.0.1
  clientId: string;
  clientSecret: string; // the application's credentials
  /** Allowed redirect URIs; default: any http://127.0.0.1 or http://localhost URI. */
  redirectUris?: string[];
  /** VAT registration numbers the simulated user is enrolled for; default ['123456789']. */
  vrns?: string[];
  rateLimitPerSecond?: number; // default 3
  accessTokenTtlSeconds?: number; // default 14400
}

export interface HmrcSimulatorStats {
  requests: number;
  byPath: Record<string, number>;
  tokensIssued: number;
  fraudHeaders: Array<{ path: string; code: FraudHeadersCode; missing: string[] }>;
}

export interface HmrcSimulator {
  url: string; // base URL, e.g. http://127.0.0.1:PORT
  authorizeUrl: string; // `${url}/oauth/authorize`
  tokenUrl: string; // `${url}/oauth/token`
  stats(): HmrcSimulatorStats;
  /** Makes every access token issued so far expired (to test refresh). */
  expireTokens(): void;
  close(): Promise<void>;
}

export { startHmrcSimulator } from './server.ts';
