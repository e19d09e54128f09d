import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, principalOf, scalarResolvers, servicePrincipal, DEFAULT_ORGANISATION, type EventPublisher, type HubRuntime, type RequestContext, type ResidentEraser, type Subgraph } from '@hub/runtime';
import { careDirectory, createCareService, type AdmitInput, type CareService, type CreateHomeInput, type SubjectRef } from './service.ts';
import type { AdmissionRow, HomeRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: CareService) {
  // The NHS number behind each pseudonym, in the caller's organisation (null once erased).
  const nhsNumberOf = (ctx: RequestContext) => loaderFor(ctx, 'care.nhsNumberOf', (ids: readonly string[]) => service.nhsNumbersOf(principalOf(ctx), ids));
  const homeLoader = (ctx: RequestContext) => loaderFor(ctx, 'care.homeById', (ids: readonly string[]) => service.homesByIds(principalOf(ctx), ids));
  return {
    ...scalarResolvers,
    Query: {
      organisation: (_: unknown, __: unknown, ctx: RequestContext) => service.organisation(principalOf(ctx).organisationId),
      homes: (_: unknown, __: unknown, ctx: RequestContext) => service.homes(principalOf(ctx)),
      home: (_: unknown, a: { id: string }, ctx: RequestContext) => homeLoader(ctx).load(a.id),
      residentsInCare: (_: unknown, a: { homeId: string }, ctx: RequestContext) => service.residentsInCare(principalOf(ctx), a.homeId),
      admissions: (_: unknown, a: { filter?: { homeId?: string | null; current?: boolean | null } | null; first: number }, ctx: RequestContext) =>
        service.admissions(principalOf(ctx), a.filter ?? {}, a.first),
      admission: (_: unknown, a: { id: string }, ctx: RequestContext) => service.admission(principalOf(ctx), a.id),
      careStatus: (_: unknown, a: { nhsNumber: string }, ctx: RequestContext) => service.careStatus(principalOf(ctx), a.nhsNumber),
      subjectAccess: (_: unknown, a: SubjectRef, ctx: RequestContext) => service.subjectAccess(principalOf(ctx), a),
    },
    Mutation: {
      createHome: (_: unknown, a: { input: CreateHomeInput }, ctx: RequestContext) => service.createHome(principalOf(ctx), a.input, ctx.requestId),
      admitResident: (_: unknown, a: { input: AdmitInput }, ctx: RequestContext) => service.admit(principalOf(ctx), a.input, ctx.requestId),
      dischargeResident: (_: unknown, a: { admissionId: string; dischargedOn: string }, ctx: RequestContext) =>
        service.discharge(principalOf(ctx), a.admissionId, a.dischargedOn, ctx.requestId),
      eraseResident: (_: unknown, a: SubjectRef & { reason: string }, ctx: RequestContext) => service.erase(principalOf(ctx), a, a.reason, ctx.requestId),
    },
    Organisation: {
      homes: (_: unknown, __: unknown, ctx: RequestContext) => service.homes(principalOf(ctx)),
    },
    Home: {
      // Another organisation's home (or one the client is not limited to) resolves to null.
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => homeLoader(ctx).load(ref.id),
      residents: (h: HomeRow, _: unknown, ctx: RequestContext) => service.residentsInCare(principalOf(ctx), h.id),
    },
    SubjectAccess: {
      // Reached only through Query.subjectAccess, which resolves the whole object; a bare reference finds nothing.
      __resolveReference: () => null,
    },
    IntegrationEvent: {
      residentNhsNumber: async (e: { residentId?: string | null }, _: unknown, ctx: RequestContext) => {
        if (!e.residentId) return null;
        return nhsNumberOf(ctx).load(e.residentId);
      },
    },
    Admission: {
      home: (a: AdmissionRow, _: unknown, ctx: RequestContext) => homeLoader(ctx).load(a.homeId),
      resident: (a: AdmissionRow) => ({ nhsNumber: a.nhsNumber }),
      current: (a: AdmissionRow) => a.dischargedOn === null,
    },
  };
}

/**
 * The care subgraph: organisations, their homes and the residents each home admits. It tells the nhs subgraph who is
 * in whose care (the careDirectory port). With the NHS simulated, the default organisation's demo home is seeded at start.
 */
export function createCareSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined, erasers: () => ResidentEraser[] = () => []): Subgraph & { service: CareService } {
  const service = createCareService(rt, publisher, erasers);
  const log = rt.log.child({ subgraph: 'care' });
  return {
    name: 'care',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    provides: { careDirectory: careDirectory(service) },
    // Home ids are names the organisation chooses (sunrise-oak-lodge), not UUIDs.
    textIds: ['Query.home(id:)', 'Query.residentsInCare(homeId:)', 'CreateHomeInput.id', 'AdmitResidentInput.homeId', 'AdmissionFilter.homeId', 'Query.subjectAccess(residentId:)', 'Mutation.eraseResident(residentId:)'],
    async start() {
      service.start();
      const nhs = rt.config.nhs;
      // Only a simulated NHS gets demo residents: the simulator says which patients it has.
      if (nhs.environment !== 'simulated' || !nhs.baseUrl) return;
      try {
        const res = await fetch(`${nhs.baseUrl}/__patients`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`the NHS simulator answered HTTP ${res.status}`);
        const { nhsNumbers } = (await res.json()) as { nhsNumbers: string[] };
        const admitted = await service.seedDemo(servicePrincipal(DEFAULT_ORGANISATION, 'hub.care.demo'), nhsNumbers);
        if (admitted) log.info({ homeId: 'demo-home', admitted }, 'demo residents admitted to the default organisation');
      } catch (err) {
        log.warn({ err }, 'no demo residents: the simulated NHS did not list its patients');
      }
    },
    stop: () => service.stop(),
  };
}
