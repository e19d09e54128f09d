import { randomUUID } from 'node:crypto';
import { regulatoryOutbox } from '@hub/db';
import {
  badInput,
  createOutboxRelay,
  deterministicUuid,
  forbidden,
  isHubError,
  isUuid,
  mayActForHome,
  notFound,
  TENANT_ID,
  upstreamUnavailable,
  waitForSlot,
  type EventPublisher,
  type HubRuntime,
  type OutboxEvent,
  type Principal,
  type RegulatorEnvironment,
} from '@hub/runtime';
import { createCqcClient, CQC_LIVE_BASE_URL, type CqcClient } from './cqc-client.ts';
import { changesBetween, summarise, type CqcRecord } from './cqc-location.ts';
import { dbsDate, parseStatusCheck } from './dbs-result.ts';
import { createSubmissions } from './submissions.ts';
import { createRegulatoryStore, type DbsCheckRow, type FollowedFor, type LocationRow, type ProfileRow, type StaffRow } from './store.ts';

const SOURCE = 'hub.regulatory';
const CQC_SYNC_QUEUE = 'regulatory.cqc.sync';
const DBS_SCHEDULE_QUEUE = 'regulatory.dbs.schedule';
/** The DBS Update Service (the Multiple Status Check facility lives under /crsc/api/status). */
export const DBS_LIVE_BASE_URL = 'https://secure.crbonline.gov.uk';
/** CQC provider and location ids as on the register: `1-` and 9 to 11 digits. */
const CQC_ID = /^1-\d{9,11}$/;
const CERTIFICATE = /^\d{12}$/;
/** Longest the hub waits for its share of a regulator's rate limit before answering RATE_LIMITED. */
const MAX_LIMIT_WAIT_MS = 30_000;
/** Staff checked per run of the DBS schedule; the rest wait for the next run. */
const DBS_BATCH = 200;

export interface ProfileInput {
  organisationName?: string | null;
  dbsContact?: { forename: string; surname: string } | null;
  cqcProviderId?: string | null;
  cqcLocationIds?: string[] | null;
}

export interface StaffInput {
  homeId?: string | null;
  forename: string;
  surname: string;
  dateOfBirth: string;
  dbsCertificateNumber?: string | null;
}

export interface CqcSyncReport {
  fullRead: boolean;
  readFrom: Date | null;
  readTo: Date;
  changedOnRegister: number;
  locationsRead: number;
  ratingChanges: number;
  registrationChanges: number;
  requests: number;
  throttled: number;
}

const name = (v: string, field: string, max = 100) => {
  const s = v.trim();
  if (s.length < 1 || s.length > max) throw badInput(`${field} must be 1 to ${max} characters`, { field });
  return s;
};

function pastDate(value: string, field: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) throw badInput(`${field} must be a date written YYYY-MM-DD`, { field });
  if (d.getTime() > Date.now()) throw badInput(`${field} must not be in the future`, { field });
  return value;
}

function cqcId(v: string, field: string): string {
  const s = v.trim();
  if (!CQC_ID.test(s)) throw badInput(`${field} "${v}" is not a CQC id such as 1-101234567`, { field });
  return s;
}

const addDays = (d: Date, days: number) => new Date(d.getTime() + days * 86_400_000);
const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

