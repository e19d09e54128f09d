import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, principalOf, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { keyQuestionRatings, type CqcRecord } from './cqc-location.ts';
import { createRegulatoryService, type ProfileInput, type RegulatoryService, type StaffInput } from './service.ts';
import type { SubmissionInput } from './submissions.ts';
import type { DbsCheckRow, LocationRow, ProfileRow, ProviderRow, StaffRow } from './store.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const list = (v: unknown): any[] => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
const environment = (e: string) => e.toUpperCase();

function resolvers(service: RegulatoryService) {
  type HomeRef = { id: string; cqcLocationId?: string | null };
  const homeLocation = (ctx: RequestContext) =>
    loaderFor<HomeRef, LocationRow>(ctx, 'regulatory.homeLocation', (refs) => service.homeLocations(principalOf(ctx), refs));
  const org = (ctx: RequestContext) => principalOf(ctx).organisationId;
  return {
    ...scalarResolvers,
    Query: {
      regulatoryProfile: (_: unknown, __: unknown, ctx: RequestContext) => service.profile(org(ctx)),
      cqcLocation: (_: unknown, a: { locationId: string }, ctx: RequestContext) => service.location(org(ctx), a.locationId),
      staffMembers: (_: unknown, a: { homeId?: string | null }, ctx: RequestContext) => service.staffList(principalOf(ctx), a.homeId),
      staffMember: (_: unknown, a: { id: string }, ctx: RequestContext) => service.staff(principalOf(ctx), a.id),
      submissionKinds: () => service.submissions.kinds(),
      submissions: (_: unknown, a: { status?: string | null; first: number }, ctx: RequestContext) => service.submissions.list(principalOf(ctx), a),
      submission: (_: unknown, a: { id: string }, ctx: RequestContext) => service.submissions.get(principalOf(ctx), a.id),
    },
    Mutation: {
      updateRegulatoryProfile: (_: unknown, a: { input: ProfileInput }, ctx: RequestContext) => service.updateProfile(principalOf(ctx), a.input, ctx.requestId),
      syncCqc: (_: unknown, __: unknown, ctx: RequestContext) => service.syncCqc(org(ctx), ctx.requestId),
      addStaffMember: (_: unknown, a: { input: StaffInput }, ctx: RequestContext) => service.addStaff(principalOf(ctx), a.input, ctx.requestId),
      recordDbsConsent: (_: unknown, a: { staffMemberId: string }, ctx: RequestContext) => service.setConsent(principalOf(ctx), a.staffMemberId, true, ctx.requestId),
      withdrawDbsConsent: (_: unknown, a: { staffMemberId: string }, ctx: RequestContext) => service.setConsent(principalOf(ctx), a.staffMemberId, false, ctx.requestId),
      updateDbsCertificate: (_: unknown, a: { staffMemberId: string; dbsCertificateNumber: string }, ctx: RequestContext) =>
        service.updateCertificate(principalOf(ctx), a.staffMemberId, a.dbsCertificateNumber, ctx.requestId),
      checkDbsStatus: (_: unknown, a: { staffMemberId: string }, ctx: RequestContext) => service.checkDbsStatus(principalOf(ctx), a.staffMemberId, ctx.requestId),
      createSubmission: (_: unknown, a: { input: SubmissionInput }, ctx: RequestContext) => service.submissions.create(principalOf(ctx), a.input, ctx.requestId),
      approveSubmission: (_: unknown, a: { id: string }, ctx: RequestContext) => service.submissions.approve(principalOf(ctx), a.id, ctx.requestId),
      acknowledgeSubmission: (_: unknown, a: { id: string; regulatorReference: string }, ctx: RequestContext) =>
        service.submissions.acknowledge(principalOf(ctx), a.id, a.regulatorReference, ctx.requestId),
      rejectSubmission: (_: unknown, a: { id: string; reason: string }, ctx: RequestContext) => service.submissions.reject(principalOf(ctx), a.id, a.reason, ctx.requestId),
    },
    Home: {
      // The care subgraph has said the home is the caller's; this one only adds to it.
      __resolveReference: (ref: HomeRef) => ref,
      cqcLocation: (h: HomeRef, _: unknown, ctx: RequestContext) => (h.cqcLocationId ? homeLocation(ctx).load({ id: h.id, cqcLocationId: h.cqcLocationId }) : null),
    },
    RegulatoryProfile: {
      organisationName: (p: ProfileRow) => p.name ?? null,
      dbsContact: (p: ProfileRow) => (p.dbsContactForename && p.dbsContactSurname ? { forename: p.dbsContactForename, surname: p.dbsContactSurname } : null),
      cqcProvider: async (p: ProfileRow) => (p.cqcProviderId ? ((await service.provider(p.organisationId, p.cqcProviderId)) ?? null) : null),
      cqcLocations: (p: ProfileRow) => service.locations(p.organisationId),
      cqcEnvironment: () => environment(service.cqcEnvironment()),
      dbsEnvironment: () => environment(service.dbsEnvironment()),
    },
    CqcProvider: {
      record: (p: ProviderRow) => p.data,
    },
    CqcLocation: {
      registrationDate: (l: LocationRow) => str(l.data.registrationDate),
      deregistrationDate: (l: LocationRow) => str(l.data.deregistrationDate),
      careHome: (l: LocationRow) => (l.data.careHome === 'Y' ? true : l.data.careHome === 'N' ? false : null),
      numberOfBeds: (l: LocationRow) => (typeof l.data.numberOfBeds === 'number' ? Math.trunc(l.data.numberOfBeds) : null),
      localAuthority: (l: LocationRow) => str(l.data.localAuthority),
      region: (l: LocationRow) => str(l.data.region),
      postalCode: (l: LocationRow) => str(l.data.postalCode),
      regulatedActivities: (l: LocationRow) => list(l.data.regulatedActivities).map((r) => ({ code: str(r.code), name: str(r.name) })),
      serviceTypes: (l: LocationRow) => list(l.data.gacServiceTypes).map((t) => ({ name: str(t.name), description: str(t.description) })),
      specialisms: (l: LocationRow) => list(l.data.specialisms).map((s) => str(s.name)).filter(Boolean),
      currentRatings: (l: LocationRow) => {
        const r = (l.data as CqcRecord).currentRatings;
        if (!r || typeof r !== 'object') return null;
        const o = r.overall;
        return {
          overall: o ? { rating: str(o.rating), reportDate: str(o.reportDate), reportLinkId: str(o.reportLinkId) } : null,
          keyQuestions: keyQuestionRatings(l.data),
        };
      },
      lastInspectionDate: (l: LocationRow) => str((l.data as CqcRecord).lastInspection?.date),
      lastReportPublishedOn: (l: LocationRow) => str((l.data as CqcRecord).lastReport?.publicationDate),
      reports: (l: LocationRow) =>
        list(l.data.reports).map((r) => ({ linkId: str(r.linkId), reportDate: str(r.reportDate), reportType: str(r.reportType), reportUri: str(r.reportUri), firstVisitDate: str(r.firstVisitDate) })),
      record: (l: LocationRow) => l.data,
    },
    StaffMember: {
      dbsConsentRecordedAt: (s: StaffRow) => s.consentRecordedAt,
      dbsConsentRecordedBy: (s: StaffRow) => s.consentRecordedBy,
      latestDbsCheck: async (s: StaffRow) => (await service.dbsChecks(s.organisationId, s.id, 1))[0] ?? null,
      dbsChecks: (s: StaffRow, a: { first: number }) => service.dbsChecks(s.organisationId, s.id, a.first),
    },
    DbsCheck: {
      status: (c: DbsCheckRow) => c.status,
    },
  };
}

/**
 * The regulatory subgraph: what the CQC register says about the organisation's provider and homes (kept current
 * through CQC's change feed), and DBS Update Service status checks of its staff. It never reads the care tables: a
 * home reaches its CQC location through the federation (`Home.cqcLocation` requires the care subgraph's cqcLocationId).
 */
export function createRegulatorySubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph & { service: RegulatoryService } {
  const service = createRegulatoryService(rt, publisher);
  return {
    name: 'regulatory',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    // CQC ids (1-101234567) and home ids are not UUIDs.
    textIds: ['Query.cqcLocation(locationId:)', 'Query.staffMembers(homeId:)', 'AddStaffMemberInput.homeId', 'CreateSubmissionInput.homeId'],
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
