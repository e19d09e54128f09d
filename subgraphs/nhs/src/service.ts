import { randomUUID } from 'node:crypto';
import {
  addExtension,
  badInput,
  conflict,
  createOutboxRelay,
  DEFAULT_ORGANISATION,
  forbidden,
  groupCommit,
  isHubError,
  isUuid,
  loaderFor,
  notFound,
  organisationOf,
  principalOf,
  requireScope,
  servicePrincipal,
  SUBJECT_ACCESS_MAX_ROWS,
  upstreamUnavailable,
  type CareDirectory,
  type CareStay,
  type EventPublisher,
  type HubRuntime,
  type OutboxEvent,
  type Principal,
  type RequestContext,
} from '@hub/runtime';
import { LRUCache } from 'lru-cache';
import { nhsOutbox } from '@hub/db';
import { resolveNhs, type NhsApiName } from './environments.ts';
import { loadMapping, mappingRows } from './fhir-mapping.ts';
import { nhsNumber } from './nhs-number.ts';
import { spineError } from './outcome.ts';
import { createSpineClient, type CallRecord } from './spine.ts';
import { createNhsStore, type DischargeRow } from './store.ts';

export type DataSource = 'UPSTREAM' | 'CACHE' | 'STALE_CACHE';

/** A PDS Patient as the hub holds it: the resource, its version, and where this copy came from. */
export interface PatientRecord {
  nhsNumber: string;
  resource: Record<string, any>;
  version: number;
  etag: string;
  fetchedAt: Date;
  source: DataSource;
  restricted: boolean;
  /** The resource through the FHIRPath mapping, when it was mapped on arrival (a copy read from the cache is not). */
  mapped?: Record<string, unknown>;
}

