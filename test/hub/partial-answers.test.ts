import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nhsFixtureKeys, startNhsSimulator, type NhsSimulator } from '@hub/simulators';
import { apiKeys, startTestHub, testClient, type TestHub } from '../support/hub.ts';

/**
 * A field that depends on its own upstream call is nullable: when that call fails, the field is null with its error
 * in `errors`, and the rest of the answer stays. Against the NHS simulator, whose patients are all admitted to the
 * default organisation's demo home (see the care subgraph), and the in-process HMRC simulator.
 */
const client = testClient('partial', 'default');
let sim: NhsSimulator;
let hub: TestHub;

beforeAll(async () => {
  sim = await startNhsSimulator({ apiKey: nhsFixtureKeys.apiKey, publicKeys: { [nhsFixtureKeys.kid]: nhsFixtureKeys.publicKeyPem }, rateLimitPerSecond: 1000 });
  hub = await startTestHub({
    AUTH_API_KEYS: apiKeys(client),
    NHS_ENVIRONMENT: 'simulated',
    NHS_BASE_URL: sim.url,
    NHS_TOKEN_URL: sim.tokenUrl,
    NHS_API_KEY: nhsFixtureKeys.apiKey,
    NHS_PRIVATE_KEY: nhsFixtureKeys.privateKeyPem,
    NHS_KEY_ID: nhsFixtureKeys.kid,
    NHS_RATE_LIMIT_PER_SECOND: '1000',
    NHS_TIMEOUT_MS: '1500',
    // One failing call must not open the breaker for the calls the other tests make.
    OUTBOUND_BREAKER_THRESHOLD: '50',
  });
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
});

type Result = { data?: any; errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string; field?: string } }> };
async function gql(query: string, variables: Record<string, unknown> = {}): Promise<Result> {
  const res = await hub.raw(JSON.stringify({ query, variables }), { ...client.headers, accept: 'application/graphql-response+json' });
  return (await res.json()) as Result;
}

const RESIDENT = `query($n: String!) { resident(nhsNumber: $n) {
  nhsNumber
  demographics { restricted name { text } }
  summaryCareRecord { allergies { substance } }
} }`;

describe('partial answers', () => {
  it('a restricted record: SCR withholds its part, the demographics PDS returned stay (the issue\'s example)', async () => {
    const r = await gql(RESIDENT, { n: '9000000025' });
    expect(r.data?.resident).toMatchObject({ nhsNumber: '9000000025', demographics: { restricted: true }, summaryCareRecord: null });
    expect(r.errors).toEqual([expect.objectContaining({ path: ['resident', 'summaryCareRecord'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
  });

  it('SCR down: the demographics stay; PDS down: the summary care record stays', async () => {
    sim.setFaults({ status: 503, paths: ['/summary-care-record/'] });
    try {
      const r = await gql(RESIDENT, { n: '9000000009' });
      expect(r.data?.resident.demographics.name.text).toBe('Mrs Jane Smith');
      expect(r.data?.resident.summaryCareRecord).toBeNull();
      expect(r.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['resident', 'summaryCareRecord'], 'UPSTREAM_UNAVAILABLE']]);
    } finally {
      sim.clearFaults();
    }
    // A resident nobody has read yet (so no cached copy stands in for PDS): the resident, SCR and the other root field stay.
    sim.setFaults({ status: 503, paths: ['/personal-demographics/'] });
    try {
      const r = await gql(`query($n: String!) { careStatus(nhsNumber: $n) { inCare } ${RESIDENT.slice(RESIDENT.indexOf('resident('))}`, { n: '9000000017' });
      expect(r.data).toMatchObject({ careStatus: { inCare: true }, resident: { nhsNumber: '9000000017', demographics: null, summaryCareRecord: { allergies: expect.any(Array) } } });
      expect(r.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['resident', 'demographics'], 'UPSTREAM_UNAVAILABLE']]);
    } finally {
      sim.clearFaults();
    }
  });

  it('residents: one bad number is null at its place with its error, the others answer', async () => {
    const r = await gql('query($n: [String!]!) { residents(nhsNumbers: $n) { nhsNumber demographics { name { text } } } }', { n: ['9000000009', '1234567890', '9000000025'] });
    expect(r.data?.residents).toEqual([
      { nhsNumber: '9000000009', demographics: { name: { text: 'Mrs Jane Smith' } } },
      null,
      expect.objectContaining({ nhsNumber: '9000000025' }),
    ]);
    expect(r.errors).toEqual([expect.objectContaining({ path: ['residents', 1], extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
  });

  it('residents: more than 100 numbers are refused before any NHS call', async () => {
    const before = sim.stats().requests;
    const r = await gql('query($n: [String!]!) { residents(nhsNumbers: $n) { nhsNumber } }', { n: Array.from({ length: 101 }, () => '9000000009') });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'nhsNumbers' });
    expect(r.data ?? null).toBeNull();
    expect(sim.stats().requests).toBe(before);
  });

  it('VAT obligations: HMRC refusing keeps the other fields of the request', async () => {
    const r = await gql('{ hmrcConnection { authorised } vatObligations(vrn: "123456789", from: "2026-01-01", to: "2026-12-31") { periodKey } }');
    expect(r.data).toEqual({ hmrcConnection: { authorised: false }, vatObligations: null });
    expect(r.errors).toEqual([expect.objectContaining({ path: ['vatObligations'], extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });
});