export function createRegulatoryService(rt: HubRuntime, publisher: () => EventPublisher | undefined) {
  const store = createRegulatoryStore(rt.database.db);
  const log = rt.log.child({ subgraph: 'regulatory' });
  const relay = createOutboxRelay({ name: 'regulatory', db: rt.database.db, table: regulatoryOutbox, publisher, log });
  const { cqc: cqcConfig, dbs: dbsConfig } = rt.config.regulatory;
  const cqcBase = cqcConfig.environment === 'disabled' ? undefined : (cqcConfig.baseUrl ?? (cqcConfig.environment === 'live' ? CQC_LIVE_BASE_URL : undefined));
  const dbsBase = dbsConfig.environment === 'disabled' ? undefined : (dbsConfig.baseUrl ?? (dbsConfig.environment === 'live' ? DBS_LIVE_BASE_URL : undefined));
  let stopped = false;
  const submissions = createSubmissions(rt, store, () => relay.kick());

  /** A CQC client for one piece of work (its counts are that work's). */
  function cqcClient(): CqcClient {
    if (!cqcBase || !cqcConfig.subscriptionKey) {
      throw upstreamUnavailable('cqc', cqcConfig.environment === 'disabled' ? 'CQC is not configured on this hub (CQC_ENVIRONMENT=disabled, or unset in production)' : 'CQC_BASE_URL and CQC_SUBSCRIPTION_KEY are not set', { notConfigured: true });
    }
    return createCqcClient({
      http: rt.http,
      baseUrl: cqcBase,
      subscriptionKey: cqcConfig.subscriptionKey,
      maxRetries: cqcConfig.maxRetries,
      timeoutMs: rt.config.outboundTimeoutMs,
      beforeAttempt: () => waitForSlot(rt.kv, { system: 'cqc', limit: cqcConfig.rateLimitPerSecond, windowMs: 1000, maxWaitMs: MAX_LIMIT_WAIT_MS }),
    });
  }

  const locationEvents = (org: string, record: CqcRecord, homeId: string | null, before: LocationRow | undefined, correlationId?: string): OutboxEvent[] => {
    const changes = changesBetween(before?.data, record);
    const s = summarise(record);
    const base = { organisationId: org, homeId: homeId ?? before?.homeId ?? null, source: SOURCE, correlationId: correlationId ?? null };
    const about = { locationId: s.locationId, providerId: s.providerId, name: s.name };
    const out: OutboxEvent[] = [];
    if (changes.rating) out.push({ ...base, type: 'regulatory.cqc.rating_changed', payload: { ...about, ...changes.rating } });
    if (changes.registration) out.push({ ...base, type: 'regulatory.cqc.registration_changed', payload: { ...about, ...changes.registration } });
    return out;
  };

  /** Keeps CQC's copy of a location; its rating and registration changes become events. */
  async function keepLocation(org: string, record: CqcRecord, followedFor: FollowedFor, homeId: string | null, correlationId?: string) {
    const s = summarise(record);
    const r = await store.saveLocation(org, { ...s, followedFor, homeId, data: record }, (before) => locationEvents(org, record, homeId, before, correlationId));
    if (r.events) relay.kick();
    return r;
  }

  async function readLocation(client: CqcClient, id: string): Promise<CqcRecord | null> {
    const record = await client.location(id);
    if (record && record.locationId !== id) throw upstreamUnavailable('cqc', `CQC answered location ${String(record.locationId)} for ${id}`);
    return record;
  }

  // One sync at a time per organisation in this process: a second waits and then reads what came after.
  const running = new Map<string, Promise<unknown>>();

  /**
   * Brings the organisation's copy of the register up to date. The first time (or after its provider changed) it
   * reads the provider and every location it follows; after that only the change feed since the last read, and only
   * the locations in it that the organisation follows (plus any the provider gained). The feed's end is remembered
   * only once everything in it has been read, so a failed sync is read again next time.
   */
  async function syncCqc(org: string, correlationId?: string): Promise<CqcSyncReport> {
    const previous = running.get(org) ?? Promise.resolve();
    const mine = previous.catch(() => {}).then(() => syncOnce(org, correlationId));
    running.set(org, mine);
    try {
      return await mine;
    } finally {
      if (running.get(org) === mine) running.delete(org);
    }
  }

  async function syncOnce(org: string, correlationId?: string): Promise<CqcSyncReport> {
    const client = cqcClient();
    const profile = await store.profile(org);
    const readFrom = profile?.cqcChangesReadTo ?? null;
    // Whole seconds, as the feed takes them; a change later in this second is in the next window.
    const readTo = wholeSeconds(Date.now());
    const report: CqcSyncReport = { fullRead: readFrom === null, readFrom, readTo, changedOnRegister: 0, locationsRead: 0, ratingChanges: 0, registrationChanges: 0, requests: 0, throttled: 0 };
    try {
      const held = new Map((await store.locations(org)).map((l) => [l.locationId, l]));
      const toRead = new Map<string, { followedFor: FollowedFor; homeId: string | null }>();
      const providerId = profile?.cqcProviderId ?? null;
      let readProvider = readFrom === null;
      if (readFrom === null) {
        for (const l of held.values()) toRead.set(l.locationId, { followedFor: l.followedFor as FollowedFor, homeId: l.homeId });
      } else {
        const changed = await client.changedLocations(readFrom, readTo);
        report.changedOnRegister = changed.length;
        for (const id of changed) {
          const l = held.get(id);
          if (l) toRead.set(id, { followedFor: l.followedFor as FollowedFor, homeId: l.homeId });
        }
        if (providerId) readProvider = (await client.changedProviders(readFrom, readTo)).includes(providerId);
      }
      if (providerId && readProvider) {
        const p = await client.provider(providerId);
        if (!p) throw badInput(`CQC has no provider ${providerId}`, { field: 'cqcProviderId' });
        const locationIds = Array.isArray(p.locationIds) ? p.locationIds.filter((x): x is string => typeof x === 'string') : [];
        await store.saveProvider(org, { providerId, name: (p.name as string) ?? null, registrationStatus: (p.registrationStatus as string) ?? null, locationIds, data: p });
        // A location the provider gained is read in full; one it had is read only when the feed names it.
        for (const id of locationIds) if (!held.has(id) || readFrom === null) toRead.set(id, toRead.get(id) ?? { followedFor: 'PROVIDER', homeId: null });
      }
      for (const [id, why] of toRead) {
        const record = await readLocation(client, id);
        if (!record) continue; // gone from the register's API: the copy held stays as it was last seen
        report.locationsRead += 1;
        const before = held.get(id);
        const changes = changesBetween(before?.data, record);
        await keepLocation(org, record, why.followedFor, why.homeId, correlationId);
        if (changes.rating) report.ratingChanges += 1;
        if (changes.registration) report.registrationChanges += 1;
      }
      await store.cqcSynced(org, { cqcChangesReadTo: readTo, cqcLastError: null });
      return report;
    } catch (err) {
      await store.cqcSynced(org, { cqcLastError: err instanceof Error ? err.message : String(err) }).catch(() => {});
      throw err;
    } finally {
      const c = client.counts();
      report.requests = c.requests;
      report.throttled = c.throttled;
      log.debug({ organisationId: org, ...report }, 'cqc sync');
    }
  }

  async function scheduleCqc(org: string, after = new Date(Date.now() + cqcConfig.syncIntervalSeconds * 1000)): Promise<void> {
    if (stopped || !cqcBase) return;
    // One job per organisation and slot: a second scheduler (another process, a retry) sending it is a no-op.
    const slot = Math.floor(after.getTime() / 1000 / cqcConfig.syncIntervalSeconds);
    await rt.jobs.send(CQC_SYNC_QUEUE, { organisationId: org }, { startAfter: after, id: deterministicUuid(CQC_SYNC_QUEUE, org, String(slot)) });
  }

  /**
   * The home's CQC location: the copy held, or else read from CQC now and followed from then on (the change feed
   * keeps it current). Null for a home without a CQC location id, or one CQC does not know.
   */
  async function homeLocations(p: Principal, homes: ReadonlyArray<{ id: string; cqcLocationId?: string | null }>): Promise<Array<LocationRow | null>> {
    const ids = [...new Set(homes.map((h) => h.cqcLocationId).filter((x): x is string => !!x && CQC_ID.test(x)))];
    const held = new Map((await store.locations(p.organisationId, ids)).map((l) => [l.locationId, l]));
    for (const h of homes) {
      const l = h.cqcLocationId ? held.get(h.cqcLocationId) : undefined;
      if (l && l.homeId === null) {
        await store.setLocationHome(p.organisationId, l.locationId, h.id);
        held.set(l.locationId, { ...l, homeId: h.id });
      }
    }
    const missing = homes.filter((h) => h.cqcLocationId && CQC_ID.test(h.cqcLocationId) && !held.has(h.cqcLocationId));
    if (missing.length) {
      const client = cqcClient();
      for (const h of missing) {
        if (held.has(h.cqcLocationId!)) continue;
        const record = await readLocation(client, h.cqcLocationId!);
        if (record) held.set(h.cqcLocationId!, (await keepLocation(p.organisationId, record, 'HOME', h.id)).row);
      }
      await ensureCqcSchedule(p.organisationId);
    }
    return homes.map((h) => (h.cqcLocationId ? (held.get(h.cqcLocationId) ?? null) : null));
  }

  /** The organisation's first follow starts its change-feed schedule (idempotent per slot). */
  async function ensureCqcSchedule(org: string) {
    const profile = await store.profile(org);
    if (!profile?.cqcChangesReadTo) await store.cqcSynced(org, { cqcChangesReadTo: wholeSeconds(Date.now()), cqcLastError: null });
    await scheduleCqc(org);
  }

  async function updateProfile(p: Principal, input: ProfileInput, requestId?: string): Promise<ProfileRow> {
    if (p.homeIds !== null) throw forbidden(`the regulatory profile is the whole organisation's: ${p.client} is limited to homes ${p.homeIds.join(', ')}`);
    const set: Parameters<typeof store.saveProfile>[1] = {};
    if (input.organisationName !== undefined && input.organisationName !== null) set.name = name(input.organisationName, 'organisationName', 200);
    if (input.dbsContact) {
      set.dbsContactForename = name(input.dbsContact.forename, 'dbsContact.forename');
      set.dbsContactSurname = name(input.dbsContact.surname, 'dbsContact.surname');
    }
    if (input.cqcProviderId !== undefined) set.cqcProviderId = input.cqcProviderId === null ? null : cqcId(input.cqcProviderId, 'cqcProviderId');
    const locationIds = (input.cqcLocationIds ?? []).map((id, i) => cqcId(id, `cqcLocationIds[${i}]`));
    // What CQC does not know is refused before anything is kept (and without CQC configured, all of it).
    const client = set.cqcProviderId || locationIds.length ? cqcClient() : undefined;
    if (client && set.cqcProviderId && !(await client.provider(set.cqcProviderId))) throw badInput(`CQC has no provider ${set.cqcProviderId}`, { field: 'cqcProviderId' });
    const records: CqcRecord[] = [];
    for (const [i, id] of locationIds.entries()) {
      const r = await readLocation(client!, id);
      if (!r) throw badInput(`CQC has no location ${id}`, { field: `cqcLocationIds[${i}]` });
      records.push(r);
    }
    const row = await store.saveProfile(p.organisationId, set);
    for (const r of records) await keepLocation(p.organisationId, r, 'EXPLICIT', null, requestId);
    if (set.cqcProviderId) {
      // A new provider: read it and its locations now, then keep them current on the schedule.
      await syncCqc(p.organisationId, requestId).catch((err) => log.warn({ err, organisationId: p.organisationId }, 'first CQC read failed; the schedule will try again'));
      await scheduleCqc(p.organisationId);
    } else if (records.length) {
      await ensureCqcSchedule(p.organisationId);
    }
    return (await store.profile(p.organisationId)) ?? row;
  }

  // ---- DBS Update Service ----

  const staffEvent = (type: string, s: StaffRow, payload: Record<string, unknown>, correlationId?: string): OutboxEvent => ({
    organisationId: s.organisationId,
    homeId: s.homeId,
    type,
    source: SOURCE,
    correlationId: correlationId ?? null,
    // The staff member by id: names, dates of birth and certificate numbers stay in the regulatory tables.
    payload: { staffMemberId: s.id, homeId: s.homeId, ...payload },
  });

  function visible(p: Principal, s: StaffRow | undefined): StaffRow | undefined {
    return s && (s.homeId === null ? p.homeIds === null : mayActForHome(p, s.homeId)) ? s : undefined;
  }

  async function staffFor(p: Principal, id: string): Promise<StaffRow> {
    const s = isUuid(id) ? visible(p, await store.staff(p.organisationId, id)) : undefined;
    if (!s) throw notFound('staff member', id);
    return s;
  }

  async function addStaff(p: Principal, input: StaffInput, requestId?: string): Promise<StaffRow> {
    const homeId = input.homeId?.trim() || null;
    if (homeId && !TENANT_ID.test(homeId)) throw badInput('homeId is not a home id', { field: 'homeId' });
    if (homeId ? !mayActForHome(p, homeId) : p.homeIds !== null) throw forbidden(`${p.client} is limited to homes ${p.homeIds!.join(', ')}`, { homeId });
    const cert = input.dbsCertificateNumber?.replace(/\s/g, '') || null;
    if (cert && !CERTIFICATE.test(cert)) throw badInput('dbsCertificateNumber must be the 12 digits of a DBS certificate', { field: 'dbsCertificateNumber' });
    const row = {
      id: randomUUID(),
      homeId,
      forename: name(input.forename, 'forename'),
      surname: name(input.surname, 'surname'),
      dateOfBirth: pastDate(input.dateOfBirth, 'dateOfBirth'),
      dbsCertificateNumber: cert,
      createdBy: p.client,
    };
    const s = await store.insertStaff(p.organisationId, row, staffEvent('regulatory.staff.added', { ...row, organisationId: p.organisationId } as StaffRow, { actor: p.client }, requestId));
    relay.kick();
    return s;
  }

  async function setConsent(p: Principal, id: string, consent: boolean, requestId?: string): Promise<StaffRow> {
    const s = await staffFor(p, id);
    const now = new Date();
    const set = consent ? { consentRecordedAt: now, consentRecordedBy: p.client, nextDbsCheckAt: now } : { consentRecordedAt: null, consentRecordedBy: null, nextDbsCheckAt: null };
    const row = await store.updateStaff(p.organisationId, s.id, set, staffEvent(consent ? 'regulatory.dbs.consent_recorded' : 'regulatory.dbs.consent_withdrawn', s, { actor: p.client }, requestId));
    relay.kick();
    return row!;
  }

  async function updateCertificate(p: Principal, id: string, certificate: string, requestId?: string): Promise<StaffRow> {
    const s = await staffFor(p, id);
    const cert = certificate.replace(/\s/g, '');
    if (!CERTIFICATE.test(cert)) throw badInput('dbsCertificateNumber must be the 12 digits of a DBS certificate', { field: 'dbsCertificateNumber' });
    // A new certificate needs the holder's consent again.
    const row = await store.updateStaff(p.organisationId, s.id, { dbsCertificateNumber: cert, consentRecordedAt: null, consentRecordedBy: null, nextDbsCheckAt: null }, staffEvent('regulatory.staff.certificate_changed', s, { actor: p.client }, requestId));
    relay.kick();
    return row!;
  }

  /**
   * One status check on the Update Service. Refused before any call without the holder's consent, a certificate
   * number, or the employer's name and contact (the service logs them and shows them to the holder). Its result is
   * kept, whatever it is; NEW_INFO is an event.
   */
  async function checkDbs(org: string, s: StaffRow, requestedBy: string, correlationId?: string): Promise<DbsCheckRow> {
    if (!s.consentRecordedAt) throw forbidden(`${s.forename} ${s.surname} has not consented to status checks of their DBS certificate: record their consent first (recordDbsConsent)`, { staffMemberId: s.id, reason: 'NO_CONSENT' });
    if (!s.dbsCertificateNumber) throw badInput(`${s.forename} ${s.surname} has no DBS certificate number on record`, { field: 'dbsCertificateNumber' });
    const profile = await store.profile(org);
    if (!profile?.name || !profile.dbsContactForename || !profile.dbsContactSurname) {
      throw badInput('the DBS is told who checks: set organisationName and dbsContact first (updateRegulatoryProfile)', { field: 'organisationName' });
    }
    if (!dbsBase) throw upstreamUnavailable('dbs', 'the DBS Update Service is not configured on this hub (DBS_ENVIRONMENT=disabled, or unset in production)', { notConfigured: true });
    const q = new URLSearchParams({
      dateOfBirth: dbsDate(s.dateOfBirth),
      surname: s.surname,
      hasAgreedTermsAndConditions: 'true',
      organisationName: profile.name,
      employeeSurname: profile.dbsContactSurname,
      employeeForename: profile.dbsContactForename,
    });
    const check = { id: randomUUID(), staffMemberId: s.id, certificateNumber: s.dbsCertificateNumber, requestedBy };
    let result: Omit<typeof check, never> & { status: string; resultType?: string | null; printDate?: string | null; httpStatus?: number | null; error?: string | null };
    try {
      const res = await rt.http.request('dbs', {
        method: 'GET',
        url: `${dbsBase}/crsc/api/status/${encodeURIComponent(s.dbsCertificateNumber)}?${q}`,
        headers: { accept: 'application/xml' },
        timeoutMs: rt.config.outboundTimeoutMs,
        beforeAttempt: () => waitForSlot(rt.kv, { system: 'dbs', limit: dbsConfig.rateLimitPerSecond, windowMs: 1000, maxWaitMs: MAX_LIMIT_WAIT_MS }),
      });
      if (res.status !== 200) {
        result = { ...check, status: 'ERROR', httpStatus: res.status, error: `the Update Service answered HTTP ${res.status}${res.status === 400 ? ' (it refuses a certificate number, date of birth or surname it cannot use)' : ''}` };
      } else {
        try {
          const r = parseStatusCheck(res.body);
          result = { ...check, status: r.status, resultType: r.resultType, printDate: r.printDate, httpStatus: 200 };
        } catch (err) {
          result = { ...check, status: 'ERROR', httpStatus: 200, error: `the Update Service's answer could not be read: ${(err as Error).message}` };
        }
      }
    } catch (err) {
      if (isHubError(err) && err.code === 'RATE_LIMITED') throw err; // nothing was asked: the caller tries later
      result = { ...check, status: 'ERROR', error: isHubError(err) ? err.message : 'the Update Service could not be reached' };
    }
    const now = new Date();
    // Clear and not changed: check again later. NEW_INFO and NO_MATCH_FOUND need a person (a new certificate, or
    // details put right): no more scheduled checks until they do. An error is tried again the next day.
    const next =
      result.status === 'BLANK_NO_NEW_INFO' || result.status === 'NON_BLANK_NO_NEW_INFO' ? addDays(now, dbsConfig.recheckDays) : result.status === 'ERROR' ? addDays(now, Math.min(1, dbsConfig.recheckDays)) : null;
    const events = [staffEvent('regulatory.dbs.checked', s, { checkId: check.id, status: result.status, printDate: result.printDate ?? null, requestedBy }, correlationId)];
    if (result.status === 'NEW_INFO') events.push(staffEvent('regulatory.dbs.new_info', s, { checkId: check.id, printDate: result.printDate ?? null, requestedBy }, correlationId));
    const row = await store.recordDbsCheck(org, result, next, events);
    relay.kick();
    return row;
  }

  async function runDbsSchedule(): Promise<number> {
    let n = 0;
    for (const s of await store.dueDbsChecks(new Date(), DBS_BATCH)) {
      if (stopped) break;
      try {
        await checkDbs(s.organisationId, s, 'SCHEDULE');
        n++;
      } catch (err) {
        log.warn({ err, organisationId: s.organisationId, staffMemberId: s.id }, 'scheduled DBS status check not made');
        if (isHubError(err) && err.code === 'RATE_LIMITED') break;
      }
    }
    return n;
  }

  async function scheduleDbs(after = new Date(Date.now() + dbsConfig.scheduleSeconds * 1000)) {
    if (stopped || !dbsBase) return;
    const slot = Math.floor(after.getTime() / 1000 / dbsConfig.scheduleSeconds);
    await rt.jobs.send(DBS_SCHEDULE_QUEUE, { slot }, { startAfter: after, id: deterministicUuid(DBS_SCHEDULE_QUEUE, String(slot)) });
  }

  return {
    cqcEnvironment: (): RegulatorEnvironment => cqcConfig.environment,
    dbsEnvironment: (): RegulatorEnvironment => dbsConfig.environment,
    profile: async (org: string): Promise<ProfileRow> => (await store.profile(org)) ?? ({ organisationId: org } as ProfileRow),
    updateProfile,
    provider: (org: string, id: string) => store.provider(org, id),
    locations: (org: string) => store.locations(org),
    location: async (org: string, id: string) => (CQC_ID.test(id) ? ((await store.locations(org, [id]))[0] ?? null) : null),
    homeLocations,
    syncCqc,
    addStaff,
    setConsent,
    updateCertificate,
    staff: async (p: Principal, id: string) => (isUuid(id) ? (visible(p, await store.staff(p.organisationId, id)) ?? null) : null),
    staffList: (p: Principal, homeId?: string | null) => store.staffList(p.organisationId, p.homeIds, homeId),
    checkDbsStatus: async (p: Principal, id: string, requestId?: string) => checkDbs(p.organisationId, await staffFor(p, id), p.client, requestId),
    dbsChecks: (org: string, staffMemberId: string, first: number) => {
      if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput('first must be between 1 and 500', { field: 'first' });
      return store.dbsChecks(org, [staffMemberId], first);
    },
    runDbsSchedule,
    submissions,
    async start() {
      relay.start();
      await submissions.start();
      await rt.jobs.define<{ organisationId: string }>(CQC_SYNC_QUEUE, async (j) => {
        try {
          await syncCqc(j.organisationId);
        } catch (err) {
          log.warn({ err, organisationId: j.organisationId }, 'scheduled CQC sync failed; the next one reads the same changes');
        } finally {
          await scheduleCqc(j.organisationId);
        }
      }, { retryLimit: 0 });
      await rt.jobs.define<{ slot: number }>(DBS_SCHEDULE_QUEUE, async () => {
        try {
          await runDbsSchedule();
        } finally {
          await scheduleDbs();
        }
      }, { retryLimit: 0 });
      if (cqcBase) for (const org of await store.followingOrganisations()) await scheduleCqc(org);
      if (dbsBase) await scheduleDbs(new Date());
    },
    async stop() {
      stopped = true;
      await relay.stop();
      submissions.stop();
    },
  };
}

export type RegulatoryService = ReturnType<typeof createRegulatoryService>;
