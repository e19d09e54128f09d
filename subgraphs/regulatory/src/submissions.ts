import { randomUUID } from 'node:crypto';
import { and, eq, isNotNull, isNull, or } from 'drizzle-orm';
import { submissions } from '@hub/db';
import { badInput, conflict, forbidden, isUuid, mayActForHome, notFound, RESIDENT_ID, TENANT_ID, type HubRuntime, type OutboxEvent, type Principal } from '@hub/runtime';
import { createMailer } from './mailer.ts';
import { loadKinds, type SubmissionKind } from './submission-kinds.ts';
import type { RegulatoryStore, SubmissionRow } from './store.ts';

const SOURCE = 'hub.regulatory';
const SEND_QUEUE = 'regulatory.submission.send';
const DEADLINE_QUEUE = 'regulatory.submission.deadline';

export interface SubmissionInput {
  kind: string;
  homeId?: string | null;
  residentId?: string | null;
  payload: Record<string, unknown>;
  deadline?: Date | null;
}

/**
 * Notifications and returns to regulators as tracked submissions: made (validated against the kind's JSON Schema),
 * approved by a second client (four eyes), sent by the kind's channel (email over SMTP, with the document
 * attached), then acknowledged or rejected as the regulator answers. A deadline job marks one not sent in time
 * OVERDUE. Every move is conditional on the state it moves from, with its event in the same transaction.
 */
