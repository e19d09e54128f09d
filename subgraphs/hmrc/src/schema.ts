import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createHmrcService, type HmrcService, type VatReturnInput } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

const actor = (ctx: RequestContext) => ctx.actor ?? 'anonymous';

function resolvers(service: HmrcService) {
  return {
    DateTime: scalarResolvers.DateTime,
    Query: {
      hmrcConnection: () => service.connection(),
      vatObligations: (_: unknown, a: { vrn: string; from: string; to: string; status?: 'OPEN' | 'FULFILLED' | null; testScenario?: string | null }, ctx: RequestContext) =>
        service.obligations(a.vrn, { from: a.from, to: a.to, status: a.status, scenario: a.testScenario }, actor(ctx)),
      vatReturn: (_: unknown, a: { vrn: string; periodKey: string }, ctx: RequestContext) => service.viewReturn(a.vrn, a.periodKey, actor(ctx)),
      vatSubmissions: (_: unknown, a: { vrn: string }) => service.submissions(a.vrn),
    },
    Mutation: {
      startHmrcAuthorisation: (_: unknown, __: unknown, ctx: RequestContext) => service.startAuthorisation(actor(ctx)),
      completeHmrcAuthorisation: (_: unknown, a: { code: string; state: string }) => service.completeAuthorisation(a.code, a.state),
      disconnectHmrc: (_: unknown, __: unknown, ctx: RequestContext) => service.disconnect(actor(ctx)),
      submitVatReturn: (_: unknown, a: { vrn: string; input: VatReturnInput }, ctx: RequestContext) => service.submitReturn(a.vrn, a.input, actor(ctx)),
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
