import { bigint, boolean, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/**
 * Tables of the payroll subgraph: an organisation's PAYE schemes (employers), their employees, payroll runs with
 * their payslips, and the RTI documents (FPS, EPS) filed with HMRC through the Transaction Engine. Amounts are pence.
 */
export const payrollSchema = pgSchema('payroll');

/** A PAYE scheme of the organisation: HMRC's office number and reference, and the Accounts Office reference. */
export const payrollEmployers = payrollSchema.table(
  'employers',
  {
    organisationId: text('organisation_id').notNull(),
    id: text('id').notNull(),
    name: text('name').notNull(),
    officeNumber: text('office_number').notNull(),
    payeReference: text('paye_reference').notNull(),
    accountsOfficeReference: text('accounts_office_reference').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.id] }), uniqueIndex('payroll_employers_reference').on(t.organisationId, t.officeNumber, t.payeReference)],
);

/** An employee of a scheme, with what PAYE needs: tax code, NI category, loans, pension, and the year to date. */
export const payrollEmployees = payrollSchema.table(
  'employees',
  {
    organisationId: text('organisation_id').notNull(),
    id: text('id').notNull(),
    employerId: text('employer_id').notNull(),
    payId: text('pay_id').notNull(),
    title: text('title'),
    forenames: jsonb('forenames').$type<string[]>().notNull(),
    surname: text('surname').notNull(),
    nino: text('nino'),
    birthDate: text('birth_date').notNull(),
    gender: text('gender').notNull(),
    address: jsonb('address').$type<{ lines: string[]; postcode: string } | null>(),
    frequency: text('frequency').notNull(),
    payPerPeriod: bigint('pay_per_period', { mode: 'number' }).notNull(),
    taxCode: text('tax_code').notNull(),
    week1Month1: boolean('week1_month1').notNull().default(false),
    niCategory: text('ni_category').notNull(),
    studentLoanPlan: text('student_loan_plan'),
    postgraduateLoan: boolean('postgraduate_loan').notNull().default(false),
    pension: jsonb('pension').$type<{ scheme: string; employeeBp: number; employerBp: number } | null>(),
    hoursWorked: text('hours_worked').notNull().default('C'),
    startDate: text('start_date'),
    starterDeclaration: text('starter_declaration'),
    leavingDate: text('leaving_date'),
    /** Tax year of `ytd` ("2025-26"); a run of another year starts from zero. */
    ytdTaxYear: text('ytd_tax_year'),
    ytd: jsonb('ytd').$type<Record<string, number> | null>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.id] }), uniqueIndex('payroll_employees_pay_id').on(t.organisationId, t.employerId, t.payId)],
);

/** A payroll run: created, calculated, approved by a second person, submitted to HMRC as an FPS. */
export const payrollRuns = payrollSchema.table(
  'runs',
  {
    organisationId: text('organisation_id').notNull(),
    id: text('id').notNull(),
    employerId: text('employer_id').notNull(),
    taxYear: text('tax_year').notNull(),
    frequency: text('frequency').notNull(),
    period: integer('period').notNull(),
    paymentDate: text('payment_date').notNull(),
    status: text('status').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    calculatedBy: text('calculated_by'),
    calculatedAt: timestamp('calculated_at', { withTimezone: true }),
    approvedBy: text('approved_by'),
    approvedAt: timestamp('approved_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.id] }), uniqueIndex('payroll_runs_period').on(t.organisationId, t.employerId, t.taxYear, t.frequency, t.period)],
);

/** One employee's pay in a run: gross to net, and the year to date after it. */
export const payrollPayslips = payrollSchema.table(
  'payslips',
  {
    organisationId: text('organisation_id').notNull(),
    runId: text('run_id').notNull(),
    employeeId: text('employee_id').notNull(),
    figures: jsonb('figures').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.runId, t.employeeId] })],
);

/**
 * An RTI document and where it is in the Transaction Engine's protocol. Written (PREPARED) before it is sent, and its
 * CorrelationID, ResponseEndPoint and poll interval stored as soon as HMRC acknowledges it, so a restarted hub polls
 * on and never sends it again. One FPS per run.
 */
export const rtiSubmissions = payrollSchema.table(
  'rti_submissions',
  {
    organisationId: text('organisation_id').notNull(),
    id: text('id').notNull(),
    employerId: text('employer_id').notNull(),
    runId: text('run_id'),
    kind: text('kind').notNull(),
    taxYear: text('tax_year').notNull(),
    status: text('status').notNull(),
    document: text('document').notNull(),
    irmark: text('irmark').notNull(),
    correlationId: text('correlation_id'),
    responseEndpoint: text('response_endpoint'),
    pollIntervalSeconds: integer('poll_interval_seconds'),
    nextPollAt: timestamp('next_poll_at', { withTimezone: true }),
    polls: integer('polls').notNull().default(0),
    errors: jsonb('errors').$type<Array<Record<string, unknown>>>().notNull().default([]),
    submittedBy: text('submitted_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.id] }), uniqueIndex('payroll_rti_run').on(t.organisationId, t.runId, t.kind), index('payroll_rti_status').on(t.status)],
);

export const payrollOutbox = outboxTable(payrollSchema);