export function createSubmissions(rt: HubRuntime, store: RegulatoryStore, kick: () => void) {
  const kinds = loadKinds();
  const log = rt.log.child({ subgraph: 'regulatory', part: 'submissions' });
  const cfg = rt.config.regulatory.submissions;
  const mailer = createMailer({ url: cfg.smtpUrl, from: cfg.mailFrom, timeoutMs: rt.config.outboundTimeoutMs });

  const event = (type: string, extra: Record<string, unknown> = {}, correlationId?: string) => (s: SubmissionRow): OutboxEvent => ({
    organisationId: s.organisationId,
    homeId: s.homeId,
    residentId: s.residentId,
    type,
    source: SOURCE,
    correlationId: correlationId ?? null,
    // What it is and where it stands; the payload (which names the resident) stays in the submissions table.
    payload: { submissionId: s.id, kind: s.kind, schemaVersion: s.schemaVersion, status: s.status, deadline: s.deadline.toISOString(), homeId: s.homeId, residentId: s.residentId, ...extra },
  });

  const visible = (p: Principal, s: SubmissionRow | undefined) => (s && (s.homeId === null ? p.homeIds === null : mayActForHome(p, s.homeId)) ? s : undefined);
  async function mine(p: Principal, id: string): Promise<SubmissionRow> {
    const s = isUuid(id) ? visible(p, await store.submission(p.organisationId, id)) : undefined;
    if (!s) throw notFound('submission', id);
    return s;
  }

  function recipientFor(k: SubmissionKind): string | null {
    return k.regulator === 'CQC' ? (cfg.cqcNotificationEmail ?? null) : null;
  }

  async function create(p: Principal, input: SubmissionInput, requestId?: string): Promise<SubmissionRow> {
    const k = kinds.latest(input.kind);
    if (!k) throw badInput(`kind ${input.kind} is not a kind of submission the hub knows (${kinds.all().map((x) => x.kind).join(', ')})`, { field: 'kind' });
    if (k.namesResident && !p.scopes.has('health')) throw forbidden(`a ${k.kind} names a resident: it needs the health scope`, { scope: 'health' });
    const homeId = input.homeId?.trim() || null;
    if (homeId && !TENANT_ID.test(homeId)) throw badInput('homeId is not a home id', { field: 'homeId' });
    if (homeId ? !mayActForHome(p, homeId) : p.homeIds !== null) throw forbidden(`${p.client} is limited to homes ${p.homeIds!.join(', ')}`, { homeId });
    if (input.residentId != null && !RESIDENT_ID.test(input.residentId)) throw badInput('residentId must be a resident pseudonym (res_ and 16 letters and digits)', { field: 'residentId' });
    const { missing, invalid } = kinds.problems(k, input.payload);
    if (missing.length || invalid.length) {
      const parts = [...(missing.length ? [`missing ${missing.join(', ')}`] : []), ...invalid];
      throw badInput(`the ${k.kind} payload is not complete or not valid: ${parts.join('; ')}`, { field: 'payload', missing, invalid });
    }
    const now = Date.now();
    const statutory = new Date(now + k.deadlineHours * 3_600_000);
    const deadline = input.deadline ?? statutory;
    if (deadline.getTime() <= now) throw badInput('deadline must be in the future', { field: 'deadline' });
    if (deadline > statutory) throw badInput(`deadline must not be later than the kind's own (${k.deadlineHours} hours: ${statutory.toISOString()})`, { field: 'deadline' });
    const s = await store.insertSubmission(
      p.organisationId,
      { id: randomUUID(), kind: k.kind, schemaVersion: k.version, homeId, residentId: input.residentId ?? null, payload: input.payload, status: 'DRAFT', deadline, channel: k.channel, recipient: recipientFor(k), createdBy: p.client },
      event('regulatory.submission.created', { actor: p.client }, requestId),
    );
    await rt.jobs.send(DEADLINE_QUEUE, { organisationId: p.organisationId, id: s.id }, { startAfter: deadline, id: randomUUID() });
    kick();
    return s;
  }

  /** Four eyes: the client that made it may not approve it. Approval queues the sending. */
  async function approve(p: Principal, id: string, requestId?: string): Promise<SubmissionRow> {
    const s = await mine(p, id);
    const k = kinds.get(s.kind, s.schemaVersion);
    if (k?.namesResident && !p.scopes.has('health')) throw forbidden(`a ${s.kind} names a resident: approving it needs the health scope`, { scope: 'health' });
    if (s.createdBy === p.client) throw forbidden(`${p.client} made this submission: a second client must approve it (four eyes)`, { reason: 'FOUR_EYES' });
    const r = await store.moveSubmission(
      p.organisationId,
      s.id,
      ['DRAFT', 'OVERDUE'],
      { status: 'APPROVED', approvedBy: p.client, approvedAt: new Date() },
      event('regulatory.submission.approved', { actor: p.client }, requestId),
      // One that went overdue is approved only if it had not been.
      or(eq(submissions.status, 'DRAFT'), and(eq(submissions.status, 'OVERDUE'), isNull(submissions.approvedAt))),
    );
    if (!r) throw conflict(`submission ${s.id} is ${s.status}${s.approvedBy ? `, approved by ${s.approvedBy}` : ''}: only a DRAFT (or an OVERDUE one not yet approved) is approved`, { status: s.status });
    await rt.jobs.send(SEND_QUEUE, { organisationId: p.organisationId, id: s.id }, { id: randomUUID() });
    kick();
    return r;
  }

  function document(s: SubmissionRow, k: SubmissionKind) {
    const payload = s.payload as Record<string, any>;
    const text = [
      `${k.title}`,
      `Statutory notification to ${k.regulator === 'CQC' ? 'the Care Quality Commission' : k.regulator}. ${k.basis}.`,
      '',
      `Submission reference: ${s.id}`,
      ...(payload.cqcLocationId ? [`CQC location: ${payload.cqcLocationId}`] : []),
      ...(payload.dateOfDeath ? [`Date of death: ${payload.dateOfDeath}${payload.timeOfDeath ? ` ${payload.timeOfDeath}` : ''}`] : []),
      `Prepared by ${s.createdBy}; approved by ${s.approvedBy} on ${s.approvedAt?.toISOString()}.`,
      `Deadline: ${s.deadline.toISOString()}`,
      '',
      `The notification is attached (${k.kind} version ${k.version}, JSON). Please quote the submission reference in any reply.`,
    ].join('\n');
    const attachment = JSON.stringify({ kind: k.kind, version: k.version, submissionId: s.id, organisationId: s.organisationId, homeId: s.homeId, payload: s.payload }, null, 2);
    return { text, attachment };
  }

  async function send(org: string, id: string, attempt: number): Promise<void> {
    const s = await store.submission(org, id);
    if (!s || !s.approvedAt || !['APPROVED', 'OVERDUE'].includes(s.status)) return; // sent, answered, or never approved
    const k = kinds.get(s.kind, s.schemaVersion);
    if (!k) throw new Error(`submission kind ${s.kind} v${s.schemaVersion} is no longer known`);
    try {
      if (!s.recipient) throw new Error(`no recipient for ${k.regulator} ${k.kind}: set CQC_NOTIFICATION_EMAIL`);
      const doc = document(s, k);
      const ref = await mailer.send({
        to: s.recipient,
        subject: `${k.title} - ${(s.payload as { cqcLocationId?: string }).cqcLocationId ?? s.homeId ?? s.organisationId} - ref ${s.id}`,
        text: doc.text,
        messageId: `<${s.id}@regulatory.care-home-hub>`,
        attachments: [{ filename: `${k.kind}-${s.id}.json`, content: doc.attachment, contentType: 'application/json' }],
      });
      const r = await store.moveSubmission(org, s.id, ['APPROVED', 'OVERDUE'], { status: 'SENT', sentAt: new Date(), deliveryRef: ref, attempts: s.attempts + 1, lastError: null }, event('regulatory.submission.sent', { channel: s.channel, late: s.status === 'OVERDUE' }), isNotNull(submissions.approvedAt));
      if (r) kick();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await store.moveSubmission(org, s.id, ['APPROVED', 'OVERDUE'], { attempts: s.attempts + 1, lastError: message }, null);
      log.warn({ organisationId: org, submissionId: s.id, attempt, err: message }, 'submission not sent; it will be tried again');
      throw err;
    }
  }

  async function overdue(org: string, id: string): Promise<void> {
    const s = await store.submission(org, id);
    if (!s || s.deadline.getTime() > Date.now()) return;
    const r = await store.moveSubmission(org, id, ['DRAFT', 'APPROVED'], { status: 'OVERDUE', overdueAt: new Date() }, event('regulatory.submission.overdue', { wasApproved: s.approvedAt !== null }));
    if (r) kick();
  }

  async function answer(p: Principal, id: string, outcome: 'ACKNOWLEDGED' | 'REJECTED', text: string, requestId?: string): Promise<SubmissionRow> {
    const s = await mine(p, id);
    const value = text.trim();
    const field = outcome === 'ACKNOWLEDGED' ? 'regulatorReference' : 'reason';
    if (value.length < 1 || value.length > 1000) throw badInput(`${field} must be 1 to 1000 characters`, { field });
    const set = outcome === 'ACKNOWLEDGED' ? { status: outcome, acknowledgedAt: new Date(), acknowledgedBy: p.client, regulatorReference: value } : { status: outcome, rejectedAt: new Date(), rejectionReason: value };
    const r = await store.moveSubmission(p.organisationId, s.id, ['SENT'], set, event(`regulatory.submission.${outcome.toLowerCase()}`, { actor: p.client }, requestId));
    if (!r) throw conflict(`submission ${s.id} is ${s.status}: only a SENT one is ${outcome.toLowerCase()}`, { status: s.status });
    kick();
    return r;
  }

  return {
    kinds: () => kinds.all(),
    create,
    approve,
    acknowledge: (p: Principal, id: string, reference: string, requestId?: string) => answer(p, id, 'ACKNOWLEDGED', reference, requestId),
    reject: (p: Principal, id: string, reason: string, requestId?: string) => answer(p, id, 'REJECTED', reason, requestId),
    get: async (p: Principal, id: string) => (isUuid(id) ? (visible(p, await store.submission(p.organisationId, id)) ?? null) : null),
    list: async (p: Principal, q: { status?: string | null; first: number }) => {
      if (!Number.isInteger(q.first) || q.first < 1 || q.first > 500) throw badInput('first must be between 1 and 500', { field: 'first' });
      return (await store.submissionList(p.organisationId, q)).filter((s) => visible(p, s));
    },
    async start() {
      await rt.jobs.define<{ organisationId: string; id: string }>(SEND_QUEUE, (j, job) => send(j.organisationId, j.id, job.retryCount + 1), { retryLimit: 10, retryDelaySeconds: 30, retryBackoff: true });
      await rt.jobs.define<{ organisationId: string; id: string }>(DEADLINE_QUEUE, (j) => overdue(j.organisationId, j.id), { retryLimit: 5, retryDelaySeconds: 10 });
    },
    stop: () => mailer.close(),
  };
}

export type Submissions = ReturnType<typeof createSubmissions>;
