/**
 * What one bounded context offers another inside the hub, without either reading the other's tables.
 * The systems subgraph implements SystemDirectory; the integrations subgraph uses it to reach a system
 * with that system's own authentication when it syncs.
 */
export interface SystemSession {
  systemId: string;
  name: string;
  baseUrl: string;
  headers: Record<string, string>;
  tls?: { cert: string; key: string; ca?: string };
}

export interface SystemDirectory {
  exists(systemId: string): Promise<boolean>;
  /** Authenticates against the system with its stored credentials; throws a HubError when it cannot. */
  openSession(systemId: string): Promise<SystemSession>;
}

