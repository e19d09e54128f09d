import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { organisationOf, principalOf, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph } from '@hub/runtime';
import { createPayrollService, type EmployeeInput, type EpsRequest, type PayrollService, type RunInput } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

// The caller's organisation is passed to every service call: the store reads and writes only its rows.
function resolvers(service: PayrollService) {
  return {
    DateTime: scalarResolvers.DateTime,
    Query: {
      payrollEmployers: (_: unknown, __: unknown, ctx: RequestContext) => service.employers(organisationOf(ctx)),
      payrollEmployees: (_: unknown, a: { employerId: string }, ctx: RequestContext) => service.employees(organisationOf(ctx), a.employerId),
      payrollRun: (_: unknown, a: { id: string }, ctx: RequestContext) => service.run(organisationOf(ctx), a.id),
      payrollRuns: (_: unknown, a: { employerId: string }, ctx: RequestContext) => service.runs(organisationOf(ctx), a.employerId),
      rtiSubmission: (_: unknown, a: { id: string }, ctx: RequestContext) => service.submission(organisationOf(ctx), a.id),
    },
    Mutation: {
      createPayrollEmployer: (_: unknown, a: { input: Parameters<PayrollService['createEmployer']>[1] }, ctx: RequestContext) => service.createEmployer(organisationOf(ctx), a.input),
      createPayrollEmployee: (_: unknown, a: { input: EmployeeInput }, ctx: RequestContext) => service.createEmployee(organisationOf(ctx), a.input),
      createPayrollRun: (_: unknown, a: { input: RunInput }, ctx: RequestContext) => service.createRun(principalOf(ctx), a.input),
      calculatePayrollRun: (_: unknown, a: { id: string }, ctx: RequestContext) => service.calculate(principalOf(ctx), a.id),
      approvePayrollRun: (_: unknown, a: { id: string }, ctx: RequestContext) => service.approve(principalOf(ctx), a.id),
      submitPayrollRun: (_: unknown, a: { id: string }, ctx: RequestContext) => service.submitRun(principalOf(ctx), a.id),
      submitEmployerPaymentSummary: (_: unknown, a: { input: EpsRequest }, ctx: RequestContext) => service.submitEps(principalOf(ctx), a.input),
    },
    PayrollRun: {
      payslips: (r: { organisationId: string; id: string }) => service.payslips(r.organisationId, r.id),
      submission: (r: { organisationId: string; id: string }) => service.submissionOfRun(r.organisationId, r.id),
    },
  };
}

export function createPayrollSubgraph(rt: HubRuntime, publisher: () => EventPublisher | undefined): Subgraph {
  const service = createPayrollService(rt, publisher);
  return {
    name: 'payroll',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
