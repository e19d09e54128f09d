import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { and, eq, gte, lte, type SQL } from 'drizzle-orm';
import { auditLog } from '@hub/db';
import { badInput, organisationOf, requireScope, scalarResolvers, SUBJECT_ACCESS_MAX_ROWS, type AuditTrail, type RequestContext, type Subgraph } from '@hub/runtime';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

interface AuditFilter {
  action?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  residentId?: string | null;
  client?: string | null;
  outcome?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/** The filter as SQL conditions on the log (the organisation is the store's, always). */
export function auditConditions(f: AuditFilter = {}): SQL[] {
  const where: SQL[] = [];
  for (const k of ['action', 'targetType', 'targetId', 'residentId', 'client', 'outcome'] as const) {
    const v = f[k];
    if (v != null) where.push(eq(auditLog[k], v));
  }
  if (f.from) where.push(gte(auditLog.at, f.from));
  if (f.to) where.push(lte(auditLog.at, f.to));
  return where;
}

export function parseAfter(after: string | null | undefined): number {
  if (after == null) return 0;
  if (!/^\d{1,15}$/.test(after)) throw badInput('after must be the endCursor of a previous page', { field: 'after' });
  return Number(after);
}

/** The audit trail, for the organisation's auditors: read-only; rows are written by every subgraph (applyAudit). */
export function createAuditSubgraph(trail: AuditTrail, retentionDays: number): Subgraph {
  const resolvers = {
    ...scalarResolvers,
    Query: {
      auditLog: async (_: unknown, a: { filter?: AuditFilter; first: number; after?: string }, ctx: RequestContext) => {
        // The gateway enforces @requiresScopes; checked here too, for a caller that reaches this subgraph directly.
        requireScope(ctx, 'audit', 'the audit trail');
        if (!Number.isInteger(a.first) || a.first < 1 || a.first > 1000) throw badInput('first must be between 1 and 1000', { field: 'first' });
        const rows = await trail.rows(organisationOf(ctx), { afterSeq: parseAfter(a.after), limit: a.first + 1, where: auditConditions(a.filter) });
        const page = rows.slice(0, a.first);
        return { entries: page.map((r) => ({ ...r, seq: String(r.seq) })), endCursor: rows.length > a.first ? String(page[page.length - 1]!.seq) : null };
      },
      auditChain: async (_: unknown, _a: unknown, ctx: RequestContext) => {
        requireScope(ctx, 'audit', 'the audit trail');
        const r = await trail.verify(organisationOf(ctx));
        return { ...r, brokenAt: r.brokenAt === undefined ? null : String(r.brokenAt), reason: r.reason ?? null };
      },
    },
    SubjectAccess: {
      __resolveReference: (ref: { residentId: string }) => ref,
      auditEntries: async (ref: { residentId: string }, a: { first: number; after?: string }, ctx: RequestContext) => {
        requireScope(ctx, 'audit', 'subject access');
        requireScope(ctx, 'health', 'subject access');
        if (!Number.isInteger(a.first) || a.first < 1 || a.first > SUBJECT_ACCESS_MAX_ROWS) throw badInput(`first must be 1 to ${SUBJECT_ACCESS_MAX_ROWS}`, { field: 'first' });
        const rows = await trail.rows(organisationOf(ctx), { afterSeq: parseAfter(a.after), limit: a.first + 1, where: auditConditions({ residentId: ref.residentId }) });
        const page = rows.slice(0, a.first);
        return { entries: page.map((r) => ({ ...r, seq: String(r.seq) })), endCursor: rows.length > a.first ? String(page[page.length - 1]!.seq) : null };
      },
    },
  };
  return {
    name: 'audit',
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]),
    // Audit rows are kept longest of all: they are the record of who saw and changed what.
    retention: [{ kind: 'audit rows', days: retentionDays, apply: (before) => trail.prune(before) }],
  };
}
