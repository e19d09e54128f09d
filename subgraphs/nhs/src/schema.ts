import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { scalarResolvers, type CareDirectory, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createNhsService, type DischargeInput, type JsonPatchOp, type NhsService, type PatientRecord, type ResidentSearch } from './service.ts';
import { PURPOSE_SEPARATOR, type AuditRow, type DischargeRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

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
      resident: async (_: unknown, a: { nhsNumber: string }, ctx: RequestContext) => ({ nhsNumber: (await service.patient(a.nhsNumber, ctx)).nhsNumber }),
      residents: (_: unknown, a: { nhsNumbers: string[] }, ctx: RequestContext) =>
        Promise.all(a.nhsNumbers.map(async (n) => ({ nhsNumber: (await service.patient(n, ctx)).nhsNumber }))),
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
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
