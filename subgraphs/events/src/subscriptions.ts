import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { badInput, DEFAULT_ORGANISATION, deterministicUuid, isHubError, notFound, type HubRuntime, type Principal, type Scope } from '@hub/runtime';
import type { EventFilter, EventRow, EventsStore } from './store.ts';
import type { PublishInput } from './service.ts';
import { createSubscriptionsStore, type SubscriptionRow } from './subscriptions-store.ts';
import { assertMayUse } from './visibility.ts';

const QUEUE = 'events.deliver';
const BATCH = 20;
/** Long enough for a batch of slow webhooks (10 s each); a crashed worker's lease lapses after it. */
const LEASE_MS = 5 * 60_000;

export interface SubscribeInput {
  name: string;
  filter?: EventFilter | null;
  targetUrl: string;
  maxAttempts?: number | null;
  fromSequence?: number | null;
}

export interface RuleInput {
  name: string;
  filter: EventFilter;
  publish?: { type: string; source?: string | null; mapping?: Record<string, string> | null } | null;
  webhookUrl?: string | null;
  triggerSyncOf?: string | null;
  maxAttempts?: number | null;
  fromSequence?: number | null;
}

/** What a rule may do beyond this subgraph: publish as its creator, sync one of its organisation's integrations. */
export interface RulePorts {
  publish(p: Principal, e: PublishInput): Promise<void>;
  triggerSync?(organisationId: string, integrationId: string, causationId: string, idempotencyKey: string): Promise<void>;
}

/**
 * The client a subscription acts for, as it was when it made it: a webhook receives, and a rule reacts to, only
 * what that client could read. A subscription from before subscriptions kept their creator reads with `read` alone.
 */
export function readerOf(s: SubscriptionRow): Principal {
  return {
    client: s.createdBy ?? `subscription:${s.id}`,
    organisationId: s.organisationId,
    homeIds: s.readerHomes ?? null,
    scopes: new Set((s.readerScopes ?? ['read']) as Scope[]),
  };
}

/** What a new subscription records of its creator. */
const creator = (p: Principal) => ({ createdBy: p.client, readerScopes: [...p.scopes], readerHomes: p.homeIds ? [...p.homeIds] : null });

/**
 * A rule's payload mapping, kept as data: each target field is a dotted path into the matching event
 * (`payload.resident.nhsNumber`, `correlationId`) or, after `=`, a literal (`=admitted`).
 */
export function mapPayload(mapping: Record<string, string> | null | undefined, e: EventRow): Record<string, unknown> {
  if (!mapping) return e.payload as Record<string, unknown>;
  const source = eventJson(e) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, expr] of Object.entries(mapping)) {
    out[field] = expr.startsWith('=') ? expr.slice(1) : expr.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), source) ?? null;
  }
  return out;
}

