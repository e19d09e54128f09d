/**
 * No personal data in logs: a hub with every log line kept (level trace) runs the NHS flows (reads, the restricted
 * record, a missing one, search, the clinical record), the authentication flows (good, wrong and missing keys) and
 * an external system's connection with credentials; then the whole log is read, and no NHS number of the
 * simulator's patients and no secret the run used is in it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createLogger } from '@hub/runtime';
import { nhsFixtureKeys, nhsSimulatorDefaults, startGenericRestSimulator, syntheticNhsNumbers, type GenericRestSimulator } from '@hub/simulators';
import {
  AdmitResidentDocument,
  ConnectDocument,
  RegisterSystemDocument,
  ResidentDocument,
  ResidentEverythingDocument,
  ResidentsDocument,
  SearchResidentsDocument,
  TransformDataDocument,
  CreateMappingDocument,
} from '../generated/graphql.ts';
import { apiKeys, startTestHub, TEST_INTERNAL_KEYS, testClient, type TestHub } from '../support/hub.ts';

const chunks: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    chunks.push(String(chunk));
    done();
  },
});
const logText = () => chunks.join('');

const ops = testClient('care-ops', 'default');
const wrong = testClient('care-ops', 'default'); // a key nobody configured
const SANDBOX = ['9000000009', '9000000025', '9000000033'];
const SYNTHETIC = syntheticNhsNumbers(20); // the in-process simulator's synthetic patients
const MISSING = '9111231130';
const OAUTH_SECRET = 'log-test-oauth-secret-9f3c';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

let hub: TestHub;
let sim: GenericRestSimulator;
const PURPOSE = 'admission of a new resident to Oak Lodge';

beforeAll(async () => {
  sim = await startGenericRestSimulator({ auth: { kind: 'OAUTH2_CLIENT_CREDENTIALS', clientId: 'hub', clientSecret: OAUTH_SECRET } });
  // The NHS connector is simulated in process (its fixture API key, signing key and MESH secrets are in play).
  hub = await startTestHub({ AUTH_API_KEYS: apiKeys(ops), LOG_LEVEL: 'trace' }, { log: createLogger('trace', 'hub', sink) });
});
afterAll(async () => {
  await hub?.close();
  await sim?.close();
});

describe('the log of a hub run', () => {
  it('runs the NHS, authentication and credential flows (and logs them)', async () => {
    for (const nhsNumber of [...SANDBOX, SYNTHETIC[0]!, SYNTHETIC[1]!]) {
      const r = await hub.gqlAs(ops, ResidentEverythingDocument, { nhsNumber });
      expect(r.data?.resident?.nhsNumber ?? r.errors?.[0]?.message).toBeTruthy();
    }
    await hub.gqlAs(ops, ResidentsDocument, { nhsNumbers: [SYNTHETIC[2]!, SYNTHETIC[3]!, '123'] });
    await hub.gqlAs(ops, AdmitResidentDocument, { input: { homeId: 'demo-home', nhsNumber: MISSING, admittedOn: '2026-01-05' } });
    expect((await hub.gqlAs(ops, ResidentDocument, { nhsNumber: MISSING })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await hub.gqlAs(ops, SearchResidentsDocument, { input: { family: 'Smith', birthDate: '2010-10-22' }, purpose: PURPOSE });

    // Authentication: a good key, a wrong one, none.
    expect((await hub.gqlAs(wrong, ResidentDocument, { nhsNumber: SANDBOX[0]! })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await hub.gql(ResidentDocument, { nhsNumber: SANDBOX[0]! })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Credentials of an external system: a wrong secret, then the right one.
    const { data } = await hub.gqlAs(ops, RegisterSystemDocument, {
      input: { name: 'log-test-system', type: 'GENERIC_REST', endpoint: sim.url, authentication: { kind: 'OAUTH2_CLIENT_CREDENTIALS', tokenUrl: sim.tokenUrl } },
    });
    const id = data!.registerExternalSystem.id;
    await hub.gqlAs(ops, ConnectDocument, { id, credentials: { clientId: 'hub', clientSecret: `${OAUTH_SECRET}-wrong` } });
    const ok = await hub.gqlAs(ops, ConnectDocument, { id, credentials: { clientId: 'hub', clientSecret: OAUTH_SECRET, privateKeyPem: PRIVATE_KEY_PEM } });
    expect(ok.data?.connectToSystem.connected).toBe(true);

    // A mapping over residents' data, NHS numbers in it.
    const m = await hub.gqlAs(ops, CreateMappingDocument, {
      input: { name: 'log-test-mapping', sourceFormat: 'CSV', targetFormat: 'JSON', rules: { fields: { nhs: { path: "%record.nhs.trace('nhs')", one: true, transform: ['nhsNumber'] } } } },
    });
    await hub.gqlAs(ops, TransformDataDocument, { data: `nhs\n${SYNTHETIC[4]}\n${SANDBOX[0]}\n`, mappingId: m.data!.createMapping.id });

    // What a careless caller of the hub's logger could hand it: a request with its headers, a resident, and a
    // database error whose statement was bound to an NHS number (postgres-js and drizzle carry the values).
    const rt = hub.hub.runtime!;
    rt.log.warn({ req: { headers: { authorization: `Bearer ${ops.key}`, 'x-api-key': wrong.key } }, resident: { nhsNumber: SANDBOX[1] } }, `probe for ${SYNTHETIC[5]}`);
    const dbError = await rt.database.db.execute(sql`select ${SYNTHETIC[6]}::uuid`).then(() => undefined, (err: unknown) => err);
    expect(dbError).toBeInstanceOf(Error);
    rt.log.error({ err: dbError }, 'probe query failed');
    expect(logText()).toMatch(/"msg":"probe query failed"/);

    // The log holds the run: the NHS calls at debug, requests, the connection attempts.
    expect(logText()).toMatch(/"msg":"nhs call"/);
    expect(logText().split('\n').length).toBeGreaterThan(10);
  });

  it('holds no NHS number of the simulator patients, nor any secret the run used', () => {
    const log = logText();
    const spaced = (n: string) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
    for (const n of [...SANDBOX, ...SYNTHETIC, MISSING]) {
      expect(log, `NHS number ${n}`).not.toContain(n);
      expect(log).not.toContain(spaced(n));
    }
    const defaults = nhsSimulatorDefaults();
    const vault = hub.config.vaultKeys!.split(':')[1]!;
    const secrets = {
      'client API key': ops.key,
      'wrong API key': wrong.key,
      'vault key': vault,
      'internal signing key': TEST_INTERNAL_KEYS.split(':')[1]!,
      'NHS API key': nhsFixtureKeys.apiKey,
      'NHS private key': nhsFixtureKeys.privateKeyPem.split('\n')[1]!,
      'MESH shared key': defaults.meshSharedKey,
      'MESH password': Object.values(defaults.meshMailboxes)[0]!,
      'client secret': OAUTH_SECRET,
      'private key': PRIVATE_KEY_PEM.split('\n')[1]!,
    };
    for (const [what, secret] of Object.entries(secrets)) expect(log, what).not.toContain(secret);
    expect(log).not.toContain('TRACE:[');
  });
});
