/** Public types of the generic REST simulator (re-exported from index.ts). */

export type SimAuth =
  | { kind: 'NONE' }
  | { kind: 'API_KEY'; header?: string /* default 'X-API-Key' */; key: string }
  | { kind: 'BASIC'; username: string; password: string }
  | { kind: 'OAUTH2_CLIENT_CREDENTIALS'; clientId: string; clientSecret: string; scope?: string }
  | { kind: 'JWT_CLIENT_ASSERTION'; clientId: string; publicKeyPem: string /* RS512 key of the client */; kid?: string }
  | { kind: 'CLIENT_CERTIFICATE' }; // https with requestCert + rejectUnauthorized against the fixture CA

export interface GenericRestSimulatorOptions {
  port?: number; // default 0 (ephemeral)
  host?: string; // default '127.0.0.1'
  auth: SimAuth;
  /** default: 237 generated resident-like records {id, firstName, lastName, roomNumber, admittedOn, updatedAt} */
  records?: Array<Record<string, unknown>>;
  tokenTtlSeconds?: number; // default 300
  /** When set, more than this many requests in one second get 429 + Retry-After. */
  rateLimitPerSecond?: number;
}

export interface GenericRestSimulator {
  url: string; // base URL e.g. http://127.0.0.1:PORT (https for CLIENT_CERTIFICATE)
  tokenUrl: string; // `${url}/oauth2/token`
  stats(): { requests: number; byPath: Record<string, number>; tokensIssued: number };
  setFaults(f: Faults): void; // also settable over HTTP: POST /__faults (JSON body), cleared by DELETE /__faults
  close(): Promise<void>;
}

export interface Faults {
  status?: number;
  count?: number /* how many requests get the fault, default unlimited */;
  latencyMs?: number;
  drop?: boolean /* destroy socket without response */;
  paths?: string[] /* only these path prefixes, default all non-/__ paths */;
}
