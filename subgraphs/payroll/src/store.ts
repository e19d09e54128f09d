import { and, asc, desc, eq, inArray, isNull } from 'drizzle-orm';
import { payrollEmployees, payrollEmployers, payrollOutbox, payrollPayslips, payrollRuns, rtiSubmissions, type Schema } from '@hub/db';
import { outboxRow, type Db, type OutboxEvent } from '@hub/runtime';

export type EmployerRow = typeof payrollEmployers.$inferSelect;
export type EmployeeRow = typeof payrollEmployees.$inferSelect;
export type RunRow = typeof payrollRuns.$inferSelect;
export type PayslipRow = typeof payrollPayslips.$inferSelect;
export type SubmissionRow = typeof rtiSubmissions.$inferSelect;
type Announce = Omit<OutboxEvent, 'organisationId'>;

/**
 * Queries of the payroll tables. Every function takes the organisation first and reads and writes only its rows: an
 * employee, run or submission of another organisation is, to the caller, one that does not exist.
 */
export function createPayrollStore(db: Db<Schema>) {
  const announce = (org: string, a: Announce) => outboxRow({ ...a, organisationId: org });
  return {
    async insertEmployer(org: string, row: Omit<EmployerRow, 'organisationId' | 'createdAt'>): Promise<EmployerRow> {
      const [r] = await db.insert(payrollEmployers).values({ ...row, organisationId: org }).returning();
      return r!;
    },
    async employer(org: string, id: string): Promise<EmployerRow | undefined> {
      return (await db.select().from(payrollEmployers).where(and(eq(payrollEmployers.organisationId, org), eq(payrollEmployers.id, id))))[0];
    },
    employers: (org: string) => db.select().from(payrollEmployers).where(eq(payrollEmployers.organisationId, org)).orderBy(asc(payrollEmployers.name)),

    async insertEmployee(org: string, row: Omit<EmployeeRow, 'organisationId' | 'createdAt'>): Promise<EmployeeRow> {
      const [r] = await db.insert(payrollEmployees).values({ ...row, organisationId: org }).returning();
      return r!;
    },
    async employee(org: string, id: string): Promise<EmployeeRow | undefined> {
      return (await db.select().from(payrollEmployees).where(and(eq(payrollEmployees.organisationId, org), eq(payrollEmployees.id, id))))[0];
    },
    employees: (org: string, employerId: string) =>
      db.select().from(payrollEmployees).where(and(eq(payrollEmployees.organisationId, org), eq(payrollEmployees.employerId, employerId))).orderBy(asc(payrollEmployees.payId)),
    async employeesByIds(org: string, ids: string[]): Promise<EmployeeRow[]> {
      if (!ids.length) return [];
      return db.select().from(payrollEmployees).where(and(eq(payrollEmployees.organisationId, org), inArray(payrollEmployees.id, ids)));
    },

    async insertRun(org: string, row: Omit<RunRow, 'organisationId' | 'createdAt' | 'calculatedBy' | 'calculatedAt' | 'approvedBy' | 'approvedAt'>): Promise<RunRow> {
      const [r] = await db.insert(payrollRuns).values({ ...row, organisationId: org }).returning();
      return r!;
    },
    async run(org: string, id: string): Promise<RunRow | undefined> {
      return (await db.select().from(payrollRuns).where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, id))))[0];
    },
    runs: (org: string, employerId: string) =>
      db.select().from(payrollRuns).where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.employerId, employerId))).orderBy(desc(payrollRuns.createdAt)),
    payslips: (org: string, runId: string) => db.select().from(payrollPayslips).where(and(eq(payrollPayslips.organisationId, org), eq(payrollPayslips.runId, runId))),

    /** The run's payslips, replaced, and the run CALCULATED, only while it is not yet approved. */
    async saveCalculation(org: string, runId: string, by: string, slips: Array<{ employeeId: string; figures: Record<string, unknown> }>): Promise<boolean> {
      return db.transaction(async (tx) => {
        const r = await tx
          .update(payrollRuns)
          .set({ status: 'CALCULATED', calculatedBy: by, calculatedAt: new Date(), approvedBy: null, approvedAt: null })
          .where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, runId), inArray(payrollRuns.status, ['DRAFT', 'CALCULATED'])))
          .returning({ id: payrollRuns.id });
        if (!r.length) return false;
        await tx.delete(payrollPayslips).where(and(eq(payrollPayslips.organisationId, org), eq(payrollPayslips.runId, runId)));
        if (slips.length) await tx.insert(payrollPayslips).values(slips.map((s) => ({ ...s, organisationId: org, runId })));
        return true;
      });
    },

    /** Approves a calculated run and carries each employee's year to date forward, once. */
    async approve(org: string, runId: string, by: string, taxYear: string, ytd: Array<{ employeeId: string; ytd: Record<string, number> }>, a: Announce): Promise<boolean> {
      return db.transaction(async (tx) => {
        const r = await tx
          .update(payrollRuns)
          .set({ status: 'APPROVED', approvedBy: by, approvedAt: new Date() })
          .where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, runId), eq(payrollRuns.status, 'CALCULATED')))
          .returning({ id: payrollRuns.id });
        if (!r.length) return false;
        for (const y of ytd) {
          await tx.update(payrollEmployees).set({ ytd: y.ytd, ytdTaxYear: taxYear }).where(and(eq(payrollEmployees.organisationId, org), eq(payrollEmployees.id, y.employeeId)));
        }
        await tx.insert(payrollOutbox).values(announce(org, a));
        return true;
      });
    },

    async setRunStatus(org: string, runId: string, status: string): Promise<void> {
      await db.update(payrollRuns).set({ status }).where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, runId)));
    },

    /**
     * Records a document before anything is sent (PREPARED). One FPS per run: false when the run already has one (the
     * caller then answers with that one, and nothing is filed twice).
     */
    async prepare(org: string, row: Omit<SubmissionRow, 'organisationId' | 'createdAt' | 'polls' | 'errors' | 'correlationId' | 'responseEndpoint' | 'pollIntervalSeconds' | 'nextPollAt' | 'sentAt' | 'completedAt' | 'deletedAt'>, a: Announce): Promise<boolean> {
      return db.transaction(async (tx) => {
        const r = await tx.insert(rtiSubmissions).values({ ...row, organisationId: org }).onConflictDoNothing().returning({ id: rtiSubmissions.id });
        if (!r.length) return false;
        if (row.runId) await tx.update(payrollRuns).set({ status: 'SUBMITTING' }).where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, row.runId)));
        await tx.insert(payrollOutbox).values(announce(org, a));
        return true;
      });
    },
    async submission(org: string, id: string): Promise<SubmissionRow | undefined> {
      return (await db.select().from(rtiSubmissions).where(and(eq(rtiSubmissions.organisationId, org), eq(rtiSubmissions.id, id))))[0];
    },
    async submissionOfRun(org: string, runId: string, kind: string): Promise<SubmissionRow | undefined> {
      return (await db.select().from(rtiSubmissions).where(and(eq(rtiSubmissions.organisationId, org), eq(rtiSubmissions.runId, runId), eq(rtiSubmissions.kind, kind))))[0];
    },
    /** Claims a PREPARED document for sending (SENDING, written before the request leaves): false if another worker has it. */
    async claimSend(org: string, id: string): Promise<boolean> {
      const r = await db
        .update(rtiSubmissions)
        .set({ status: 'SENDING', sentAt: new Date() })
        .where(and(eq(rtiSubmissions.organisationId, org), eq(rtiSubmissions.id, id), eq(rtiSubmissions.status, 'PREPARED')))
        .returning({ id: rtiSubmissions.id });
      return r.length > 0;
    },
    async update(org: string, id: string, set: Partial<Omit<SubmissionRow, 'organisationId' | 'id'>>, a?: Announce, runStatus?: string): Promise<SubmissionRow> {
      return db.transaction(async (tx) => {
        const [r] = await tx.update(rtiSubmissions).set(set).where(and(eq(rtiSubmissions.organisationId, org), eq(rtiSubmissions.id, id))).returning();
        if (runStatus && r!.runId) await tx.update(payrollRuns).set({ status: runStatus }).where(and(eq(payrollRuns.organisationId, org), eq(payrollRuns.id, r!.runId)));
        if (a) await tx.insert(payrollOutbox).values(announce(org, a));
        return r!;
      });
    },
    /** Documents HMRC acknowledged and has not answered yet, in every organisation (the poller resumes them at start). */
    awaiting: () => db.select({ organisationId: rtiSubmissions.organisationId, id: rtiSubmissions.id, polls: rtiSubmissions.polls, nextPollAt: rtiSubmissions.nextPollAt }).from(rtiSubmissions).where(inArray(rtiSubmissions.status, ['PREPARED', 'AWAITING_RESPONSE'])),
    undeleted: () => db.select({ organisationId: rtiSubmissions.organisationId, id: rtiSubmissions.id }).from(rtiSubmissions).where(and(inArray(rtiSubmissions.status, ['ACCEPTED', 'REJECTED']), isNull(rtiSubmissions.deletedAt))),
  };
}

export type PayrollStore = ReturnType<typeof createPayrollStore>;
