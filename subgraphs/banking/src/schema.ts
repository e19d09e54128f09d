import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, organisationOf, principalOf, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { money } from './money.ts';
import { createBankingService, type BankingService, type ExpectPaymentInput } from './service.ts';
import type { EntryRow, ExpectedPaymentRow, StatementRow } from './store.ts';
import type { InitiatePaymentInput, OutgoingPaymentRow } from './payments.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

const grouped = <T>(rows: T[], key: (r: T) => string | null, ids: readonly string[]) => ids.map((id) => rows.filter((r) => key(r) === id));

const orNullWhenNotFound = <T>(p: Promise<T>) => p.catch((e: { code?: string }) => (e.code === 'NOT_FOUND' ? null : Promise.reject(e)));

// Every read names the caller's organisation (loaders too: one per request, so one caller's): another organisation's
// id finds nothing.
function resolvers(service: BankingService) {
  const payments = (ctx: RequestContext) => loaderFor(ctx, 'banking.payments', async (ids: readonly string[]) => rowsById(await service.paymentsByIds(organisationOf(ctx), ids), ids));
  return {
    DateTime: scalarResolvers.DateTime,
    Query: {
      bankStatements: (_: unknown, a: { account?: string | null; first: number }, ctx: RequestContext) => service.statements(organisationOf(ctx), a.account, a.first),
      bankStatement: (_: unknown, a: { id: string }, ctx: RequestContext) => service.statement(organisationOf(ctx), a.id),
      expectedPayments: (_: unknown, a: { status?: string | null }, ctx: RequestContext) => service.payments(organisationOf(ctx), a.status),
      unmatchedBankCredits: (_: unknown, a: { account?: string | null }, ctx: RequestContext) => service.unmatched(organisationOf(ctx), a.account),
      outgoingPayment: (_: unknown, a: { id: string }, ctx: RequestContext) => orNullWhenNotFound(service.outgoing.get(organisationOf(ctx), a.id)),
      outgoingPayments: (_: unknown, a: { status?: string | null }, ctx: RequestContext) => service.outgoing.list(organisationOf(ctx), a.status),
    },
    Mutation: {
      importBankStatement: (_: unknown, a: { xml: string }, ctx: RequestContext) => {
        const p = principalOf(ctx);
        return service.importStatement(p.organisationId, a.xml, p.client);
      },
      expectPayment: (_: unknown, a: { input: ExpectPaymentInput }, ctx: RequestContext) => service.expectPayment(organisationOf(ctx), a.input),
      initiatePayment: (_: unknown, a: { input: InitiatePaymentInput }, ctx: RequestContext) => service.outgoing.initiate(principalOf(ctx), a.input),
      completePaymentAuthorisation: (_: unknown, a: { state: string; code?: string | null; error?: string | null }, ctx: RequestContext) => service.outgoing.complete(principalOf(ctx), a),
    },
    OutgoingPayment: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => orNullWhenNotFound(service.outgoing.get(organisationOf(ctx), ref.id)),
      amount: (p: OutgoingPaymentRow) => money(p.amountMinor, p.currency),
    },
    BankStatement: {
      __resolveReference: async (ref: { id: string }, ctx: RequestContext) => service.statement(organisationOf(ctx), ref.id),
      openingBalance: (s: StatementRow) => (s.openingMinor == null ? null : money(s.openingMinor, s.balanceCurrency!)),
      closingBalance: (s: StatementRow) => (s.closingMinor == null ? null : money(s.closingMinor, s.balanceCurrency!)),
      entries: (s: StatementRow, _: unknown, ctx: RequestContext) =>
        loaderFor(ctx, 'banking.entries', async (ids: readonly string[]) => grouped(await service.entriesOf(organisationOf(ctx), ids), (e) => e.statementId, ids)).load(s.id),
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
        loaderFor(ctx, 'banking.paymentEntries', async (ids: readonly string[]) => grouped(await service.entriesFor(organisationOf(ctx), ids), (e) => e.expectedPaymentId, ids)).load(p.id),
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
