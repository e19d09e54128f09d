import { createHash } from 'node:crypto';
import { and, asc, eq, lt, sql } from 'drizzle-orm';
import { defaultFieldResolver, isObjectType, type GraphQLField, type GraphQLSchema } from 'graphql';
import { stringify } from 'safe-stable-stringify';
import type { Counter } from 'prom-client';
import type { Db } from './db.ts';
import { isHubError } from './errors.ts';
import type { RequestContext } from './graphql.ts';
import { groupCommit } from './group-commit.ts';
import type { Logger } from './logger.ts';
import type { Principal } from './tenancy.ts';

/** What happened, to what, and how it ended. Never secrets; the resident by pseudonym, never the NHS number. */
export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null;
  residentId?: string | null;
  /** OK, or the error code the action ended with (FORBIDDEN, NOT_FOUND, ...). */
  outcome: string;
  details?: Record<string, unknown>;
}

/** One row of an organisation's chain, as stored. */
export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  organisationId: string;
  seq: number;
  at: Date;
  client: string;
  userId: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * The hash of a row: SHA-256 over the previous row's hash and the row's content in a canonical form (sorted keys), so
 * changing any stored field, removing a row or inserting one breaks every hash from there on.
 */
export function auditHash(prevHash: string, r: Omit<AuditRecord, 'prevHash' | 'hash'>): string {
  const canonical = stringify({
    organisationId: r.organisationId,
    seq: r.seq,
    at: r.at.toISOString(),
    client: r.client,
    userId: r.userId,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    residentId: r.residentId,
    outcome: r.outcome,
    requestId: r.requestId,
    details: r.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(canonical!).digest('hex');
}

export interface ChainCheck {
  ok: boolean;
  rows: number;
  brokenAt?: number;
  reason?: string;
}

/**
 * Checks rows of a chain in order, from where the previous page left off (`from`); the first row whose sequence, link
 * or hash does not hold is where the chain was tampered with.
 */
export function verifyAuditChain(rows: AuditRecord[], from: { seq: number; hash: string } = { seq: 0, hash: AUDIT_GENESIS }): ChainCheck & { last: { seq: number; hash: string } } {
  let last = from;
  for (const [i, r] of rows.entries()) {
    const broken = (reason: string) => ({ ok: false, rows: i, brokenAt: r.seq, reason, last });
    if (r.seq !== last.seq + 1) return broken(`row ${last.seq + 1} is missing`);
    if (r.prevHash !== last.hash) return broken('it does not link to the row before it');
    if (auditHash(last.hash, r) !== r.hash) return broken('its content does not match its hash');
    last = { seq: r.seq, hash: r.hash };
  }
  return { ok: true, rows: rows.length, last };
}

// The tables are drizzle's (drizzle/src/audit.ts), handed in so the runtime does not depend on the table package.
type Tables = { log: any; heads: any };

interface Pending extends AuditEntry {
  organisationId: string;
  client: string;
  userId: string | null;
  requestId: string | null;
  at: Date;
}

/**
 * The audit trail of one hub process. Rows from concurrent requests go in one transaction (group commit); each
 * organisation's head row is locked while its rows are chained, so chains stay in order across processes.
 */
export function createAuditTrail(db: Db, tables: Tables, log: Logger, failures?: Counter) {
  const write = groupCommit<Pending>(async (items) => {
    const byOrg = new Map<string, Pending[]>();
    for (const i of items) (byOrg.get(i.organisationId) ?? byOrg.set(i.organisationId, []).get(i.organisationId)!).push(i);
    // Always lock heads in the same (sorted) order: two processes never wait on each other in a circle.
    const orgs = [...byOrg.keys()].sort();
    await db.transaction(async (tx) => {
      for (const org of orgs) {
        await tx.insert(tables.heads).values({ organisationId: org, seq: 0, hash: AUDIT_GENESIS }).onConflictDoNothing();
        const [head] = await tx.select().from(tables.heads).where(eq(tables.heads.organisationId, org)).for('update');
        let { seq, hash } = head as { seq: number; hash: string };
        const rows = byOrg.get(org)!.map((p) => {
          const base = {
            organisationId: org,
            seq: ++seq,
            at: p.at,
            client: p.client,
            userId: p.userId,
            action: p.action,
            targetType: p.targetType,
            targetId: p.targetId ?? null,
            residentId: p.residentId ?? null,
            outcome: p.outcome,
            requestId: p.requestId,
            // What is stored is JSON: hash what will be read back.
            details: JSON.parse(JSON.stringify(p.details ?? {})) as Record<string, unknown>,
          };
          const row = { ...base, prevHash: hash, hash: auditHash(hash, base) };
          hash = row.hash;
          return row;
        });
        await tx.insert(tables.log).values(rows);
        await tx.update(tables.heads).set({ seq, hash }).where(eq(tables.heads.organisationId, org));
      }
    });
    // One transaction: a row the database refuses fails only its own caller.
  }, 200, { atomic: true });

  const trail = {
    /** Appends one row for the principal's organisation; resolves once it is committed. */
    async record(p: Principal, requestId: string | null | undefined, e: AuditEntry): Promise<void> {
      // A hub process's own work on no organisation in particular (composition, readiness) is not an organisation's record.
      if (!p.organisationId) return;
      await write({ ...e, organisationId: p.organisationId, client: p.client, userId: p.userId ?? null, requestId: requestId ?? null, at: new Date() });
    },
    /** An organisation's rows, in chain order, from a sequence on. */
    async rows(org: string, o: { afterSeq?: number; limit?: number; where?: any[] } = {}): Promise<AuditRecord[]> {
      const t = tables.log;
      const rows = await db
        .select()
        .from(t)
        .where(and(eq(t.organisationId, org), sql`${t.seq} > ${o.afterSeq ?? 0}`, ...(o.where ?? [])))
        .orderBy(asc(t.seq))
        .limit(o.limit ?? 1000);
      return rows as AuditRecord[];
    },
    /** Verifies an organisation's whole chain, a page at a time, from the first row retention kept. */
    async verify(org: string): Promise<ChainCheck> {
      const [head] = await db.select().from(tables.heads).where(eq(tables.heads.organisationId, org));
      let last = head ? { seq: Number(head.prunedThrough), hash: head.prunedHash as string } : { seq: 0, hash: AUDIT_GENESIS };
      let count = 0;
      for (;;) {
        const page = await trail.rows(org, { afterSeq: last.seq, limit: 5000 });
        if (!page.length) return { ok: true, rows: count };
        const check = verifyAuditChain(page, last);
        if (!check.ok) return { ok: false, rows: count + check.rows, brokenAt: check.brokenAt, reason: check.reason };
        count += page.length;
        last = check.last;
      }
    },
    /**
     * Removes rows older than `before`, for every organisation (the retention job). Only here may rows go: the
     * trigger that refuses DELETE lets this transaction through. The last removed row's hash is kept as the chain's
     * new starting point, so what remains is still verified link by link.
     */
    async prune(before: Date): Promise<number> {
      const heads = (await db.select({ organisationId: tables.heads.organisationId }).from(tables.heads)) as Array<{ organisationId: string }>;
      let removed = 0;
      for (const { organisationId: org } of heads) {
        removed += await db.transaction(async (tx) => {
          // By sequence, not by time alone: rows from several processes may carry clocks a little apart, and a
          // chain must lose a prefix, never a row in its middle.
          const [cut] = (await tx
            .select({ seq: sql<number>`max(${tables.log.seq})` })
            .from(tables.log)
            .where(and(eq(tables.log.organisationId, org), lt(tables.log.at, before)))) as Array<{ seq: number | null }>;
          if (cut?.seq == null) return 0;
          await tx.execute(sql`select set_config('hub.audit_prune', 'on', true)`);
          const [last] = (await tx.select({ hash: tables.log.hash }).from(tables.log).where(and(eq(tables.log.organisationId, org), eq(tables.log.seq, Number(cut.seq))))) as Array<{ hash: string }>;
          const gone = (await tx
            .delete(tables.log)
            .where(and(eq(tables.log.organisationId, org), sql`${tables.log.seq} <= ${Number(cut.seq)}`))
            .returning({ seq: tables.log.seq })) as unknown[];
          await tx.update(tables.heads).set({ prunedThrough: Number(cut.seq), prunedHash: last!.hash }).where(eq(tables.heads.organisationId, org));
          return gone.length;
        });
      }
      return removed;
    },
    /**
     * Records without holding the request up on a failure: the action already happened, and refusing its answer
     * would not undo it. A failed audit write is logged and counted (hub_audit_write_failures_total) for the operator.
     */
    note(p: Principal | undefined, requestId: string | null | undefined, e: AuditEntry): Promise<void> {
      if (!p) return Promise.resolve();
      return trail.record(p, requestId, e).catch((err) => {
        failures?.inc();
        log.error({ err, action: e.action }, 'audit row could not be written');
      });
    },
  };
  return trail;
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

/** Argument names that identify what a mutation acted on, in order of preference. */
const TARGET_ARGS = ['id', 'systemId', 'integrationId', 'mappingId', 'apiId', 'paymentId', 'subscriptionId', 'ruleId', 'admissionId', 'homeId', 'clientId', 'vrn', 'eventId'];
/** Never copied into an audit row's details, at any depth. */
const SECRET = /secret|password|token|credential|apikey|api_key|private|authorization|key$/i;

/** Personal identifiers: the row names the resident by pseudonym (residentId) instead, so erasure leaves none behind. */
const PERSONAL = /^nhsNumbers?$/i;

function argSummary(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (SECRET.test(k)) out[k] = '[redacted]';
    else if (PERSONAL.test(k)) out[k] = '[resident]';
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string') out[k] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
    // Inputs and data are summarised by shape, not copied: the audit trail is not a second copy of the records.
    else out[k] = Array.isArray(v) ? `[${v.length} items]` : `{${Object.keys(v as object).filter((x) => !SECRET.test(x)).join(', ')}}`;
  }
  return out;
}

function targetOf(args: Record<string, unknown>, result: unknown): string | null {
  for (const a of TARGET_ARGS) if (typeof args[a] === 'string') return args[a] as string;
  const id = (result as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : null;
}

export interface AuditOptions {
  /** The subgraph's name: the target type of its mutations when nothing better is known. */
  subgraph: string;
  /**
   * The pseudonymous resident an NHS number stands for in an organisation (the care directory), so a health read is
   * recorded against the resident without the NHS number itself.
   */
  residentOf?: (organisationId: string, nhsNumber: string) => Promise<string | null>;
}

/**
 * Audits a subgraph's schema in place, so that no resolver can forget to: every mutation (its target, outcome and
 * argument names), and every read of a field marked `@requiresScopes` with health, finance or audit: one row per
 * field per parent record, served from a cache or not.
 */
export function applyAudit(schema: GraphQLSchema, trail: AuditTrail, o: AuditOptions): number {
  let wrapped = 0;
  const mutation = schema.getMutationType();
  const residentOf = async (ctx: RequestContext | undefined, nhsNumber: string): Promise<string | null> => {
    const org = ctx?.principal?.organisationId;
    return org && o.residentOf ? o.residentOf(org, nhsNumber).catch(() => null) : null;
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || type.name.startsWith('_')) continue;
    for (const field of Object.values(type.getFields()) as Array<GraphQLField<unknown, RequestContext>>) {
      const resolve = field.resolve ?? defaultFieldResolver;
      if (type === mutation) {
        field.resolve = async (source, args, ctx, info) => {
          const action = info.fieldName;
          const input = (args.input ?? {}) as Record<string, unknown>;
          const nhsNumber = typeof args.nhsNumber === 'string' ? args.nhsNumber : typeof input.nhsNumber === 'string' ? input.nhsNumber : undefined;
          // Looked up before the change (an erasure removes the link it is made from); a first admission names it in its result.
          const named = typeof args.residentId === 'string' ? args.residentId : nhsNumber ? await residentOf(ctx, nhsNumber) : null;
          const resident = (result: unknown) => {
            const r = (result ?? {}) as { residentId?: unknown };
            return named ?? (typeof r.residentId === 'string' ? r.residentId : null);
          };
          try {
            const result = await resolve(source, args, ctx, info);
            await trail.note(ctx?.principal, ctx?.requestId, { action, targetType: o.subgraph, targetId: targetOf(args, result), residentId: resident(result), outcome: 'OK', details: argSummary(args) });
            return result;
          } catch (err) {
            await trail.note(ctx?.principal, ctx?.requestId, { action, targetType: o.subgraph, targetId: targetOf(args, null), residentId: resident(null), outcome: isHubError(err) ? err.code : 'INTERNAL', details: argSummary(args) });
            throw err;
          }
        };
        wrapped++;
        continue;
      }
      const scoped = field.astNode?.directives?.find((d) => d.name.value === 'requiresScopes');
      if (!scoped) continue;
      const where = `${type.name}.${field.name}`;
      field.resolve = async (source, args, ctx, info) => {
        const parent = (source ?? {}) as Record<string, unknown>;
        const nhsNumber = typeof parent.nhsNumber === 'string' ? parent.nhsNumber : typeof args.nhsNumber === 'string' ? (args.nhsNumber as string) : undefined;
        const residentId = typeof args.residentId === 'string' ? (args.residentId as string) : nhsNumber ? await residentOf(ctx, nhsNumber) : null;
        const targetId = nhsNumber ? null : typeof parent.id === 'string' ? parent.id : targetOf(args, null);
        try {
          const result = await resolve(source, args, ctx, info);
          await trail.note(ctx?.principal, ctx?.requestId, { action: `read ${where}`, targetType: type.name, targetId, residentId, outcome: 'OK' });
          return result;
        } catch (err) {
          await trail.note(ctx?.principal, ctx?.requestId, { action: `read ${where}`, targetType: type.name, targetId, residentId, outcome: isHubError(err) ? err.code : 'INTERNAL' });
          throw err;
        }
      };
      wrapped++;
    }
  }
  return wrapped;
}
