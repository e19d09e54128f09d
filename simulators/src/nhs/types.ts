import type { Faults } from '../types.ts';

/** Public types of the NHS simulator (re-exported from index.ts). */

export interface NhsSimulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 0 (ephemeral)
  /** The application's API key: iss = sub of the client assertion. */
  apiKey: string;
  /** RS512 public keys (PEM) by kid, as registered in the NHS developer portal. */
  publicKeys: Record<string, string>;
  tokenTtlSeconds?: number; // default 599, as NHS APIM
  /** Per application (API key), across PDS, SCR and EPS routes. Default 5, the PDS default. */
  rateLimitPerSecond?: number;
  /** Extra deterministic patients (see syntheticNhsNumbers). Default 0. */
  syntheticPatients?: number;
  /** MESH mailbox id -> password. Default: nhsFixtureMesh.mailboxes. */
  meshMailboxes?: Record<string, string>;
  /** MESH environment shared secret. Default: nhsFixtureMesh.sharedKey ('TestKey', as NHSDigital/mesh-sandbox). */
  meshSharedKey?: string;
}

export interface NhsSimulatorStats {
  requests: number;
  byPath: Record<string, number>;
  tokensIssued: number;
  rateLimited: number;
}

export interface NhsSimulator {
  url: string; // origin, e.g. http://127.0.0.1:PORT
  tokenUrl: string; // `${url}/oauth2/token`
  pdsBaseUrl: string; // `${url}/personal-demographics/FHIR/R4`
  scrBaseUrl: string; // `${url}/summary-care-record/FHIR/R4`
  epsBaseUrl: string; // `${url}/prescriptions-for-patients/FHIR/R4`
  meshBaseUrl: string; // `${url}/messageexchange`
  stats(): NhsSimulatorStats;
  setFaults(f: Faults): void;
  clearFaults(): void;
  /** Expires every access token issued so far: the next API call with one gets 401. */
  expireTokens(): void;
  /** Plays the recipient: acknowledges every message waiting in the mailbox's inbox; returns how many. */
  acknowledgeAll(mailbox: string): number;
  /** Restores patients and MESH to their initial state (faults, tokens and stats are kept). */
  reset(): void;
  close(): Promise<void>;
}
