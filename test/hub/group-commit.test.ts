import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicePrincipal } from '@hub/runtime';
import type { EventsService } from '@hub/subgraph-events';
import { apiKeys, startTestHub, testClient, type TestHub } from '../support/hub.ts';

/**
 * Concurrent publishers share one group commit (one transaction for everything that arrived while the previous one
 * was written). One publisher's bad event must fail that publisher only: every good event lands, the bad one is told
 * why, and nothing of it is in the log.
 */
const client = testClient('gc-app', 'org-gc');
let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(client) });
});
afterAll(async () => {
  await hub?.close();
});

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await hub.raw(JSON.stringify({ query, variables }), client.headers);
  return (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }> };
}

const PUBLISH = 'mutation($i: PublishEventInput!) { publishEvent(input: $i) { event { id sequence } } }';
const historyOf = async (type: string) =>
  ((await gql('query($t: [String!]) { eventHistory(filter: { types: $t }, first: 1000) { events { id source payload } } }', { t: [type] })).data.eventHistory.events as Array<{ source: string; payload: { n: number } }>);

describe('the group commit of the event log', () => {
  it('20 concurrent publishers, one of them with a NUL in its source: the 19 land, the one is refused', async () => {
    const type = 'gc.concurrent';
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => gql(PUBLISH, { i: { type, source: n === 7 ? 'bad\u0000app' : `app-${n}`, payload: { n } } })),
    );
    const refused = answers.filter((a) => a.errors?.length);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source' });
    expect(answers.filter((a) => a.data?.publishEvent?.event?.id)).toHaveLength(19);
    const landed = await historyOf(type);
    expect(landed.map((e) => e.payload.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n).filter((n) => n !== 7));
  });

  it('when the database itself refuses one publisher\'s row, the batch is written again without it', async () => {
    // Past the GraphQL input guard (as an in-process publisher is): the payload's NUL reaches the jsonb column, which
    // refuses it, and with it the first attempt of the whole batch.
    const events = hub.hub.subgraphs.find((s) => s.name === 'events') as unknown as { service: EventsService };
    const hubItself = servicePrincipal('', 'hub');
    const type = 'gc.refused';
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        events.service
          .publish(hubItself, [{ type, source: 'gc.relay', organisationId: client.organisationId, payload: n === 5 ? { n, note: 'nul \u0000 here' } : { n } }])
          .then(() => 'ok', (err: Error) => `refused: ${err.message}`),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(11);
    expect(outcomes[5]).toMatch(/^refused/);
    const landed = await historyOf(type);
    expect(landed.map((e) => e.payload.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
  });
});
