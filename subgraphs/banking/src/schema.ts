import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { money } from './money.ts';
import { createBankingService, type BankingService, type ExpectPaymentInput } from './service.ts';
import type { EntryRow, ExpectedPaymentRow, StatementRow } from './store.ts';
import type { InitiatePaymentInput, OutgoingPaymentRow } from './payments.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

const grouped = <T>(rows: T[], key: (r: T) => string | null, ids: readonly string[]) => ids.map((id) => rows.filter((r) => key(r) === id));

function resolvers(service: BankingService) {
  const payments = (ctx: RequestContext) => loaderFor(ctx, 'banking.payments', async (ids: readonly string[]) => rowsById(await service.paymentsByIds(ids), ids));
  return {
    DateTime: scalarResolvers.DateTime,
    Query: {
      bankStatements: (_: unknown, a: { account?: string | null; first: number }) => service.statements(a.account, a.first),
      bankStatement: (_: unknown, a: { id: string }) => service.statement(a.id),
      expectedPayments: (_: unknown, a: { status?: string | null }) => service.payments(a.status),
      unmatchedBankCredits: (_: unknown, a: { account?: string | null }) => service.unmatched(a.account),
      outgoingPayment: (_: unknown, a: { id: string }) => service.outgoing.get(a.id).catch((e: { code?: string }) => (e.code === 'NOT_FOUND' ? null : Promise.reject(e))),
      outgoingPayments: (_: unknown, a: { status?: string | null }) => service.outgoing.list(a.status),
    },
    Mutation: {
      importBankStatement: (_: unknown, a: { xml: string }, ctx: RequestContext) => service.importStatement(a.xml, ctx.actor ?? 'anonymous'),
      expectPayment: (_: unknown, a: { input: ExpectPaymentInput }) => service.expectPayment(a.input),
      initiatePayment: (_: unknown, a: { input: InitiatePaymentInput }, ctx: RequestContext) => service.outgoing.initiate(a.input, ctx.actor ?? 'anonymous'),
      completePaymentAuthorisation: (_: unknown, a: { state: string; code?: string | null; error?: string | null }) => service.outgoing.complete(a),
    },
    OutgoingPayment: {
      __resolveReference: (ref: { id: string }) => service.outgoing.get(ref.id),
      amount: (p: OutgoingPaymentRow) => money(p.amountMinor, p.currency),
    },
    BankStatement: {
      __resolveReference: async (ref: { id: string }) => service.statement(ref.id),
      openingBalance: (s: StatementRow) => (s.openingMinor == null ? null : money(s.openingMinor, s.balanceCurrency!)),
      closingBalance: (s: StatementRow) => (s.closingMinor == null ? null : money(s.closingMinor, s.balanceCurrency!)),
      entries: (s: StatementRow, _: unknown, ctx: RequestContext) =>
        loaderFor(ctx, 'banking.entries', async (ids: readonly string[]) => grouped(await service.entriesOf(ids), (e) => e.statementId, ids)).load(s.id),
      duplicate: (s: StatementRow & { duplicate?: boolean }) => s.duplicate ?? false,
      matchedPayments: (s: StatementRow & { matchedPayments?: number }) => s.matchedPayments ?? 0,
    },
    BankEntry: {
      amount: (e: EntryRow) => money(e.amountMinor, e.currency),
      expectedPayment: (e: EntryRow, _: unknown, ctx: RequestContext) => (e.expectedPaymentId ? payments(ctx).load(e.expectedPaymentId) : null),
    },
    ExpectedPayment: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => payments(ctx).load(ref.id),
      amount: (p: ExpectedPaymentRow) => money(p.amountMinor, p.currency),
      received: (p: ExpectedPaymentRow) => money(p.receivedMinor, p.currency),
      entries: (p: ExpectedPaymentRow, _: unknown, ctx: RequestContext) =>
        loaderFor(ctx, 'banking.paymentEntries', async (ids: readonly string[]) => grouped(await service.entriesFor(ids), (e) => e.expectedPaymentId, ids)).load(p.id),
    },
  };
}

export function createBankingSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph {
  const service = createBankingService(rt, publisher);
  return {
    name: 'banking',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
