/**
 * Open Banking (OBIE) Read/Write API v3.1.11 simulator: Payment Initiation (PISP), domestic payments only, with the
 * bank's OAuth 2.0 / FAPI authorisation server (simplified: see oauth.ts).
 */

export interface OpenBankingSimulatorOptions {
  port?: number;
  host?: string; // default 0 / 127.0.0.1
  /** The TPP's registration (client_secret_basic or client_secret_post at the token endpoint). */
  clientId: string;
  clientSecret: string;
  /** kid -> SPKI PEM public key of the TPP's JWS (x-jws-signature) signing keys; RSA, PS256. */
  signingKeys: Record<string, string>;
  /** Expected http://openbanking.org.uk/iss in JWS headers; default: clientId. */
  issuer?: string;
  /** Allowed redirect URIs; default: any http://127.0.0.1 or http://localhost URI. */
  redirectUris?: string[];
  /** AcceptedSettlementInProcess -> AcceptedSettlementCompleted after this; default 1000. */
  settleAfterMs?: number;
  /** The PSU's account balance; default 10000.00 GBP. A payment above what is left is Rejected. */
  balance?: { amount: string; currency: string };
}

export interface OpenBankingSimulatorStats {
  requests: number;
  byPath: Record<string, number>;
  consents: number;
  payments: number;
  signaturesRejected: number;
}

export interface OpenBankingSimulator {
  url: string; // base URL; API under `${url}/open-banking/v3.1/pisp`
  authorizeUrl: string; // `${url}/authorize`
  tokenUrl: string; // `${url}/token`
  stats(): OpenBankingSimulatorStats;
  close(): Promise<void>;
}

export { startOpenBankingSimulator } from './server.ts';