interface CachedPatient {
  resource: Record<string, any>;
  version: number;
  etag: string;
  fetchedAt: string;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

export interface ResidentSearch {
  family?: string | null;
  given?: string[] | null;
  gender?: string | null;
  birthDate?: string | null;
  birthDateFrom?: string | null;
  birthDateTo?: string | null;
  postalCode?: string | null;
  fuzzy?: boolean | null;
  exact?: boolean | null;
  includeHistory?: boolean | null;
  maxResults?: number | null;
}

export interface DischargeInput {
  nhsNumber: string;
  recipientMailbox: string;
  admittedAt?: Date | null;
  dischargedAt: Date;
  dischargingFrom: string;
  clinician?: string | null;
  summary: string;
  diagnoses?: string[] | null;
  medicationChanges?: string[] | null;
  followUp?: string | null;
}

const SOURCE = 'hub.nhs';
const DISCHARGE_QUEUE = 'nhs.discharge.send';
const TRACKING_QUEUE = 'nhs.discharge.track';
/** The Transfer of Care workflow for inpatient discharge summaries as FHIR documents. */
const DISCHARGE_WORKFLOW = 'TOC_FHIR_IP_DISCH';
const TRACK_EVERY_SECONDS = 300;

const patientMapping = loadMapping('pds-patient.json');
const scrMapping = loadMapping('scr-bundle.json');
const epsMapping = loadMapping('eps-bundle.json');

/** A stated purpose for a PDS search: a sentence a reviewer of the audit trail can read. */
function statedPurpose(input: string): string {
  const purpose = input.trim().replace(/\s+/g, ' ');
  if (purpose.length < 5 || purpose.length > 300) throw badInput('purpose must say in 5 to 300 characters why the search is made (e.g. "admission of a new resident to Oak Lodge")', { field: 'purpose' });
  return purpose;
}

export function createNhsService(rt: HubRuntime, publisher: () => EventPublisher | undefined, careDirectory: () => CareDirectory | undefined) {
  const nhs = resolveNhs(rt.config.nhs);
  const log = rt.log.child({ subgraph: 'nhs' });
  const store = createNhsStore(rt.database.db);
  const relay = createOutboxRelay({ name: 'nhs', db: rt.database.db, table: nhsOutbox, publisher, log });
  const { cacheFreshSeconds, cacheStaleSeconds } = rt.config.nhs;

  // Concurrent calls share one audit transaction; each call still returns only once its row is committed.
  const writeAudit = groupCommit<{ record: CallRecord; event: OutboxEvent }>(async (calls) => {
    const byOrg = new Map<string, typeof calls>();
    for (const c of calls) byOrg.set(c.record.organisationId, [...(byOrg.get(c.record.organisationId) ?? []), c]);
    for (const [org, mine] of byOrg) await store.recordCalls(org, mine);
    relay.kick();
  });

  async function record(r: CallRecord): Promise<void> {
    // Logs get the call's shape and outcome; the NHS number stays in the audit table, never in log lines.
    log.debug({ api: r.api, operation: r.operation, outcome: r.outcome, status: r.httpStatus, ms: r.latencyMs, upstreamRequestId: r.upstreamRequestId }, 'nhs call');
    await writeAudit({ record: r, event: {
      organisationId: r.organisationId,
      residentId: r.residentId ?? null,
      homeId: r.homeId ?? null,
      type: `nhs.${r.api}.called`,
      source: SOURCE,
      correlationId: r.requestId ?? null,
      // The resident by pseudonym: the NHS number stays in the audit table.
      payload: {
        api: r.api,
        operation: r.operation,
        residentId: r.residentId ?? null,
        outcome: r.outcome,
        httpStatus: r.httpStatus ?? null,
        latencyMs: r.latencyMs,
        actor: r.actor,
        ...(r.purpose ? { purpose: r.purpose } : {}),
      },
    } });
  }

  function directory(): CareDirectory {
    const d = careDirectory();
    if (!d) throw upstreamUnavailable('hub.care', 'the care subgraph is not configured (SUBGRAPH_CARE_URL): no NHS record is read without knowing who is in care');
    return d;
  }

  /**
   * The stay that lets the caller read this resident's NHS records, asked once per request; FORBIDDEN before any
   * call to the NHS when there is none.
   */
  async function access(n: string, ctx: RequestContext): Promise<CareStay> {
    const p = principalOf(ctx);
    const stay = await loaderFor<string, CareStay>(ctx, 'nhs.inCare', (keys) => Promise.all(keys.map((k) => directory().inCare(p, k)))).load(n);
    if (stay) return stay;
    const homes = p.homeIds ? `homes ${p.homeIds.join(', ')}` : `a home of organisation ${p.organisationId}`;
    throw forbidden(
      `${n} is not a resident of ${homes} (nor discharged in the last ${rt.config.careDischargeWindowDays} days): NHS records are read only for residents in the caller's care; admit them first (admitResident)`,
      { nhsNumber: n, reason: 'NOT_IN_CARE' },
    );
  }

  /** Background work on one organisation's summary: the hub acting for that organisation. */
  const workerCtx = (organisationId: string): RequestContext => ({ actor: 'hub:nhs-worker', principal: servicePrincipal(organisationId, 'hub:nhs-worker'), loaders: new Map() });
  /** For background work: the resident's pseudonym, and their home while the stay lets the records be read. */
  async function careOf(org: string, n: string): Promise<{ residentId: string | null; homeId: string | null }> {
    const stay = await directory().inCare(servicePrincipal(org, 'hub:nhs-worker'), n);
    return stay ?? { residentId: await directory().residentId(org, n), homeId: null };
  }

  const spine = createSpineClient(rt, nhs, record);
  const cacheKey = (n: string) => `nhs:pds:patient:${n}`;

  async function announce(org: string, event: Omit<OutboxEvent, 'source' | 'organisationId'>): Promise<void> {
    await store.announce(org, { ...event, organisationId: org, source: SOURCE });
    relay.kick();
  }

  function fromCache(n: string, c: CachedPatient, source: DataSource): PatientRecord {
    return { nhsNumber: n, resource: c.resource, version: c.version, etag: c.etag, fetchedAt: new Date(c.fetchedAt), source, restricted: false };
  }

  async function cachePatient(p: PatientRecord): Promise<void> {
    // Restricted (S-flagged) records are never kept: each read goes to the spine, which decides what to show.
    if (p.restricted) return rt.kv.del(cacheKey(p.nhsNumber));
    const entry: CachedPatient = { resource: p.resource, version: p.version, etag: p.etag, fetchedAt: p.fetchedAt.toISOString() };
    await rt.kv.set(cacheKey(p.nhsNumber), JSON.stringify(entry), cacheFreshSeconds + cacheStaleSeconds);
  }

  function patientFrom(n: string, resource: Record<string, any>, etag: string | undefined): PatientRecord {
    const mapped = patientMapping.map(resource);
    const version = Number(mapped.version ?? 0);
    return { nhsNumber: n, resource, mapped, version, etag: etag ?? `W/"${version}"`, fetchedAt: new Date(), source: 'UPSTREAM', restricted: mapped.restricted === true };
  }

  /** One resident from PDS, or the cache: fresh copies as they are, stale ones only while PDS cannot answer. */
  async function readPatient(n: string, ctx: RequestContext): Promise<PatientRecord> {
    // Guarded here too, so no path reaches PDS (or the cache of it) without the stay.
    const stay = await access(n, ctx);
    const text = await rt.kv.get(cacheKey(n)).catch(() => null);
    const cached = text ? (JSON.parse(text) as CachedPatient) : undefined;
    if (cached && Date.now() - Date.parse(cached.fetchedAt) < cacheFreshSeconds * 1000) return fromCache(n, cached, 'CACHE');

    const stale = (reason: string): PatientRecord => {
      addExtension(ctx, 'stale', { system: 'nhs.pds', resource: `Patient/${n}`, cachedAt: cached!.fetchedAt, reason });
      return fromCache(n, cached!, 'STALE_CACHE');
    };
    let res;
    try {
      res = await spine.call({
        api: 'pds',
        operation: 'READ_PATIENT',
        nhsNumber: n,
        residentId: stay.residentId,
        homeId: stay.homeId,
        method: 'GET',
        path: `/Patient/${n}`,
        headers: cached ? { 'if-none-match': cached.etag } : {},
        ctx,
      });
    } catch (err) {
      if (cached && isHubError(err) && (err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'RATE_LIMITED')) return stale(err.message);
      throw err;
    }
    if (res.status === 304 && cached) {
      const p = { ...fromCache(n, cached, 'UPSTREAM'), fetchedAt: new Date() };
      await cachePatient(p);
      return p;
    }
    if (res.status === 200) {
      const p = patientFrom(n, res.json<Record<string, any>>(), res.headers.etag);
      await cachePatient(p);
      return p;
    }
    if (res.status === 404) await rt.kv.del(cacheKey(n));
    if ((res.status === 429 || res.status >= 500) && cached) return stale(`PDS answered HTTP ${res.status}`);
    throw spineError('nhs.pds', res, { resource: 'resident', nhsNumber: n });
  }

  /** Per request: however many fields ask for a resident, PDS is asked once. */
  function patientLoader(ctx: RequestContext) {
    return loaderFor<string, PatientRecord>(ctx, 'nhs.patient', (keys) =>
      Promise.all(keys.map((k) => readPatient(k, ctx).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))))) as never,
    );
  }

  async function patient(input: string, ctx: RequestContext): Promise<PatientRecord> {
    const n = nhsNumber(input);
    await access(n, ctx);
    return (await patientLoader(ctx).load(n))!;
  }

  // A version of a record never changes, so a cached copy's mapping is computed once per (NHS number, ETag) here.
  const mappedVersions = new LRUCache<string, Record<string, unknown>>({ max: 10_000 });
  function demographics(p: PatientRecord) {
    const key = `${p.nhsNumber}\0${p.etag}`;
    let m = p.mapped ?? mappedVersions.get(key);
    if (!m) mappedVersions.set(key, (m = patientMapping.map(p.resource)));
    return { ...m, version: p.version, restricted: p.restricted, source: p.source, fetchedAt: p.fetchedAt };
  }

  /**
   * PDS search, to find someone to admit: allowed without a stay, with a stated purpose that the audit row keeps.
   * Matches carry what the search returned; anything more about them needs the stay like any other read.
   */
  async function search(s: ResidentSearch, purposeInput: string, ctx: RequestContext) {
    const purpose = statedPurpose(purposeInput);
    const q = new URLSearchParams();
    if (s.family) q.set('family', s.family);
    for (const g of s.given ?? []) q.append('given', g);
    if (s.gender) q.set('gender', s.gender.toLowerCase());
    if (s.birthDate) q.append('birthdate', `eq${s.birthDate}`);
    if (s.birthDateFrom) q.append('birthdate', `ge${s.birthDateFrom}`);
    if (s.birthDateTo) q.append('birthdate', `le${s.birthDateTo}`);
    if (s.postalCode) q.set('address-postalcode', s.postalCode);
    if (s.fuzzy) q.set('_fuzzy-match', 'true');
    if (s.exact) q.set('_exact-match', 'true');
    if (s.includeHistory) q.set('_history', 'true');
    if (s.maxResults != null) {
      if (!Number.isInteger(s.maxResults) || s.maxResults < 1 || s.maxResults > 50) throw badInput('maxResults must be between 1 and 50', { field: 'maxResults' });
      q.set('_max-results', String(s.maxResults));
    }
    if (![...q.keys()].some((k) => !k.startsWith('_'))) throw badInput('give at least one search field (family, given, gender, birth date, postcode)', { field: 'input' });
    const res = await spine.call({ api: 'pds', operation: 'SEARCH_PATIENTS', purpose, method: 'GET', path: `/Patient?${q}`, ctx });
    if (res.status !== 200) throw spineError('nhs.pds', res);
    const bundle = res.json<{ entry?: Array<{ resource: Record<string, any>; search?: { score?: number } }> }>();
    return (bundle.entry ?? []).map((e) => {
      const n = String(e.resource.id);
      return { resident: { nhsNumber: n, searched: patientFrom(n, e.resource, undefined) }, score: e.search?.score ?? null };
    });
  }

  async function updateDemographics(input: string, version: number, patches: JsonPatchOp[], ctx: RequestContext) {
    const n = nhsNumber(input);
    if (!Number.isInteger(version) || version < 1) throw badInput('version must be the positive versionId you last read', { field: 'version' });
    if (!patches.length) throw badInput('patches must hold at least one operation', { field: 'patches' });
    for (const [i, p] of patches.entries()) {
      if (!p.path.startsWith('/')) throw badInput(`patches[${i}].path must be a JSON Pointer starting with "/"`, { field: `patches.${i}.path` });
      if ((p.op === 'add' || p.op === 'replace' || p.op === 'test') && p.value === undefined) throw badInput(`patches[${i}] (${p.op}) needs a value`, { field: `patches.${i}.value` });
      if ((p.op === 'move' || p.op === 'copy') && !p.from) throw badInput(`patches[${i}] (${p.op}) needs from`, { field: `patches.${i}.from` });
    }
    const stay = await access(n, ctx);
    const res = await spine.call({
      api: 'pds',
      operation: 'UPDATE_PATIENT',
      nhsNumber: n,
      residentId: stay.residentId,
      homeId: stay.homeId,
      method: 'PATCH',
      path: `/Patient/${n}`,
      headers: { 'if-match': `W/"${version}"`, 'content-type': 'application/json-patch+json' },
      body: JSON.stringify({ patches: patches.map((p) => ({ op: p.op, path: p.path, ...(p.value !== undefined ? { value: p.value } : {}), ...(p.from ? { from: p.from } : {}) })) }),
      ctx,
    });
    // Whatever happened, the cached copy may be out of date now.
    await rt.kv.del(cacheKey(n));
    if (res.status === 409) {
      throw conflict(`resident ${n} has changed since version ${version}: read it again and reapply the change`, { system: 'nhs.pds', spineCode: 'RESOURCE_VERSION_MISMATCH', version });
    }
    if (res.status !== 200) throw spineError('nhs.pds', res, { resource: 'resident', nhsNumber: n });
    const p = patientFrom(n, res.json<Record<string, any>>(), res.headers.etag);
    await cachePatient(p);
    patientLoader(ctx).clear(n).prime(n, p);
    await announce(organisationOf(ctx), {
      type: 'nhs.pds.patient.updated',
      residentId: stay.residentId,
      homeId: stay.homeId,
      correlationId: ctx.requestId ?? null,
      // Which fields changed, never their values.
      payload: { residentId: stay.residentId, fromVersion: version, version: p.version, paths: patches.map((x) => x.path), actor: ctx.actor ?? 'anonymous' },
    });
    return { nhsNumber: n };
  }

  async function summaryCareRecord(input: string, ctx: RequestContext) {
    const n = nhsNumber(input);
    const stay = await access(n, ctx);
    const res = await spine.call({
      api: 'scr',
      operation: 'READ_SUMMARY_CARE_RECORD',
      nhsNumber: n,
      residentId: stay.residentId,
      homeId: stay.homeId,
      method: 'GET',
      path: `/Bundle?patient=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${n}`)}`,
      ctx,
    });
    if (res.status !== 200) throw spineError('nhs.scr', res, { resource: 'summary care record of', nhsNumber: n });
    return scrMapping.map(res.json());
  }

  async function prescriptions(input: string, ctx: RequestContext) {
    const n = nhsNumber(input);
    const stay = await access(n, ctx);
    const res = await spine.call({ api: 'eps', operation: 'READ_PRESCRIPTIONS', nhsNumber: n, residentId: stay.residentId, homeId: stay.homeId, method: 'GET', path: '/Bundle', headers: { 'nhsd-nhs-number': n }, ctx });
    if (res.status !== 200) throw spineError('nhs.eps', res, { resource: 'prescriptions of', nhsNumber: n });
    return (epsMapping.map(res.json()).prescriptions as unknown[]) ?? [];
  }

  // ---- discharge summaries over MESH ----

  function dischargeDocument(id: string, input: DischargeInput, p: PatientRecord) {
    const patientRef = `urn:uuid:${randomUUID()}`;
    const compositionRef = `urn:uuid:${randomUUID()}`;
    const section = (title: string, code: string, items: string[]) => ({
      title,
      code: { coding: [{ system: 'http://snomed.info/sct', code }] },
      text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${items.map((i) => `<p>${escapeXml(i)}</p>`).join('')}</div>` },
    });
    const sections = [
      section('Discharge details', '1658841000000106', [input.summary]),
      ...(input.diagnoses?.length ? [section('Diagnoses', '887181000000106', input.diagnoses)] : []),
      ...(input.medicationChanges?.length ? [section('Medication changes', '1077881000000105', input.medicationChanges)] : []),
      ...(input.followUp ? [section('Plan and requested actions', '1102421000000108', [input.followUp])] : []),
    ];
    const name = (p.resource.name as unknown[] | undefined)?.slice(0, 1);
    return {
      resourceType: 'Bundle',
      identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: id },
      type: 'document',
      timestamp: new Date().toISOString(),
      entry: [
        {
          fullUrl: compositionRef,
          resource: {
            resourceType: 'Composition',
            status: 'final',
            type: { coding: [{ system: 'http://snomed.info/sct', code: '373942005', display: 'Discharge summary' }] },
            subject: { reference: patientRef, identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: p.nhsNumber } },
            date: input.dischargedAt.toISOString(),
            title: 'Discharge summary',
            author: [{ display: input.clinician ? `${input.clinician}, ${input.dischargingFrom}` : input.dischargingFrom }],
            ...(input.admittedAt ? { event: [{ period: { start: input.admittedAt.toISOString(), end: input.dischargedAt.toISOString() } }] } : {}),
            section: sections,
          },
        },
        {
          fullUrl: patientRef,
          resource: {
            resourceType: 'Patient',
            identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: p.nhsNumber }],
            ...(name?.length ? { name } : {}),
            ...(p.resource.birthDate ? { birthDate: p.resource.birthDate } : {}),
          },
        },
      ],
    };
  }

  async function sendDischargeSummary(input: DischargeInput, ctx: RequestContext): Promise<DischargeRow> {
    const n = nhsNumber(input.nhsNumber);
    if (!nhs.mesh || !nhs.bases.mesh) throw badInput('MESH is not configured (NHS_MESH_MAILBOX, NHS_MESH_PASSWORD, NHS_MESH_SHARED_KEY)', { field: 'recipientMailbox' });
    const recipient = input.recipientMailbox.trim().toUpperCase();
    if (!/^[A-Z0-9]{3,20}$/.test(recipient)) throw badInput('recipientMailbox must be a MESH mailbox id (letters and digits)', { field: 'recipientMailbox' });
    if (!input.summary.trim()) throw badInput('summary must not be empty', { field: 'summary' });
    if (input.admittedAt && input.admittedAt > input.dischargedAt) throw badInput('admittedAt must be before dischargedAt', { field: 'admittedAt' });
    const stay = await access(n, ctx);
    const org = organisationOf(ctx);
    const p = await patient(n, ctx);
    const id = randomUUID();
    const row = await store.insertDischarge(
      org,
      {
        id,
        nhsNumber: n,
        recipientMailbox: recipient,
        workflowId: DISCHARGE_WORKFLOW,
        status: 'QUEUED',
        document: dischargeDocument(id, input, p),
        requestedBy: ctx.actor ?? 'anonymous',
      },
      {
        organisationId: org,
        residentId: stay.residentId,
        homeId: stay.homeId,
        type: 'nhs.discharge.queued',
        source: SOURCE,
        correlationId: ctx.requestId ?? null,
        payload: { dischargeSummaryId: id, residentId: stay.residentId, recipientMailbox: recipient },
      },
    );
    relay.kick();
    try {
      return await dispatch(org, id, ctx);
    } catch (err) {
      // Kept and retried by the queue: the summary is never lost because MESH was down when it was written.
      log.warn({ err, dischargeSummaryId: id }, 'discharge summary not sent yet; queued for retry');
      await store.updateDischarge(org, id, ['QUEUED'], { lastError: err instanceof Error ? err.message : String(err), attempts: 1 });
      await rt.jobs.send(DISCHARGE_QUEUE, { organisationId: org, id }, { id: randomUUID(), startAfter: new Date(Date.now() + 5_000) });
      return (await store.discharge(org, id)) ?? row;
    }
  }

  /** Uploads a queued summary to MESH once: a retry first asks MESH whether it already has it (by local id). */
  async function dispatch(org: string, id: string, ctx: RequestContext): Promise<DischargeRow> {
    const row = await store.discharge(org, id);
    if (!row) throw notFound('discharge summary', id);
    if (row.status !== 'QUEUED') return row;
    const { residentId, homeId } = await careOf(org, row.nhsNumber);
    const mailbox = nhs.mesh!.mailbox;
    let messageId: string | undefined;
    const tracked = await spine.call({ api: 'mesh', operation: 'TRACK_MESSAGE', nhsNumber: row.nhsNumber, residentId, homeId, method: 'GET', path: `/${mailbox}/outbox/tracking/${encodeURIComponent(id)}`, ctx });
    if (tracked.status === 200) messageId = tracked.json<{ message_id?: string }>().message_id;
    if (!messageId) {
      const res = await spine.call({
        api: 'mesh',
        operation: 'SEND_DISCHARGE_SUMMARY',
        nhsNumber: row.nhsNumber,
        residentId,
        homeId,
        method: 'POST',
        path: `/${mailbox}/outbox`,
        headers: {
          'content-type': 'application/fhir+json',
          'mex-from': mailbox,
          'mex-to': row.recipientMailbox,
          'mex-workflowid': row.workflowId,
          'mex-localid': id,
          'mex-subject': 'Discharge summary',
          'mex-filename': `${id}.json`,
        },
        body: JSON.stringify(row.document),
        ctx,
      });
      if (res.status >= 300) throw spineError('nhs.mesh', res);
      messageId = res.json<{ message_id?: string }>().message_id;
      if (!messageId) throw upstreamUnavailable('nhs.mesh', 'no message_id in the upload response');
    }
    const sent = await store.updateDischarge(
      org,
      id,
      ['QUEUED'],
      { status: 'SENT', meshMessageId: messageId, sentAt: new Date(), attempts: row.attempts + 1, lastError: null },
      {
        organisationId: org,
        residentId,
        homeId,
        type: 'nhs.discharge.sent',
        source: SOURCE,
        correlationId: ctx.requestId ?? null,
        payload: { dischargeSummaryId: id, residentId, meshMessageId: messageId },
      },
    );
    relay.kick();
    await rt.jobs.send(TRACKING_QUEUE, { organisationId: org, id }, { id: randomUUID(), startAfter: new Date(Date.now() + TRACK_EVERY_SECONDS * 1000) });
    return sent ?? (await store.discharge(org, id))!;
  }

  /** Asks MESH how far a sent summary got; ACKNOWLEDGED once the recipient has downloaded and acknowledged it. */
  async function track(org: string, id: string, ctx: RequestContext): Promise<DischargeRow> {
    const row = isUuid(id) ? await store.discharge(org, id) : undefined;
    if (!row) throw notFound('discharge summary', id);
    if (row.status === 'QUEUED') return dispatch(org, id, ctx);
    if (row.status !== 'SENT' && row.status !== 'DELIVERED') return row;
    const { residentId, homeId } = await careOf(org, row.nhsNumber);
    const mailbox = nhs.mesh!.mailbox;
    const res = await spine.call({
      api: 'mesh',
      operation: 'TRACK_MESSAGE',
      nhsNumber: row.nhsNumber,
      residentId,
      homeId,
      method: 'GET',
      path: `/${mailbox}/outbox/tracking?messageID=${encodeURIComponent(row.meshMessageId!)}`,
      ctx,
    });
    if (res.status !== 200) throw spineError('nhs.mesh', res);
    const t = res.json<{ status?: string; status_success?: boolean; status_description?: string; status_timestamp?: string }>();
    const status = (t.status ?? '').toLowerCase();
    const now = new Date();
    let next: { status: string; set: Record<string, unknown> } | undefined;
    if (status === 'acknowledged') next = { status: 'ACKNOWLEDGED', set: { acknowledgedAt: t.status_timestamp ? new Date(t.status_timestamp) : now } };
    else if (status === 'downloaded' || status === 'delivered') next = { status: 'DELIVERED', set: {} };
    else if (t.status_success === false || status === 'undeliverable' || status === 'error' || status === 'expired') {
      next = { status: 'FAILED', set: { lastError: t.status_description ?? status } };
    }
    const updated = await store.updateDischarge(
      org,
      id,
      ['SENT', 'DELIVERED'],
      { lastCheckedAt: now, ...(next ? { status: next.status, ...next.set } : {}) },
      next
        ? {
            organisationId: org,
            residentId,
            homeId,
            type: `nhs.discharge.${next.status.toLowerCase()}`,
            source: SOURCE,
            correlationId: ctx.requestId ?? null,
            payload: { dischargeSummaryId: id, residentId, meshMessageId: row.meshMessageId, meshStatus: status },
          }
        : undefined,
    );
    relay.kick();
    const result = updated ?? (await store.discharge(org, id))!;
    if (result.status === 'SENT' || result.status === 'DELIVERED') {
      await rt.jobs.send(TRACKING_QUEUE, { organisationId: org, id }, { id: randomUUID(), startAfter: new Date(Date.now() + TRACK_EVERY_SECONDS * 1000) });
    }
    return result;
  }

  /** Subject access reads a resident's NHS records whether or not they are in care: it needs audit and health. */
  function subjectAccessOrg(ctx: RequestContext): string {
    requireScope(ctx, 'audit', 'subject access');
    return requireScope(ctx, 'health', 'subject access').organisationId;
  }

  return {
    environment: nhs,
    patient,
    patientLoader,
    demographics,
    search,
    updateDemographics,
    summaryCareRecord,
    prescriptions,
    sendDischargeSummary,
    /** A stored summary of the caller's organisation; another organisation's is undefined like one that does not exist. */
    dischargeSummary: async (id: string, ctx: RequestContext) => (isUuid(id) ? store.discharge(organisationOf(ctx), id) : undefined),
    /** A resident's summaries are health records like the rest: the stay is needed. */
    dischargeSummariesOf: async (input: string, ctx: RequestContext) => {
      const n = nhsNumber(input);
      await access(n, ctx);
      return store.dischargesOf(organisationOf(ctx), n);
    },
    refreshDischargeSummary: (id: string, ctx: RequestContext) => track(organisationOf(ctx), id, ctx),
    /**
     * Subject access (the care subgraph's SubjectAccess, with the NHS number it resolved for the caller's
     * organisation): the resident's discharge summaries and the calls made about them, whether or not they are still in care.
     */
    subjectAccess: {
      dischargeSummaries: async (input: string, ctx: RequestContext) => (await store.dischargesOf(subjectAccessOrg(ctx), nhsNumber(input))).reverse(),
      nhsCalls: (input: string, ctx: RequestContext) => store.callsAbout(subjectAccessOrg(ctx), nhsNumber(input), SUBJECT_ACCESS_MAX_ROWS),
    },
    /** Erasure (see store.eraseResident); the shared cache of their PDS record goes too (it is read again if needed). */
    async eraseResident(p: Principal, input: string) {
      const n = nhsNumber(input);
      const counts = await store.eraseResident(p.organisationId, n);
      await rt.kv.del(cacheKey(n));
      return counts;
    },

    auditLog: (ctx: RequestContext, o: { nhsNumber?: string | null; first: number; before?: Date | null }) => {
      if (!Number.isInteger(o.first) || o.first < 1 || o.first > 500) throw badInput('first must be between 1 and 500', { field: 'first' });
      return store.audit(organisationOf(ctx), { nhsNumber: o.nhsNumber ? nhsNumber(o.nhsNumber) : undefined, first: o.first, before: o.before ?? undefined });
    },
    mappings: () => [patientMapping, scrMapping, epsMapping].flatMap((m) => mappingRows(m.mapping)),
    connector() {
      const apis: NhsApiName[] = ['pds', 'scr', 'eps', 'mesh'];
      return {
        environment: nhs.environment.toUpperCase(),
        simulated: nhs.simulated,
        rateLimitPerSecond: rt.config.nhs.rateLimitPerSecond,
        apis: apis.map((api) => ({ name: api.toUpperCase(), baseUrl: nhs.bases[api] ?? null, breaker: spine.breakerState(api).toUpperCase().replace('-', '_') })),
      };
    },
    async start() {
      relay.start();
      // Jobs queued before organisations existed name none: their summaries went to the default organisation.
      type Job = { organisationId?: string; id: string };
      const org = (j: Job) => j.organisationId ?? DEFAULT_ORGANISATION;
      await rt.jobs.define<Job>(DISCHARGE_QUEUE, async (j) => void (await dispatch(org(j), j.id, workerCtx(org(j)))), { retryLimit: 20, retryDelaySeconds: 30, retryBackoff: true });
      await rt.jobs.define<Job>(TRACKING_QUEUE, async (j) => void (await track(org(j), j.id, workerCtx(org(j)))), { retryLimit: 10, retryDelaySeconds: 60, retryBackoff: true });
    },
    stop: () => relay.stop(),
  };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export type NhsService = ReturnType<typeof createNhsService>;
