import type { Principal } from './tenancy.ts';

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

/** Both take the organisation first: an integration reaches only its own organisation's systems. */
export interface SystemDirectory {
  /** Whether the organisation has this system (another organisation's system does not exist for it). */
  exists(organisationId: string, systemId: string): Promise<boolean>;
  /** Authenticates against the system with its stored credentials; throws a HubError when it cannot. */
  openSession(organisationId: string, systemId: string): Promise<SystemSession>;
}


/** A resident's stay that lets the caller read their NHS records: at which home, under which pseudonym. */
export interface CareStay {
  residentId: string;
  homeId: string;
}

/**
 * What the care subgraph tells the nhs subgraph (in process, or over signed HTTP): whether a resident is in the care
 * of the caller's homes. NHS records are fetched only for them.
 */
export interface CareDirectory {
  /**
   * A current stay at one of the caller's homes (any home of its organisation when it is not limited to some), or one
   * that ended within the discharge window; null otherwise.
   */
  inCare(p: Principal, nhsNumber: string): Promise<CareStay | null>;
  /** The organisation's pseudonym for a resident it has admitted at some time, or null. */
  residentId(organisationId: string, nhsNumber: string): Promise<string | null>;
}

/** A resident's pseudonym (care.residents.id): `res_` and 16 base32 characters. */
export const RESIDENT_ID = /^res_[a-z2-7]{16}$/;

/** Subject access answers at most this many rows of one kind (events, audit rows, NHS calls) per resident. */
export const SUBJECT_ACCESS_MAX_ROWS = 10_000;

/** Whom subject access and erasure are about: the organisation's pseudonym and the NHS number it stands for. */
export interface ResidentSubject {
  residentId: string;
  nhsNumber: string;
}

/**
 * A subgraph that holds personal data about residents (events, nhs) erases one resident's on the care subgraph's
 * request (in process, or over signed HTTP), as the caller: only the caller's organisation's data. Idempotent: a
 * second call finds nothing left. Returns how many records of each kind it changed.
 */
export interface ResidentEraser {
  name: string;
  erase(p: Principal, subject: ResidentSubject): Promise<Record<string, number>>;
}