/** The JSON body a webhook receives: the event as the graph shows it. */
export function eventJson(e: EventRow) {
  return {
    id: e.id,
    sequence: String(e.sequence),
    type: e.type,
    source: e.source,
    destination: e.destination,
    payload: e.payload,
    timestamp: e.timestamp.toISOString(),
    correlationId: e.correlationId,
    causationId: e.causationId,
    metadata: e.metadata,
    status: e.status,
    publisher: e.publisher ?? null,
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe-style receivers verify. */
export function signature(secret: string, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

/**
 * Durable subscriptions: at-least-once webhook delivery in log order, with the offset kept in Postgres, retries
 * with exponential backoff and full jitter, a dead-letter list after maxAttempts, and replay from any sequence.
 * One job per subscription and offset on the job queue; a lease keeps a subscription with one worker at a time.
 */
export function createSubscriptionsService(rt: HubRuntime, events: EventsStore, ports: () => RulePorts) {
  const store = createSubscriptionsStore(rt.database.db);
  const log = rt.log.child({ part: 'event-subscriptions' });
  const baseDelayMs = rt.config.webhookRetryBaseMs;

  const backoff = (attempt: number) => Math.round(Math.random() * Math.min(5 * 60_000, baseDelayMs * 2 ** (attempt - 1)));

  /**
   * One delivery job per subscription, offset, attempt and log head: the same kick twice (several processes, a
   * burst of appends) queues one job, while news the last job could not have seen (a higher head) queues another.
   */
  async function kick(s: Pick<SubscriptionRow, 'organisationId' | 'id' | 'offset' | 'attempts'>, startAfter?: Date, head?: number, replay?: string) {
    const h = head ?? (await events.head());
    // A replay is news of its own: its offset and head may be those of a job that has already run.
    const id = deterministicUuid('deliver', s.id, String(s.offset), String(s.attempts), String(h), ...(replay ? [replay] : []));
    await rt.jobs.send(QUEUE, { organisationId: s.organisationId, subscriptionId: s.id }, { id, startAfter });
  }

  /** Runs a rule's action for one event; null when done. */
  async function act(s: SubscriptionRow, secret: string | null, e: EventRow): Promise<string | null> {
    const action = (s.action ?? {}) as { publish?: RuleInput['publish']; sync?: { integrationId: string } };
    if (s.kind === 'WEBHOOK' || s.targetUrl) return post(s, secret!, e);
    try {
      if (action.publish) {
        // As its creator: the derived event is the organisation's, stamped with that client, never a reserved type.
        await ports().publish(readerOf(s), {
          type: action.publish.type,
          source: action.publish.source ?? `rule:${s.name}`,
          payload: mapPayload(action.publish.mapping, e),
          causationId: e.id,
          correlationId: e.correlationId ?? e.id,
          systemId: e.systemId,
          integrationId: e.integrationId,
          metadata: { ruleId: s.id },
          // Exactly once in the log, however often this event is retried or claimed.
          idempotencyKey: `rule:${s.id}:${e.sequence}`,
        });
      } else if (action.sync) {
        const trigger = ports().triggerSync;
        if (!trigger) return 'no integrations subgraph in this process to trigger the sync';
        // Exactly one sync per rule and event, however often this event is retried or claimed.
        await trigger(s.organisationId, action.sync.integrationId, e.id, `rule:${s.id}:${e.sequence}`);
      }
      return null;
    } catch (err) {
      return isHubError(err) ? err.message : 'rule action failed';
    }
  }

  async function post(s: SubscriptionRow, secret: string, e: EventRow): Promise<string | null> {
    const body = JSON.stringify(eventJson(e));
    try {
      const res = await rt.http.request(`webhook:${s.id}`, {
        method: 'POST',
        url: s.targetUrl!,
        headers: {
          'content-type': 'application/json',
          'x-hub-event-id': e.id,
          'x-hub-sequence': String(e.sequence),
          'x-hub-subscription': s.id,
          'x-hub-signature': signature(secret, body),
        },
        body,
        retry: false, // the subscription's own backoff decides, durably
        timeoutMs: 10_000,
      });
      return res.status >= 200 && res.status < 300 ? null : `webhook answered HTTP ${res.status}`;
    } catch (err) {
      return isHubError(err) ? err.message : 'webhook call failed';
    }
  }

  /** Delivers what is due; returns the subscription when more may be waiting (checked after the lease is released). */
  async function deliverDue(s: SubscriptionRow): Promise<boolean> {
    if (s.status !== 'ACTIVE') return false;
    if (s.nextAttemptAt && s.nextAttemptAt > new Date()) return false; // its retry job is queued for then
    const secret = s.secretSealed ? rt.vault.open(s.secretSealed, s.id) : null;
    const rows = await events.range(readerOf(s), s.filter as EventFilter, s.offset, null, BATCH);
    let attempts = s.attempts;
    for (const e of rows) {
      // A rule never reacts to what it published itself (no loops).
      const error = (e.metadata as { ruleId?: string }).ruleId === s.id ? null : await act(s, secret, e);
      if (!error) {
        await store.delivered(s.organisationId, s.id, e.sequence);
        attempts = 0;
        continue;
      }
      attempts++;
      if (attempts >= s.maxAttempts) {
        log.warn({ subscriptionId: s.id, sequence: e.sequence, attempts, error }, 'event dead-lettered');
        await store.deadLetter(s.organisationId, s, e.sequence, e.id, attempts, error);
        attempts = 0;
        continue;
      }
      const at = new Date(Date.now() + backoff(attempts));
      await store.failed(s.organisationId, s.id, attempts, error, at);
      await kick({ organisationId: s.organisationId, id: s.id, offset: e.sequence - 1, attempts }, at);
      return false;
    }
    return true;
  }

  async function deliver(org: string, subscriptionId: string) {
    const s = await store.lease(org, subscriptionId, new Date(Date.now() + LEASE_MS));
    if (!s) return; // another worker has it; it looks again when it lets go
    let again = false;
    try {
      again = await deliverDue(s);
    } finally {
      await store.release(org, s.id);
    }
    // Events may have arrived while this worker held the lease (their kick found it taken): look again.
    const now = await store.byId(org, s.id);
    if (again && now && (await events.range(readerOf(now), now.filter as EventFilter, now.offset, null, 1)).length) await kick(now);
  }

  let pending: NodeJS.Timeout | undefined;
  async function kickAll() {
    const head = await events.head();
    for (const s of await store.activeEverywhere()) if (s.offset < head && (!s.nextAttemptAt || s.nextAttemptAt <= new Date())) await kick(s, undefined, head);
  }

  return {
    async subscribe(p: Principal, input: SubscribeInput): Promise<{ subscription: SubscriptionRow; secret: string }> {
      const name = input.name.trim();
      if (!name || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
      let url: URL;
      try {
        url = new URL(input.targetUrl);
      } catch {
        throw badInput('targetUrl is not a valid URL', { field: 'targetUrl' });
      }
      rt.guard.assertUrlAllowed(url.toString());
      const maxAttempts = input.maxAttempts ?? 8;
      if (maxAttempts < 1 || maxAttempts > 50) throw badInput('maxAttempts must be 1 to 50', { field: 'maxAttempts' });
      const id = randomUUID();
      const secret = randomBytes(32).toString('base64url');
      const subscription = await store.insert(p.organisationId, {
        id,
        name,
        ...creator(p),
        filter: (input.filter ?? {}) as Record<string, unknown>,
        targetUrl: url.toString(),
        secretSealed: rt.vault.seal(secret, id),
        status: 'ACTIVE',
        offset: input.fromSequence ?? (await events.head()),
        maxAttempts,
      });
      await kick(subscription);
      return { subscription, secret };
    },
    async createRule(p: Principal, input: RuleInput): Promise<{ subscription: SubscriptionRow; secret: string | null }> {
      const name = input.name.trim();
      if (!name || name.length > 200) throw badInput('name must be 1 to 200 characters', { field: 'name' });
      const actions = [input.publish, input.webhookUrl, input.triggerSyncOf].filter((a) => a != null);
      if (actions.length !== 1) throw badInput('a rule needs exactly one action: publish, webhookUrl or triggerSyncOf', { field: 'action' });
      if (!input.filter || !Object.values(input.filter).some((v) => v != null && (!Array.isArray(v) || v.length))) {
        throw badInput('a rule needs a filter: it would otherwise react to every event', { field: 'filter' });
      }
      if (input.publish && !/^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i.test(input.publish.type)) {
        throw badInput('publish.type must be a dotted name such as residents.admission.recorded', { field: 'publish.type' });
      }
      if (input.publish) assertMayUse(p, { type: input.publish.type, source: input.publish.source ?? null }, 'publish.');
      for (const [field, expr] of Object.entries(input.publish?.mapping ?? {})) {
        if (typeof expr !== 'string') throw badInput(`publish.mapping.${field} must be a path or =literal string`, { field: `publish.mapping.${field}` });
      }
      let url: string | null = null;
      if (input.webhookUrl) {
        try {
          url = new URL(input.webhookUrl).toString();
        } catch {
          throw badInput('webhookUrl is not a valid URL', { field: 'webhookUrl' });
        }
        rt.guard.assertUrlAllowed(url);
      }
      const maxAttempts = input.maxAttempts ?? 8;
      if (maxAttempts < 1 || maxAttempts > 50) throw badInput('maxAttempts must be 1 to 50', { field: 'maxAttempts' });
      const id = randomUUID();
      const secret = url ? randomBytes(32).toString('base64url') : null;
      const subscription = await store.insert(p.organisationId, {
        id,
        kind: 'RULE',
        name,
        ...creator(p),
        filter: input.filter as Record<string, unknown>,
        action: input.publish ? { publish: input.publish } : input.triggerSyncOf ? { sync: { integrationId: input.triggerSyncOf } } : { webhook: true },
        targetUrl: url,
        secretSealed: secret ? rt.vault.seal(secret, id) : null,
        status: 'ACTIVE',
        offset: input.fromSequence ?? (await events.head()),
        maxAttempts,
      });
      await kick(subscription);
      return { subscription, secret };
    },
    async get(org: string, id: string) {
      const s = await store.byId(org, id);
      if (!s) throw notFound('event subscription', id);
      return s;
    },
    list: (org: string) => store.list(org),
    deadLetters: (org: string, id: string, first: number) => store.deadLetters(org, id, Math.max(1, Math.min(first, 500))),
    /** Delivers again from `fromSequence`: still only what the subscription's creator may read. */
    async replay(org: string, id: string, fromSequence: number): Promise<SubscriptionRow> {
      const s = await store.setOffset(org, id, fromSequence, 'ACTIVE');
      if (!s) throw notFound('event subscription', id);
      await kick(s, undefined, undefined, randomUUID());
      return s;
    },
    async unsubscribe(org: string, id: string): Promise<SubscriptionRow> {
      const s = await store.setStatus(org, id, 'CANCELLED');
      if (!s) throw notFound('event subscription', id);
      return s;
    },
    /** New events were appended: every active subscription gets a delivery job (a no-op where one is queued). */
    onAppended() {
      // Coalesced: under a stream of appends, one look at the subscriptions per 200 ms is plenty.
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        kickAll().catch((err) => log.warn({ err }, 'could not queue webhook deliveries'));
      }, 200);
    },
    stop() {
      clearTimeout(pending);
    },
    async startWorkers() {
      // Jobs queued before organisations carry none: everything then was the default organisation's.
      await rt.jobs.define<{ organisationId?: string; subscriptionId: string }>(QUEUE, async ({ organisationId, subscriptionId }) => deliver(organisationId ?? DEFAULT_ORGANISATION, subscriptionId), {
        retryLimit: 3,
        concurrency: 2,
      });
      await kickAll();
    },
  };
}

export type SubscriptionsService = ReturnType<typeof createSubscriptionsService>;
