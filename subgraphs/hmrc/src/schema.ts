import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { organisationOf, principalOf, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createHmrcService, type HmrcService, type VatReturnInput } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

// The caller's organisation is passed to every service call: the store reads and writes only its rows.
function resolvers(service: HmrcService) {
  return {
    DateTime: scalarResolvers.DateTime,
    Query: {
      hmrcConnection: (_: unknown, __: unknown, ctx: RequestContext) => service.connection(organisationOf(ctx)),
      vatObligations: (_: unknown, a: { vrn: string; from: string; to: string; status?: 'OPEN' | 'FULFILLED' | null; testScenario?: string | null }, ctx: RequestContext) =>
        service.obligations(principalOf(ctx), a.vrn, { from: a.from, to: a.to, status: a.status, scenario: a.testScenario }),
      vatReturn: (_: unknown, a: { vrn: string; periodKey: string }, ctx: RequestContext) => service.viewReturn(principalOf(ctx), a.vrn, a.periodKey),
      vatSubmissions: (_: unknown, a: { vrn: string }, ctx: RequestContext) => service.submissions(organisationOf(ctx), a.vrn),
    },
    Mutation: {
      startHmrcAuthorisation: (_: unknown, __: unknown, ctx: RequestContext) => service.startAuthorisation(principalOf(ctx)),
      completeHmrcAuthorisation: (_: unknown, a: { code: string; state: string }, ctx: RequestContext) => service.completeAuthorisation(principalOf(ctx), a.code, a.state),
      disconnectHmrc: (_: unknown, __: unknown, ctx: RequestContext) => service.disconnect(principalOf(ctx)),
      submitVatReturn: (_: unknown, a: { vrn: string; input: VatReturnInput }, ctx: RequestContext) => service.submitReturn(principalOf(ctx), a.vrn, a.input),
    },
  };
}

export function createHmrcSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined, base: { url: string; simulated: boolean }): Subgraph {
  const service = createHmrcService(rt, publisher, base.url, base.simulated);
  return {
    name: 'hmrc',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
