import { randomBytes, randomUUID } from 'node:crypto';
import { careOutbox } from '@hub/db';
import {
  badInput,
  conflict,
  createOutboxRelay,
  forbidden,
  isUuid,
  isValidNhsNumber,
  mayActForHome,
  notFound,
  RESIDENT_ID,
  TENANT_ID,
  type CareDirectory,
  type EventPublisher,
  type HubRuntime,
  type OutboxEvent,
  type Principal,
  type ResidentEraser,
} from '@hub/runtime';
import { createCareStore, type AdmissionRow, type HomeRow } from './store.ts';

const SOURCE = 'hub.care';

export interface CreateHomeInput {
  id: string;
  name: string;
  cqcLocationId?: string | null;
  odsCode?: string | null;
}

export interface AdmitInput {
  homeId: string;
  nhsNumber: string;
  admittedOn: string;
}

/** CQC location ids as on the register: `1-` and 9 to 11 digits. */
const CQC_LOCATION_ID = /^1-\d{9,11}$/;
/** ODS codes: 3 to 10 upper-case letters and digits. */
const ODS_CODE = /^[A-Z0-9]{3,10}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A resident's pseudonym: `res_` and 16 base32 characters (80 random bits), nothing derived from the NHS number. */
export function newResidentId(): string {
  const bytes = randomBytes(16);
  let s = 'res_';
  for (let i = 0; i < 16; i++) s += BASE32[bytes[i]! & 31];
  return s;
}

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

/** A calendar date written YYYY-MM-DD that exists (no 2026-02-30) and is not after today. */
function pastDate(value: string, field: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw badInput(`${field} must be a date written YYYY-MM-DD`, { field });
  }
  if (value > today()) throw badInput(`${field} must not be in the future`, { field });
  return value;
}

function validNhsNumber(input: string): string {
  const value = input.replace(/[\s-]/g, '');
  if (!isValidNhsNumber(value)) throw badInput(`"${input}" is not a valid NHS number (10 digits with a Modulus 11 check digit)`, { field: 'nhsNumber' });
  return value;
}

/** Who subject access and erasure are about: a resident by NHS number or by the organisation's pseudonym (exactly one). */
export interface SubjectRef {
  nhsNumber?: string | null;
  residentId?: string | null;
}

/** Longest reason an erasure records (in the audit trail, with the request). */
const MAX_REASON = 500;

