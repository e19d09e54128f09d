import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import {
  ConnectDocument,
  CreateEventRuleDocument,
  CreateIntegrationDocument,
  EventSubscriptionDocument,
  HistoryDocument,
  IntegrationDocument,
  PublishEventDocument,
  PublishEventsDocument,
  RegisterSystemDocument,
  ReplayEventsDocument,
} from '../generated/graphql.ts';
import { backend, eventually, startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;
beforeAll(async () => {
  hub = await startTestHub({ WEBHOOK_RETRY_BASE_MS: '50' });
  sim = await startGenericRestSimulator({ auth: { kind: 'NONE' } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

const tag = () => Math.random().toString(36).slice(2, 8);
const historyOf = async (t: TestHub, type: string) => (await t.ok(HistoryDocument, { filter: { types: [type] }, first: 1000 })).eventHistory.events;

describe('event rules (choreography)', () => {
  it('publishes a derived event per matching event, reshaped by its mapping, with the cause recorded', async () => {
    const t = tag();
    const { createEventRule } = await hub.ok(CreateEventRuleDocument, {
      input: {
        name: `notify ${t}`,
        filter: { types: [`care${t}.admission.*`] },
        publish: { type: `nhs${t}.notification.requested`, mapping: { nhsNumber: 'payload.resident.nhsNumber', kind: '=admission', about: 'type' } },
      },
    });
    expect(createEventRule).toMatchObject({ secret: null, subscription: { kind: 'RULE', status: 'ACTIVE' } });
    const { publishEvent } = await hub.ok(PublishEventDocument, {
      input: { type: `care${t}.admission.recorded`, source: 'care-app', correlationId: `c-${t}`, payload: { resident: { nhsNumber: '9000000009' } } },
    });
    await hub.ok(PublishEventDocument, { input: { type: `care${t}.discharge.recorded`, source: 'care-app', payload: {} } });
    const derived = await eventually(async () => {
      const d = await historyOf(hub, `nhs${t}.notification.requested`);
      return d.length ? d : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await historyOf(hub, `nhs${t}.notification.requested`)).toHaveLength(1);
    expect(derived[0]).toMatchObject({
      source: `rule:notify ${t}`,
      causationId: publishEvent.event.id,
      correlationId: `c-${t}`,
      payload: { nhsNumber: '9000000009', kind: 'admission', about: `care${t}.admission.recorded` },
    });
  });

  it('never reacts to its own derived events', async () => {
    const t = tag();
    await hub.ok(CreateEventRuleDocument, { input: { name: `echo ${t}`, filter: { types: [`loop${t}.*`] }, publish: { type: `loop${t}.echo` } } });
    await hub.ok(PublishEventDocument, { input: { type: `loop${t}.start`, source: 's', payload: { n: 1 } } });
    await eventually(async () => (await historyOf(hub, `loop${t}.echo`)).length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await historyOf(hub, `loop${t}.echo`)).toHaveLength(1);
  });

  it('triggers a sync of an integration', async () => {
    const { registerExternalSystem: sys } = await hub.ok(RegisterSystemDocument, { input: { name: `rule sync ${tag()}`, type: 'CARE_PLATFORM', endpoint: sim.url, authentication: { kind: 'NONE' } } });
    await hub.ok(ConnectDocument, { id: sys.id, credentials: {} });
    const { createIntegration: i } = await hub.ok(CreateIntegrationDocument, { input: { externalSystemId: sys.id, name: 'on demand', resource: { path: '/residents', pageSize: 200 } } });
    const t = tag();
    const { createEventRule: rule } = await hub.ok(CreateEventRuleDocument, { input: { name: `resync ${t}`, filter: { types: [`resident${t}.changed`] }, triggerSyncOf: i.id } });
    const { publishEvent } = await hub.ok(PublishEventDocument, { input: { type: `resident${t}.changed`, source: 'care-app', payload: {} } });
    const run = await eventually(async () => {
      const r = (await hub.ok(IntegrationDocument, { id: i.id })).integration!.syncRuns.find((x) => x.trigger === 'EVENT' && x.status === 'SUCCEEDED');
      return r;
    });
    expect(run.recordsStored).toBe(237);
    expect(publishEvent.event.id).toBeTruthy();

    // Replaying the rule over the same event runs its action again: the sync it asks for is the one already made.
    const before = Number(publishEvent.event.sequence) - 1;
    await hub.ok(ReplayEventsDocument, { id: rule.subscription.id, from: String(before) });
    const marker = await hub.ok(PublishEventDocument, { input: { type: `resident${t}.changed`, source: 'care-app', payload: { second: true } } });
    await eventually(async () => {
      const runs = (await hub.ok(IntegrationDocument, { id: i.id })).integration!.syncRuns.filter((x) => x.trigger === 'EVENT');
      return runs.length >= 2 && runs.every((x) => x.status === 'SUCCEEDED') ? runs : undefined;
    });
    await eventually(async () => {
      const s = (await hub.ok(EventSubscriptionDocument, { id: rule.subscription.id })).eventSubscription;
      return s && Number(s.offset) >= Number(marker.publishEvent.event.sequence) ? s : undefined;
    });
    const runs = (await hub.ok(IntegrationDocument, { id: i.id })).integration!.syncRuns.filter((x) => x.trigger === 'EVENT');
    // One per event: the first (not repeated by the replay) and the marker's.
    expect(runs).toHaveLength(2);
  });

  it('rejects rules without exactly one action or without a filter', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'x', filter: { types: ['a.b'] } }, /exactly one action/],
      [{ name: 'x', filter: { types: ['a.b'] }, publish: { type: 'c.d' }, webhookUrl: 'https://example.org/h' }, /exactly one action/],
      [{ name: 'x', filter: {}, publish: { type: 'c.d' } }, /needs a filter/],
      [{ name: 'x', filter: { types: ['a.b'] }, publish: { type: 'not a type' } }, /publish.type/],
      [{ name: 'x', filter: { types: ['a.b'] }, webhookUrl: 'http://10.0.0.8/h' }, /OUTBOUND_ALLOW/],
    ];
    for (const [input, msg] of cases) {
      const r = await hub.gql(CreateEventRuleDocument, { input: input as never });
      expect(r.errors?.[0]?.message, JSON.stringify(input)).toMatch(msg);
    }
  });

  it.runIf(backend === 'services')('fires exactly once per matching event with two hub processes', async () => {
    const second = await startTestHub({ DATABASE_URL: hub.config.databaseUrl!, REDIS_PREFIX: hub.config.redisPrefix, VAULT_KEYS: hub.config.vaultKeys!, WEBHOOK_RETRY_BASE_MS: '50' });
    try {
      const t = tag();
      const { createEventRule } = await hub.ok(CreateEventRuleDocument, { input: { name: `twice ${t}`, filter: { types: [`two${t}.in`] }, publish: { type: `two${t}.out` } } });
      for (let i = 0; i < 10; i++) {
        await (i % 2 ? second : hub).ok(PublishEventsDocument, { inputs: Array.from({ length: 5 }, (_, j) => ({ type: `two${t}.in`, source: 's', payload: { n: i * 5 + j } })) });
      }
      await eventually(async () => (await historyOf(hub, `two${t}.out`)).length >= 50);
      await new Promise((r) => setTimeout(r, 1500));
      const out = await historyOf(second, `two${t}.out`);
      expect(out).toHaveLength(50);
      expect(new Set(out.map((e) => e.causationId)).size).toBe(50);
      const rule = (await hub.ok(EventSubscriptionDocument, { id: createEventRule.subscription.id })).eventSubscription!;
      expect(rule.delivered).toBe(50);
    } finally {
      await second.close();
    }
  });
});
