import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { badInput, isHubError, requireScope, scalarResolvers, type CareDirectory, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createNhsService, type DischargeInput, type JsonPatchOp, type NhsService, type PatientRecord, type ResidentSearch } from './service.ts';
import { nhsNumber } from './nhs-number.ts';
import { PURPOSE_SEPARATOR, type AuditRow, type DischargeRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

/** The NHS failing, as opposed to the request being wrong: the fields that need the failed call carry it. */
const UPSTREAM_FAILURES = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_ERROR', 'RATE_LIMITED']);

/** Residents one `residents` request may name: each costs a PDS call. */
export const MAX_RESIDENTS = 100;

/** A resident; a PDS search match carries the record the search returned (read without a stay, see search). */
type ResidentRef = { nhsNumber: string; searched?: PatientRecord };
type Name = { prefix: string[]; given: string[]; family: string | null; use: string | null };

const nameText = (n: Name) => [...n.prefix, ...n.given, n.family].filter(Boolean).join(' ');

function resolvers(service: NhsService) {
  const record = async (r: ResidentRef, ctx: RequestContext) => r.searched ?? (await service.patient(r.nhsNumber, ctx));
  return {
    ...scalarResolvers,
    Query: {
      // Read at once so an unknown or invalid resident is an error on this field, not on each of its fields.
      // PDS being unreachable is not the resident's fault: then the resident (checked and in care) still answers, and
      // each field that needs PDS is null with the error (the request's loader keeps the failed read: no second call).
      resident: async (_: unknown, a: { nhsNumber: string }, ctx: RequestContext) => {
        try {
          return { nhsNumber: (await service.patient(a.nhsNumber, ctx)).nhsNumber };
        } catch (err) {
          if (isHubError(err) && UPSTREAM_FAILURES.has(err.code)) return { nhsNumber: nhsNumber(a.nhsNumber) };
          throw err;
        }
      },
      // One number's failure is null at its place, with its error (graphql-js reports an Error in a list at its
      // index): the others still answer.
      residents: (_: unknown, a: { nhsNumbers: string[] }, ctx: RequestContext) => {
        if (a.nhsNumbers.length > MAX_RESIDENTS) throw badInput(`nhsNumbers has ${a.nhsNumbers.length} items; at most ${MAX_RESIDENTS} a request`, { field: 'nhsNumbers' });
        return Promise.all(
          a.nhsNumbers.map((n) => service.patient(n, ctx).then((p): ResidentRef | Error => ({ nhsNumber: p.nhsNumber }), (err: unknown) => (err instanceof Error ? err : new Error(String(err))))),
        );
      },
      searchResidents: (_: unknown, a: { input: ResidentSearch; purpose: string }, ctx: RequestContext) => service.search(a.input, a.purpose, ctx),
      dischargeSummary: async (_: unknown, a: { id: string }, ctx: RequestContext) => (await service.dischargeSummary(a.id, ctx)) ?? null,
      nhsConnector: () => service.connector(),
      nhsAuditLog: (_: unknown, a: { nhsNumber?: string | null; first: number; before?: Date | null }, ctx: RequestContext) => service.auditLog(ctx, a),
      nhsFhirMappings: () => service.mappings(),
    },
    Mutation: {
      updateResidentDemographics: (_: unknown, a: { nhsNumber: string; version: number; patches: JsonPatchOp[] }, ctx: RequestContext) =>
        service.updateDemographics(a.nhsNumber, a.version, a.patches, ctx),
      sendDischargeSummary: (_: unknown, a: { input: DischargeInput }, ctx: RequestContext) => service.sendDischargeSummary(a.input, ctx),
      eraseResidentNhsRecords: (_: unknown, a: { residentId: string; nhsNumber: string }, ctx: RequestContext) => {
        const p = requireScope(ctx, 'audit', 'erasure');
        requireScope(ctx, 'health', 'erasure');
        return service.eraseResident(p, a.nhsNumber);
      },
      refreshDischargeSummaryStatus: (_: unknown, a: { id: string }, ctx: RequestContext) => service.refreshDischargeSummary(a.id, ctx),
    },
    Resident: {
      // Another subgraph's reference costs nothing until one of these fields is asked for.
      __resolveReference: (ref: ResidentRef) => ({ nhsNumber: ref.nhsNumber }),
      demographics: async (r: ResidentRef, _: unknown, ctx: RequestContext) => service.demographics(await record(r, ctx)),
      fhirPatient: async (r: ResidentRef, _: unknown, ctx: RequestContext) => (await record(r, ctx)).resource,
      summaryCareRecord: (r: ResidentRef, _: unknown, ctx: RequestContext) => service.summaryCareRecord(r.nhsNumber, ctx),
      prescriptions: (r: ResidentRef, _: unknown, ctx: RequestContext) => service.prescriptions(r.nhsNumber, ctx),
      dischargeSummaries: (r: ResidentRef, _: unknown, ctx: RequestContext) => service.dischargeSummariesOf(r.nhsNumber, ctx),
    },
    Demographics: {
      gender: (d: { gender?: string | null }) => (d.gender ? d.gender.toUpperCase() : null),
      name: (d: { names: Name[] }) => d.names.find((n) => n.use === 'usual') ?? d.names[0] ?? null,
      gpPracticeOdsCode: (d: { gpOdsCode?: string | null }) => d.gpOdsCode ?? null,
      deceasedAt: (d: { deceasedAt?: string | null }) => (d.deceasedAt ? new Date(d.deceasedAt) : null),
    },
    PersonName: { text: nameText },
    NhsAuditEntry: {
      operation: (a: AuditRow) => a.operation.split(PURPOSE_SEPARATOR)[0],
      purpose: (a: AuditRow) => {
        const at = a.operation.indexOf(PURPOSE_SEPARATOR);
        return at < 0 ? null : a.operation.slice(at + PURPOSE_SEPARATOR.length);
      },
    },
    SubjectAccess: {
      __resolveReference: (ref: { residentId: string; nhsNumber: string }) => ref,
      dischargeSummaries: async (ref: { nhsNumber: string }, _: unknown, ctx: RequestContext) => service.subjectAccess.dischargeSummaries(ref.nhsNumber, ctx),
      nhsCalls: async (ref: { nhsNumber: string }, _: unknown, ctx: RequestContext) => service.subjectAccess.nhsCalls(ref.nhsNumber, ctx),
    },
    DischargeSummary: {
      __resolveReference: async (ref: { id: string }, ctx: RequestContext) => (await service.dischargeSummary(ref.id, ctx)) ?? null,
      resident: (d: DischargeRow) => ({ nhsNumber: d.nhsNumber }),
    },
  };
}


/** `careDirectory` tells who is in the care of the caller's homes: no NHS record is read for anyone else. */
export function createNhsSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined, careDirectory: () => CareDirectory | undefined): Subgraph & { service: NhsService } {
  const service = createNhsService(rt, publisher, careDirectory);
  return {
    name: 'nhs',
    // A resident pseudonym (res_...), not a UUID.
    textIds: ['Mutation.eraseResidentNhsRecords(residentId:)'],
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    provides: { residentEraser: { name: 'nhs', erase: (p, subject) => service.eraseResident(p, subject.nhsNumber) } },
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