export function createCareService(rt: HubRuntime, publisher: () => EventPublisher | undefined, erasers: () => ResidentEraser[] = () => []) {
  const store = createCareStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'care' });
  const relay = createOutboxRelay({ name: 'care', db: rt.database.db, table: careOutbox, publisher, log });
  const windowDays = rt.config.careDischargeWindowDays;

  const stayEvent = (type: string, a: AdmissionRow, correlationId?: string): OutboxEvent => ({
    organisationId: a.organisationId,
    homeId: a.homeId,
    residentId: a.residentId,
    type,
    source: SOURCE,
    correlationId: correlationId ?? null,
    // The pseudonym only: the NHS number stays in the care tables.
    payload: { admissionId: a.id, homeId: a.homeId, residentId: a.residentId, admittedOn: a.admittedOn, dischargedOn: a.dischargedOn },
  });

  /** The home, if it is the caller's organisation's (else NOT_FOUND, as for one that does not exist) and among its homes. */
  async function homeFor(p: Principal, homeId: string): Promise<HomeRow> {
    const [h] = await store.homesByIds(p.organisationId, [homeId]);
    if (!h) throw notFound('home', homeId);
    if (!mayActForHome(p, homeId)) throw forbidden(`${p.client} is limited to homes ${p.homeIds!.join(', ')} and may not act for home ${homeId}`, { homeId });
    return h;
  }

  const visible = (p: Principal, a: AdmissionRow | undefined) => (a && mayActForHome(p, a.homeId) ? a : undefined);

  async function inCare(p: Principal, input: string): Promise<{ residentId: string; homeId: string } | null> {
    const stay = await store.stay(p.organisationId, validNhsNumber(input), p.homeIds, daysAgo(windowDays));
    return stay ? { residentId: stay.residentId, homeId: stay.homeId } : null;
  }

  async function createHome(p: Principal, input: CreateHomeInput, requestId?: string): Promise<HomeRow> {
    const id = input.id.trim();
    if (!TENANT_ID.test(id)) throw badInput('id must be 1 to 64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit', { field: 'id' });
    if (!mayActForHome(p, id)) throw forbidden(`${p.client} is limited to homes ${p.homeIds!.join(', ')} and may not create home ${id}`, { homeId: id });
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
    const cqcLocationId = input.cqcLocationId?.trim() || null;
    if (cqcLocationId && !CQC_LOCATION_ID.test(cqcLocationId)) throw badInput('cqcLocationId must be a CQC location id such as 1-123456789', { field: 'cqcLocationId' });
    const odsCode = input.odsCode?.trim().toUpperCase() || null;
    if (odsCode && !ODS_CODE.test(odsCode)) throw badInput('odsCode must be 3 to 10 letters and digits', { field: 'odsCode' });
    const home = await store.insertHome(p.organisationId, { id, name, cqcLocationId, odsCode }, (h) => ({
      organisationId: h.organisationId,
      homeId: h.id,
      type: 'care.home.created',
      source: SOURCE,
      correlationId: requestId ?? null,
      payload: { homeId: h.id, name: h.name, cqcLocationId: h.cqcLocationId, odsCode: h.odsCode, actor: p.client },
    }));
    // Home ids are global (API keys name them), so a taken one is refused whoever holds it.
    if (!home) throw conflict(`the home id "${id}" is taken: choose another`, { field: 'id' });
    relay.kick();
    return home;
  }

  async function admit(p: Principal, input: AdmitInput, requestId?: string): Promise<AdmissionRow> {
    const nhsNumber = validNhsNumber(input.nhsNumber);
    const admittedOn = pastDate(input.admittedOn, 'admittedOn');
    const home = await homeFor(p, input.homeId);
    const r = await store.admit(
      p.organisationId,
      { id: randomUUID(), homeId: home.id, nhsNumber, admittedOn, admittedBy: p.client },
      newResidentId(),
      (a) => stayEvent('care.resident.admitted', a, requestId),
    );
    if ('current' in r) {
      throw conflict(`this resident is staying at ${mayActForHome(p, r.current.homeId) ? `home ${r.current.homeId}` : 'another home of the organisation'} since ${r.current.admittedOn}: discharge them first`, {
        field: 'nhsNumber',
        residentId: r.current.residentId,
      });
    }
    relay.kick();
    return r.admission;
  }

  async function discharge(p: Principal, admissionId: string, dischargedOn: string, requestId?: string): Promise<AdmissionRow> {
    const a = isUuid(admissionId) ? await store.admission(p.organisationId, admissionId) : undefined;
    if (!a) throw notFound('admission', admissionId);
    if (!mayActForHome(p, a.homeId)) throw forbidden(`${p.client} is limited to homes ${p.homeIds!.join(', ')} and may not act for home ${a.homeId}`, { homeId: a.homeId });
    const on = pastDate(dischargedOn, 'dischargedOn');
    if (on < a.admittedOn) throw badInput(`dischargedOn must not be before the admission (${a.admittedOn})`, { field: 'dischargedOn' });
    if (a.dischargedOn) throw conflict(`admission ${a.id} ended on ${a.dischargedOn}`, { id: a.id });
    const row = await store.discharge(p.organisationId, a.id, { dischargedOn: on, dischargedBy: p.client }, (r) => stayEvent('care.resident.discharged', r, requestId));
    if (!row) throw conflict(`admission ${a.id} has just ended`, { id: a.id });
    relay.kick();
    return row;
  }

  /**
   * The demo's home and residents (only when the NHS is simulated): the default organisation gets Oak Lodge, and
   * every patient the simulator knows is admitted to it once. Someone discharged later stays discharged.
   */
  async function seedDemo(p: Principal, nhsNumbers: string[]): Promise<number> {
    const [existing] = await store.homesByIds(p.organisationId, [DEMO_HOME.id]);
    if (!existing) {
      const home = await store.insertHome(p.organisationId, DEMO_HOME, (h) => ({
        organisationId: h.organisationId,
        homeId: h.id,
        type: 'care.home.created',
        source: SOURCE,
        payload: { homeId: h.id, name: h.name, cqcLocationId: h.cqcLocationId, odsCode: h.odsCode, actor: p.client },
      }));
      if (!home) {
        log.warn({ homeId: DEMO_HOME.id }, 'the demo home id belongs to another organisation; no demo residents');
        return 0;
      }
    }
    const known = await store.knownResidents(p.organisationId, nhsNumbers);
    const admittedOn = daysAgo(7);
    let n = 0;
    for (const nhsNumber of nhsNumbers.filter((x) => isValidNhsNumber(x) && !known.has(x))) {
      const r = await store.admit(p.organisationId, { id: randomUUID(), homeId: DEMO_HOME.id, nhsNumber, admittedOn, admittedBy: p.client }, newResidentId(), (a) =>
        stayEvent('care.resident.admitted', a),
      );
      if ('admission' in r) n++;
    }
    relay.kick();
    return n;
  }

  /**
   * The resident a subject-access or erasure request names, for a caller with the audit and health scopes that acts
   * for the whole organisation (a client limited to some homes may not: the bundle spans every home). NOT_FOUND for
   * someone the organisation never admitted (or has erased).
   */
  async function subjectFor(p: Principal, ref: SubjectRef, what: string) {
    for (const scope of ['audit', 'health'] as const) {
      if (!p.scopes.has(scope)) throw forbidden(`${what} needs the audit and health scopes; ${p.client} has ${[...p.scopes].join(', ') || 'none'}`, { scope });
    }
    if (p.homeIds !== null) throw forbidden(`${what} covers every home of the organisation: ${p.client} is limited to homes ${p.homeIds.join(', ')}`);
    if ((ref.nhsNumber == null) === (ref.residentId == null)) throw badInput('name the resident by exactly one of nhsNumber and residentId', { field: 'nhsNumber' });
    if (ref.residentId != null && !RESIDENT_ID.test(ref.residentId)) throw badInput('residentId must be a resident pseudonym (res_ and 16 letters and digits)', { field: 'residentId' });
    const r = await store.resident(p.organisationId, ref.residentId != null ? { residentId: ref.residentId } : { nhsNumber: validNhsNumber(ref.nhsNumber!) });
    if (!r) throw notFound('resident', ref.residentId ?? 'with that NHS number');
    return { residentId: r.id, nhsNumber: r.nhsNumber, since: r.createdAt };
  }

  /** Subject access: the care side of the bundle (the other subgraphs add theirs to SubjectAccess). */
  async function subjectAccess(p: Principal, ref: SubjectRef) {
    const s = await subjectFor(p, ref, 'subject access');
    return { ...s, organisationId: p.organisationId, generatedAt: new Date(), stays: await store.staysOf(p.organisationId, s.residentId) };
  }

  /**
   * Erasure of a resident who has left the organisation's care: every subgraph that holds personal data about them
   * erases it (events keep their rows and sequence, so the log stays gap-free), then the link from pseudonym to NHS
   * number goes. A failure part-way keeps the link, so the same request can be made again; each part is idempotent.
   */
  async function erase(p: Principal, ref: SubjectRef, reason: string, requestId?: string) {
    const why = reason.trim();
    if (why.length < 3 || why.length > MAX_REASON) throw badInput(`reason must be 3 to ${MAX_REASON} characters (the request that asked, e.g. "subject's request of 2026-12-01, ref 4411")`, { field: 'reason' });
    const s = await subjectFor(p, ref, 'erasure');
    const current = (await store.staysOf(p.organisationId, s.residentId)).find((a) => a.dischargedOn === null);
    if (current) throw conflict(`the resident is staying at home ${current.homeId} since ${current.admittedOn}: discharge them before erasing their data`, { residentId: s.residentId });
    const counts: Record<string, number> = {};
    for (const eraser of erasers()) Object.assign(counts, await eraser.erase(p, { residentId: s.residentId, nhsNumber: s.nhsNumber }));
    const forgotten = await store.forget(p.organisationId, s.residentId, {
      organisationId: p.organisationId,
      residentId: s.residentId,
      type: 'care.resident.erased',
      source: SOURCE,
      correlationId: requestId ?? null,
      payload: { residentId: s.residentId, erasedBy: p.client, records: counts },
    });
    if (!forgotten) throw conflict('the resident was admitted again while their data was being erased: discharge them and erase again', { residentId: s.residentId });
    relay.kick();
    const records = { ...counts, stays: forgotten.stays };
    log.info({ residentId: s.residentId, records, client: p.client }, 'resident erased');
    return { residentId: s.residentId, erasedAt: new Date(), records: Object.entries(records).map(([kind, count]) => ({ kind, count })) };
  }

  return {
    organisation: async (org: string) => (await store.organisation(org)) ?? { id: org, name: org },
    homes: (p: Principal) => store.homes(p.organisationId, p.homeIds),
    /** For each id, the caller's home or null (another organisation's is null like one that does not exist). */
    homesByIds: async (p: Principal, ids: readonly string[]) => {
      const rows = await store.homesByIds(p.organisationId, ids.filter((id) => mayActForHome(p, id)));
      return ids.map((id) => rows.find((h) => h.id === id) ?? null);
    },
    residentsInCare: async (p: Principal, homeId: string) => store.admissions(p.organisationId, { homes: p.homeIds, homeId: (await homeFor(p, homeId)).id, current: true, first: 1000 }),
    admissions: (p: Principal, f: { homeId?: string | null; current?: boolean | null }, first: number) => {
      if (!Number.isInteger(first) || first < 1 || first > 1000) throw badInput('first must be between 1 and 1000', { field: 'first' });
      return store.admissions(p.organisationId, { homes: p.homeIds, homeId: f.homeId, current: f.current, first });
    },
    admission: async (p: Principal, id: string) => (isUuid(id) ? (visible(p, await store.admission(p.organisationId, id)) ?? null) : null),
    async careStatus(p: Principal, input: string) {
      const nhsNumber = validNhsNumber(input);
      const stay = await inCare(p, nhsNumber);
      return { inCare: stay !== null, homeId: stay?.homeId ?? null, residentId: stay?.residentId ?? (await store.residentId(p.organisationId, nhsNumber)) ?? null };
    },
    inCare,
    /** The NHS number behind each pseudonym (null for one not the organisation's, or erased); needs health. */
    async nhsNumbersOf(p: Principal, ids: readonly string[]): Promise<Array<string | null>> {
      if (!p.scopes.has('health')) throw forbidden(`an NHS number needs the health scope; ${p.client} has ${[...p.scopes].join(', ') || 'none'}`, { scope: 'health' });
      const found = await store.nhsNumbersOf(p.organisationId, ids);
      return ids.map((id) => found.get(id) ?? null);
    },
    residentId: async (org: string, input: string) => (await store.residentId(org, validNhsNumber(input))) ?? null,
    createHome,
    admit,
    discharge,
    subjectAccess,
    erase,
    seedDemo,
    start: () => relay.start(),
    stop: () => relay.stop(),
  };
}

export type CareService = ReturnType<typeof createCareService>;

/** The demo organisation's one home, for a newcomer's `npm start`. */
export const DEMO_HOME = { id: 'demo-home', name: 'Oak Lodge (demo)', cqcLocationId: '1-101234567', odsCode: 'VLD01' } as const;

/** The care service as the nhs subgraph sees it. */
export const careDirectory = (s: CareService): CareDirectory => ({ inCare: s.inCare, residentId: s.residentId });
