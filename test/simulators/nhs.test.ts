import { createHmac, createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isValidNhsNumber,
  nhsFixtureKeys,
  nhsSimulatorDefaults,
  startNhsSimulator,
  syntheticNhsNumbers,
  type NhsSimulator,
  type NhsSimulatorOptions,
} from '../../simulators/src/index.ts';

const fixture = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../simulators/fixtures/nhs/pds/${path}`, import.meta.url), 'utf8'));
const SPINE = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';
const clientKey: KeyObject = createPrivateKey(nhsFixtureKeys.privateKeyPem);
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

const running: NhsSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(o: Partial<NhsSimulatorOptions> = {}): Promise<NhsSimulator> {
  const sim = await startNhsSimulator({ ...nhsSimulatorDefaults(), rateLimitPerSecond: 1000, ...o });
  running.push(sim);
  return sim;
}

interface AssertionOverrides {
  aud?: string;
  iss?: string;
  jti?: string;
  exp?: number;
  kid?: string | null;
  key?: KeyObject;
}
async function assertion(sim: NhsSimulator, o: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const kid = o.kid === undefined ? nhsFixtureKeys.kid : o.kid;
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS512', typ: 'JWT', ...(kid !== null ? { kid } : {}) })
    .setIssuer(o.iss ?? nhsFixtureKeys.apiKey)
    .setSubject(o.iss ?? nhsFixtureKeys.apiKey)
    .setAudience(o.aud ?? sim.tokenUrl)
    .setJti(o.jti ?? randomUUID())
    .setExpirationTime(o.exp ?? now + 240)
    .sign(o.key ?? clientKey);
}
const tokenRequest = (jwt: string): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: jwt,
  }).toString(),
});
async function token(sim: NhsSimulator): Promise<string> {
  const res = await fetch(sim.tokenUrl, tokenRequest(await assertion(sim)));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}
async function client(sim: NhsSimulator): Promise<(url: string, init?: RequestInit) => Promise<Response>> {
  const access = await token(sim);
  return (url, init = {}) =>
    fetch(url, { ...init, headers: { Authorization: `Bearer ${access}`, 'X-Request-ID': randomUUID(), ...(init.headers as Record<string, string> | undefined) } });
}
type Outcome = { resourceType: string; issue: Array<{ code: string; diagnostics?: string; details: { coding: Array<{ system: string; code: string }> } }> };
async function spineCode(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toBe('application/fhir+json');
  const body = (await res.json()) as Outcome;
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]!.details.coding[0]!.system).toBe(SPINE);
  return body.issue[0]!.details.coding[0]!.code;
}
interface MedicationRequest {
  resourceType: string;
  status: string;
  authoredOn: string;
  groupIdentifier: { value: string };
  medicationCodeableConcept: { coding: Array<{ system: string; code: string }> };
  dosageInstruction: Array<{ text: string }>;
  dispenseRequest: { quantity: { value: number } };
  extension: Array<{ extension: Array<{ valueCoding: { display: string } }> }>;
}
type Bundle = { resourceType: string; type: string; total: number; entry?: Array<{ fullUrl: string; search?: { score?: number; mode?: string }; resource: Record<string, unknown> }> };

describe('NHS simulator: OAuth2 signed-JWT token endpoint', () => {
  it('exchanges an RS512 assertion for an NHS-shaped bearer token', async () => {
    const sim = await start();
    const res = await fetch(sim.tokenUrl, tokenRequest(await assertion(sim)));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, string>;
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe('599');
    expect(Number(body.issued_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.access_token).toMatch(/^[\w-]{20,}$/);
    expect(sim.stats().tokensIssued).toBe(1);
  });

  it('rejects wrong aud, expired, too-long-lived, replayed jti, bad signature, unknown/missing kid and wrong iss', async () => {
    const sim = await start();
    const now = Math.floor(Date.now() / 1000);
    const reject = async (jwt: string): Promise<[number, { error: string; error_description: string }]> => {
      const res = await fetch(sim.tokenUrl, tokenRequest(jwt));
      return [res.status, (await res.json()) as { error: string; error_description: string }];
    };
    expect(await reject(await assertion(sim, { aud: `${sim.url}/oauth2/token/` }))).toEqual([
      401,
      expect.objectContaining({ error: 'invalid_request', error_description: "Missing or invalid 'aud' claim in client_assertion JWT" }),
    ]);
    expect((await reject(await assertion(sim, { exp: now - 10 })))[1].error_description).toBe("Invalid 'exp' claim in client_assertion JWT - JWT has expired");
    expect((await reject(await assertion(sim, { exp: now + 600 })))[1].error_description).toMatch(/more than 5 minutes in future/);
    const jti = randomUUID();
    expect((await fetch(sim.tokenUrl, tokenRequest(await assertion(sim, { jti })))).status).toBe(200);
    expect((await reject(await assertion(sim, { jti })))[1].error_description).toBe("Non-unique 'jti' claim in client_assertion JWT");
    expect(await reject(await assertion(sim, { key: stranger.privateKey }))).toEqual([
      401,
      expect.objectContaining({ error_description: 'Unable to verify client_assertion JWT signature' }),
    ]);
    expect((await reject(await assertion(sim, { kid: 'other-kid' })))[1].error_description).toMatch(/no matching public key/);
    expect((await reject(await assertion(sim, { kid: null })))[1].error_description).toBe("Missing 'kid' header in client_assertion JWT");
    expect((await reject(await assertion(sim, { iss: 'someone-else' })))[0]).toBe(401);
    expect(sim.stats().tokensIssued).toBe(1);
  });

  it('rejects a wrong grant type and assertion type', async () => {
    const sim = await start();
    const res = await fetch(sim.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_assertion: 'x' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});

describe('NHS simulator: PDS read', () => {
  it('serves every sandbox patient with ETag and FHIR content type', async () => {
    const sim = await start();
    const api = await client(sim);
    for (const [nhs, file] of [
      ['9000000009', 'Patient.json'],
      ['9000000017', 'Patient-Jayne-Smyth.json'],
      ['9000000033', 'Minimal_Patient.json'],
      ['9000000025', 'Sensitive_Patient.json'],
    ] as const) {
      const res = await api(`${sim.pdsBaseUrl}/Patient/${nhs}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/fhir+json');
      expect(res.headers.get('etag')).toBe('W/"2"');
      expect(await res.json()).toEqual(fixture(`sandbox-responses/${file}`));
    }
  });

  it('serves the restricted patient without address, telecom or GP and with security label R', async () => {
    const sim = await start();
    const api = await client(sim);
    const body = (await (await api(`${sim.pdsBaseUrl}/Patient/9000000025`)).json()) as Record<string, unknown>;
    expect(body.address).toBeUndefined();
    expect(body.telecom).toBeUndefined();
    expect(body.generalPractitioner).toBeUndefined();
    expect((body.meta as { security: Array<{ code: string; display: string }> }).security[0]).toMatchObject({ code: 'R', display: 'restricted' });
  });

  it('answers 400 INVALID_RESOURCE_ID for a bad NHS number and 404 RESOURCE_NOT_FOUND for an unknown one', async () => {
    const sim = await start();
    const api = await client(sim);
    const bad = await api(`${sim.pdsBaseUrl}/Patient/9000000000`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual(fixture('error-responses/INVALID_RESOURCE_ID.json'));
    const missing = await api(`${sim.pdsBaseUrl}/Patient/9111231130`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual(fixture('error-responses/RESOURCE_NOT_FOUND.json'));
    expect((await api(`${sim.pdsBaseUrl}/Patient/12345`)).status).toBe(400);
  });

  it('returns the sandbox RelatedPerson bundle for 9000000009 and an empty bundle for others', async () => {
    const sim = await start();
    const api = await client(sim);
    const rel = await api(`${sim.pdsBaseUrl}/Patient/9000000009/RelatedPerson`);
    expect(rel.status).toBe(200);
    expect(await rel.json()).toEqual(fixture('sandbox-responses/RelatedPersonBundle.json'));
    const empty = (await (await api(`${sim.pdsBaseUrl}/Patient/9000000025/RelatedPerson`)).json()) as Bundle;
    expect(empty).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
    expect((await api(`${sim.pdsBaseUrl}/Patient/9111231130/RelatedPerson`)).status).toBe(404);
  });

  it('adds deterministic synthetic patients with valid NHS numbers, never 9111231130', async () => {
    const numbers = syntheticNhsNumbers(40);
    expect(numbers).toHaveLength(40);
    expect(new Set(numbers).size).toBe(40);
    expect(numbers.every(isValidNhsNumber)).toBe(true);
    expect(numbers).not.toContain('9111231130');
    expect(syntheticNhsNumbers(3)).toEqual(numbers.slice(0, 3));
    const sim = await start({ syntheticPatients: 40 });
    const api = await client(sim);
    const a = (await (await api(`${sim.pdsBaseUrl}/Patient/${numbers[0]}`)).json()) as { id: string; name: Array<{ family: string }>; birthDate: string };
    const b = (await (await api(`${sim.pdsBaseUrl}/Patient/${numbers[1]}`)).json()) as { id: string; name: Array<{ family: string }>; birthDate: string };
    expect(a.id).toBe(numbers[0]);
    expect(a.name[0]!.family).not.toBe(b.name[0]!.family);
    expect(a.birthDate < '1950-01-01').toBe(true);
    expect((await api(`${sim.pdsBaseUrl}/Patient/${syntheticNhsNumbers(41)[40]}`)).status).toBe(404);
  });
});

describe('NHS simulator: PDS search', () => {
  it('finds Jane Smith with the same resource the sandbox search returns', async () => {
    const sim = await start();
    const api = await client(sim);
    const res = await api(`${sim.pdsBaseUrl}/Patient?family=Smith&gender=female&birthdate=eq2010-10-22&email=jane.smith@example.com&phone=01632960587`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    const bundle = (await res.json()) as Bundle;
    const sandbox = fixture('sandbox-responses/PatientSearch.json') as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    expect(bundle.entry![0]!.resource).toEqual(sandbox.entry![0]!.resource);
    expect(bundle.entry![0]!.search!.score).toBe(1);
    expect(bundle.entry![0]!.fullUrl).toBe(`${sim.pdsBaseUrl}/Patient/9000000009`);
  });

  it('matches case-insensitively, with wildcards, birth-date ranges and postcode', async () => {
    const sim = await start();
    const api = await client(sim);
    const ids = async (q: string): Promise<string[]> => {
      const b = (await (await api(`${sim.pdsBaseUrl}/Patient?${q}`)).json()) as Bundle;
      return (b.entry ?? []).map((e) => e.resource.id as string);
    };
    expect(await ids('family=SMITH&birthdate=eq2010-10-22')).toEqual(['9000000009']);
    // Sm* matches Smith, Smyth and Smythe (restricted, so returned in restricted form).
    expect(await ids('family=Sm*&gender=female&birthdate=eq2010-10-22')).toEqual(['9000000009', '9000000017', '9000000025']);
    expect(await ids('family=Smith&birthdate=ge2010-10-21&birthdate=le2010-10-23')).toEqual(['9000000009']);
    expect(await ids('family=Smith&birthdate=ge2010-10-23')).toEqual([]);
    expect(await ids('family=Smith&birthdate=le2010-10-21')).toEqual([]);
    expect(await ids('family=Sm*&birthdate=eq2010-10-22&address-postalcode=ls16ae')).toEqual(['9000000009', '9000000017']);
    expect(await ids('family=Sm*&birthdate=eq2010-10-22&address-postalcode=LS1*')).toEqual(['9000000009', '9000000017']);
    expect(await ids('family=Sm*&birthdate=eq2010-10-22&address-postalcode=LS2*')).toEqual([]);
    expect(await ids('family=Smith&given=Jayne&birthdate=eq2010-10-22')).toEqual([]);
  });

  it('restricted patients are found by name and telecom but returned withheld, and never by postcode', async () => {
    const sim = await start();
    const api = await client(sim);
    const b = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Smythe&given=Janet&gender=female&birthdate=eq2010-10-22&email=janet.smythe@example.com&phone=01632960587`)).json()) as Bundle;
    expect(b.total).toBe(1);
    expect(b.entry![0]!.resource.id).toBe('9000000025');
    expect(b.entry![0]!.resource.telecom).toBeUndefined();
    expect(b.entry![0]!.resource.address).toBeUndefined();
  });

  it('fuzzy search matches homophones (Soundex) and transposed names with a lower score', async () => {
    const sim = await start();
    const api = await client(sim);
    const nonFuzzy = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Smyth&given=Jane&birthdate=eq2010-10-22`)).json()) as Bundle;
    expect(nonFuzzy.total).toBe(0);
    const fuzzy = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Smyth&given=Jane&birthdate=eq2010-10-22&_fuzzy-match=true`)).json()) as Bundle;
    const hits = Object.fromEntries(fuzzy.entry!.map((e) => [e.resource.id, e.search!.score]));
    expect(hits['9000000009']).toBeLessThan(1); // Smyth ~ Smith
    expect(hits['9000000017']).toBeLessThan(1); // Jane ~ Jayne
    const transposed = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Jane&given=Smith&birthdate=eq2010-10-22&_fuzzy-match=true`)).json()) as Bundle;
    expect(transposed.entry!.map((e) => e.resource.id)).toContain('9000000009');
    const exact = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Smyth&given=Jane&birthdate=eq2010-10-22&_fuzzy-match=true&_exact-match=true`)).json()) as Bundle;
    expect(exact.total).toBe(0);
  });

  it('answers TOO_MANY_MATCHES above _max-results and validates _max-results 1..50', async () => {
    const sim = await start();
    const api = await client(sim);
    const many = await api(`${sim.pdsBaseUrl}/Patient?family=Sm*&birthdate=eq2010-10-22&_max-results=2`);
    expect(many.status).toBe(200);
    expect(await spineCode(many)).toBe('TOO_MANY_MATCHES');
    const ok = (await (await api(`${sim.pdsBaseUrl}/Patient?family=Sm*&birthdate=eq2010-10-22&_max-results=3`)).json()) as Bundle;
    expect(ok.total).toBe(3);
    for (const bad of ['0', '51', 'x']) {
      const res = await api(`${sim.pdsBaseUrl}/Patient?family=Smith&birthdate=eq2010-10-22&_max-results=${bad}`);
      expect(res.status).toBe(400);
      expect(await spineCode(res)).toBe('INVALID_VALUE');
    }
  });

  it('rejects bad and insufficient parameters with the spec codes', async () => {
    const sim = await start();
    const api = await client(sim);
    const code = async (q: string): Promise<[number, string]> => {
      const res = await api(`${sim.pdsBaseUrl}/Patient${q}`);
      return [res.status, await spineCode(res)];
    };
    expect(await code('')).toEqual([400, 'UNSUPPORTED_SERVICE']);
    expect(await code('?family=Smith')).toEqual([400, 'MISSING_VALUE']);
    expect(await code('?email=j.smith@example.com&phone=0163&birthdate=eq2010-10-22')).toEqual([400, 'INVALID_SEARCH_DATA']);
    expect(await code('?family=Smith&birthdate=2010-13-45')).toEqual([400, 'INVALID_VALUE']);
    expect(await code('?family=Smith&birthdate=eq2010-10-22&gender=mal')).toEqual([400, 'INVALID_VALUE']);
    expect(await code('?family=Smith&birthdate=eq2010-10-22&invalidParam=123')).toEqual([400, 'ADDITIONAL_PROPERTIES']);
    expect(await code('?family=S*&birthdate=eq2010-10-22')).toEqual([400, 'INVALID_SEARCH_DATA']);
    expect(await code('?family=Sm*&birthdate=eq2010-10-22&_fuzzy-match=true&given=Jane')).toEqual([400, 'INVALID_SEARCH_DATA']);
    expect(await code('?family=Smith&birthdate=eq2010-10-22&address-postcode=LS1&address-postalcode=LS1')).toEqual([400, 'INVALID_SEARCH_DATA']);
  });
});

describe('NHS simulator: PDS PATCH', () => {
  const patch = (body: unknown, ifMatch?: string, type = 'application/json-patch+json'): RequestInit => ({
    method: 'PATCH',
    headers: { 'Content-Type': type, ...(ifMatch ? { 'If-Match': ifMatch } : {}) },
    body: JSON.stringify(body),
  });

  it('applies the spec example patches, increments versionId and ETag, and persists', async () => {
    const sim = await start();
    const api = await client(sim);
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const res = await api(url, patch(fixture('requests/PatientPatch/update-gender.json'), 'W/"2"'));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('W/"3"');
    const body = (await res.json()) as { gender: string; meta: { versionId: string } };
    expect(body.gender).toBe('male');
    expect(body.meta.versionId).toBe('3');
    const res2 = await api(url, patch(fixture('requests/PatientPatch/update-address.json'), 'W/"3"'));
    expect(res2.status).toBe(200);
    expect(res2.headers.get('etag')).toBe('W/"4"');
    const again = await api(url);
    expect(again.headers.get('etag')).toBe('W/"4"');
    const stored = (await again.json()) as { gender: string; address: Array<{ postalCode: string; line: string[] }> };
    expect(stored.gender).toBe('male');
    expect(stored.address[0]!.postalCode).toBe('LS1 4BU');
    expect(stored.address[0]!.line[0]).toBe('2 Whitehall Quay');
    const named = await api(url, patch(fixture('requests/PatientPatch/add-name.json'), 'W/"4"'));
    expect(((await named.json()) as { name: unknown[] }).name).toHaveLength(2);
  });

  it('answers 409 with the exact RESOURCE_VERSION_MISMATCH body for a stale If-Match', async () => {
    const sim = await start();
    const api = await client(sim);
    const res = await api(`${sim.pdsBaseUrl}/Patient/9000000009`, patch(fixture('requests/PatientPatch/update-gender.json'), 'W/"1"'));
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual(fixture('error-responses/RESOURCE_VERSION_MISMATCH.json'));
  });

  it('answers 412 PRECONDITION_FAILED without (or with a malformed) If-Match', async () => {
    const sim = await start();
    const api = await client(sim);
    const res = await api(`${sim.pdsBaseUrl}/Patient/9000000009`, patch(fixture('requests/PatientPatch/update-gender.json')));
    expect(res.status).toBe(412);
    expect(await spineCode(res)).toBe('PRECONDITION_FAILED');
    const malformed = await api(`${sim.pdsBaseUrl}/Patient/9000000009`, patch(fixture('requests/PatientPatch/update-gender.json'), '"2"'));
    expect(malformed.status).toBe(412);
  });

  it('rejects invalid patches with INVALID_UPDATE and applies none of them', async () => {
    const sim = await start();
    const api = await client(sim);
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const cases: Array<[unknown, number, string]> = [
      [{}, 400, 'INVALID_UPDATE'],
      [{ patches: [{ op: 'move', from: '/gender', path: '/birthDate' }] }, 400, 'INVALID_UPDATE'],
      [{ patches: [{ op: 'add', path: '/pets', value: 'cat' }] }, 400, 'INVALID_UPDATE'],
      [{ patches: [{ op: 'remove', path: '/name/0' }] }, 400, 'INVALID_UPDATE'], // remove needs a preceding test
      [{ patches: [{ op: 'replace', path: '/gender', value: 'male' }, { op: 'test', path: '/name/0/id', value: 'nope' }] }, 400, 'INVALID_UPDATE'],
      [fixture('requests/PatientPatch/delete-gender.json'), 400, 'INVALID_UPDATE'],
      [{ patches: [{ op: 'replace', path: '/id', value: '9000000017' }] }, 403, 'FORBIDDEN_UPDATE'],
    ];
    for (const [body, status, code] of cases) {
      const res = await api(url, patch(body, 'W/"2"'));
      expect([res.status, await spineCode(res)]).toEqual([status, code]);
    }
    const wrongType = await api(url, patch(fixture('requests/PatientPatch/update-gender.json'), 'W/"2"', 'application/json'));
    expect(wrongType.status).toBe(400);
    expect(await spineCode(wrongType)).toBe('INVALID_VALUE');
    const after = await api(url);
    expect(after.headers.get('etag')).toBe('W/"2"');
    expect(((await after.json()) as { gender: string }).gender).toBe('female');
    // A test + remove pair is accepted.
    const removed = await api(url, patch(fixture('requests/PatientPatch/delete-extension.json'), 'W/"2"'));
    expect(removed.status).toBe(200);
  });

  it('refuses to update a restricted patient (403 FORBIDDEN_UPDATE)', async () => {
    const sim = await start();
    const api = await client(sim);
    const res = await api(`${sim.pdsBaseUrl}/Patient/9000000025`, patch(fixture('requests/PatientPatch/update-gender.json'), 'W/"2"'));
    expect(res.status).toBe(403);
    expect(await spineCode(res)).toBe('FORBIDDEN_UPDATE');
  });
});

describe('NHS simulator: headers, auth and rate limit', () => {
  it('requires a UUID X-Request-ID and mirrors it and X-Correlation-ID', async () => {
    const sim = await start();
    const access = await token(sim);
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const missing = await fetch(url, { headers: { Authorization: `Bearer ${access}` } });
    expect(missing.status).toBe(400);
    expect(await spineCode(missing)).toBe('MISSING_VALUE');
    const invalid = await fetch(url, { headers: { Authorization: `Bearer ${access}`, 'X-Request-ID': 'not-a-uuid' } });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('x-request-id')).toBe('not-a-uuid');
    expect(await spineCode(invalid)).toBe('INVALID_VALUE');
    const id = randomUUID();
    const ok = await fetch(url, { headers: { Authorization: `Bearer ${access}`, 'X-Request-ID': id, 'X-Correlation-ID': 'corr-42' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe(id);
    expect(ok.headers.get('x-correlation-id')).toBe('corr-42');
  });

  it('answers 401 ACCESS_DENIED without a token, with a foreign token and after tokens are expired', async () => {
    const sim = await start();
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const none = await fetch(url, { headers: { 'X-Request-ID': randomUUID() } });
    expect(none.status).toBe(401);
    expect(await spineCode(none)).toBe('ACCESS_DENIED');
    expect((await fetch(url, { headers: { 'X-Request-ID': randomUUID(), Authorization: 'Bearer forged' } })).status).toBe(401);
    const api = await client(sim);
    expect((await api(url)).status).toBe(200);
    sim.expireTokens();
    const expired = await api(url);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as Outcome).issue[0]!.diagnostics).toBe('Access token expired');
    // Over HTTP too, with a fresh token.
    const api2 = await client(sim);
    expect((await api2(url)).status).toBe(200);
    expect((await fetch(`${sim.url}/__tokens/expire`, { method: 'POST' })).status).toBe(200);
    expect((await api2(url)).status).toBe(401);
  });

  it('short-lived tokens expire on their own', async () => {
    const sim = await start({ tokenTtlSeconds: 1 });
    const res = await fetch(sim.tokenUrl, tokenRequest(await assertion(sim)));
    expect(((await res.json()) as { expires_in: string }).expires_in).toBe('1');
  });

  it('limits each application to 5 requests a second across PDS, SCR and EPS with 429 + Retry-After', async () => {
    const sim = await start({ rateLimitPerSecond: undefined });
    const api = await client(sim);
    // Align to the start of a fresh window so the 6 requests land in one second.
    await new Promise((r) => setTimeout(r, 1100));
    const urls = [
      `${sim.pdsBaseUrl}/Patient/9000000009`,
      `${sim.scrBaseUrl}/Bundle?patient=https://fhir.nhs.uk/Id/nhs-number|9000000009`,
      `${sim.pdsBaseUrl}/Patient/9000000033`,
      `${sim.pdsBaseUrl}/Patient/9000000017`,
      `${sim.pdsBaseUrl}/Patient/9000000009`,
    ];
    const statuses = [];
    for (const u of urls) statuses.push((await api(u)).status);
    const sixth = await api(`${sim.epsBaseUrl}/Bundle`, { headers: { 'NHSD-Nhs-Number': '9000000009' } });
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await spineCode(sixth)).toBe('TOO_MANY_REQUESTS');
    expect(sim.stats().rateLimited).toBe(1);
    // The token endpoint and control routes are not limited.
    expect((await fetch(sim.tokenUrl, tokenRequest(await assertion(sim)))).status).toBe(200);
    expect((await fetch(`${sim.url}/__stats`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await api(urls[0]!)).status).toBe(200);
  });
});

describe('NHS simulator: SCR and EPS', () => {
  const scr = (sim: NhsSimulator, nhs: string): string => `${sim.scrBaseUrl}/Bundle?patient=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${nhs}`)}`;

  it('returns a Composition with allergies (with reactions), adverse reactions and medications', async () => {
    const sim = await start({ syntheticPatients: 2 });
    const api = await client(sim);
    for (const nhs of ['9000000009', ...syntheticNhsNumbers(2)]) {
      const res = await api(scr(sim, nhs));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/fhir+json');
      const b = (await res.json()) as Bundle;
      expect(b).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
      const types = b.entry!.map((e) => e.resource.resourceType);
      expect(types[0]).toBe('Composition');
      expect(types).toContain('MedicationStatement');
      const allergies = b.entry!.filter((e) => e.resource.resourceType === 'AllergyIntolerance').map((e) => e.resource);
      expect(allergies.map((a) => a.type).sort()).toEqual(['allergy', 'intolerance']);
      for (const a of allergies) {
        expect((a.reaction as Array<{ manifestation: unknown[] }>)[0]!.manifestation.length).toBeGreaterThan(0);
        expect((a.patient as { identifier: { value: string } }).identifier.value).toBe(nhs);
      }
      const adverse = allergies.find((a) => a.type === 'intolerance')!;
      expect(JSON.stringify(adverse.code)).toContain('281647001');
    }
  });

  it('is empty for 9000000033, 403 ACCESS_DENIED for the restricted patient, and validates the patient parameter', async () => {
    const sim = await start();
    const api = await client(sim);
    expect(((await (await api(scr(sim, '9000000033'))).json()) as Bundle).total).toBe(0);
    const restricted = await api(scr(sim, '9000000025'));
    expect(restricted.status).toBe(403);
    expect(await spineCode(restricted)).toBe('ACCESS_DENIED');
    const missing = await api(`${sim.scrBaseUrl}/Bundle`);
    expect([missing.status, await spineCode(missing)]).toEqual([400, 'MISSING_VALUE']);
    const badNhs = await api(scr(sim, '9000000000'));
    expect([badNhs.status, await spineCode(badNhs)]).toEqual([400, 'INVALID_RESOURCE_ID']);
    expect((await api(scr(sim, '9111231130'))).status).toBe(404);
    expect((await fetch(scr(sim, '9000000009'), { headers: { 'X-Request-ID': randomUUID() } })).status).toBe(401);
  });

  it('EPS returns MedicationRequests with prescription id, dm+d code, dosage, quantity and status', async () => {
    const sim = await start();
    const api = await client(sim);
    const res = await api(`${sim.epsBaseUrl}/Bundle`, { headers: { 'NHSD-Nhs-Number': '9000000009' } });
    expect(res.status).toBe(200);
    const b = (await res.json()) as Bundle;
    expect(b).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 3 });
    for (const e of b.entry!) {
      const r = e.resource as unknown as MedicationRequest;
      expect(r.resourceType).toBe('MedicationRequest');
      expect(r.groupIdentifier.value).toMatch(/^[0-9A-F]{6}-A83008-[0-9A-F]{5}[A-Z]$/);
      expect(r.medicationCodeableConcept.coding[0]!.system).toBe('http://snomed.info/sct');
      expect(r.medicationCodeableConcept.coding[0]!.code).toMatch(/^\d{6,18}$/);
      expect(typeof r.dosageInstruction[0]!.text).toBe('string');
      expect(r.dispenseRequest.quantity.value).toBeGreaterThan(0);
      expect(['active', 'completed']).toContain(r.status);
      expect(r.authoredOn).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      const status = r.extension[0]!.extension[0]!.valueCoding.display;
      expect(['To be Dispensed', 'With Dispenser', 'With Dispenser - Active', 'Dispensed']).toContain(status);
    }
    expect(((await (await api(`${sim.epsBaseUrl}/Bundle`, { headers: { 'NHSD-Nhs-Number': '9000000033' } })).json()) as Bundle).total).toBe(0);
    const missing = await api(`${sim.epsBaseUrl}/Bundle`);
    expect([missing.status, await spineCode(missing)]).toEqual([400, 'MISSING_VALUE']);
    expect((await api(`${sim.epsBaseUrl}/Bundle`, { headers: { 'NHSD-Nhs-Number': '9000000000' } })).status).toBe(400);
  });
});

/** The MESH Authorization header, exactly as mesh-api.yaml describes it. */
function meshAuthorization(o: { mailbox: string; password: string; sharedKey: string; nonce?: string; nonceCount?: number; timestamp?: string }): string {
  const nonce = o.nonce ?? randomUUID();
  const count = String(o.nonceCount ?? 0);
  const timestamp = o.timestamp ?? new Date().toISOString().replace(/[-:T]/g, '').slice(0, 12);
  const hash = createHmac('sha256', o.sharedKey).update(`${o.mailbox}:${nonce}:${count}:${o.password}:${timestamp}`).digest('hex');
  return `NHSMESH ${o.mailbox}:${nonce}:${count}:${timestamp}:${hash}`;
}

describe('NHS simulator: MESH', () => {
  const V2 = 'application/vnd.mesh.v2+json';
  const auth = (mailbox: string, extra: Partial<Parameters<typeof meshAuthorization>[0]> = {}): Record<string, string> => ({
    Authorization: meshAuthorization({ mailbox, password: 'password', sharedKey: 'TestKey', ...extra }),
    Accept: V2,
  });

  it('send -> tracking accepted -> recipient inbox, download, acknowledge -> tracking acknowledged', async () => {
    const sim = await start();
    const hub = 'X26HUB001';
    const gp = 'X26GPP001';
    const hs = await fetch(`${sim.meshBaseUrl}/${hub}`, { method: 'POST', headers: { ...auth(hub), 'mex-clientversion': 'hub==1', 'mex-osname': 'Linux', 'mex-osversion': '6' } });
    expect(hs.status).toBe(200);

    const sent = await fetch(`${sim.meshBaseUrl}/${hub}/outbox`, {
      method: 'POST',
      headers: { ...auth(hub), 'mex-to': gp, 'mex-workflowid': 'TOC_FHIR_DISCHARGE', 'mex-subject': 'Discharge', 'mex-localid': 'local-1', 'mex-filename': 'discharge.json', 'content-type': 'application/fhir+json' },
      body: '{"resourceType":"Bundle"}',
    });
    expect(sent.status).toBe(202);
    const { message_id } = (await sent.json()) as { message_id: string };
    expect(message_id).toMatch(/^\d{20}_[0-9A-F]{6}$/);

    const track = async (): Promise<Record<string, unknown>> => {
      const res = await fetch(`${sim.meshBaseUrl}/${hub}/outbox/tracking?messageID=${message_id}`, { headers: auth(hub) });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await track()).toMatchObject({ message_id, local_id: 'local-1', workflow_id: 'TOC_FHIR_DISCHARGE', recipient: gp, status: 'accepted', filename: 'discharge.json' });

    const inbox = await fetch(`${sim.meshBaseUrl}/${gp}/inbox`, { headers: auth(gp) });
    expect(await inbox.json()).toMatchObject({ messages: [message_id], approx_inbox_count: 1 });
    expect(((await (await fetch(`${sim.meshBaseUrl}/${hub}/inbox`, { headers: auth(hub) })).json()) as { messages: string[] }).messages).toEqual([]);

    const dl = await fetch(`${sim.meshBaseUrl}/${gp}/inbox/${message_id}`, { headers: auth(gp) });
    expect(dl.status).toBe(200);
    expect(await dl.text()).toBe('{"resourceType":"Bundle"}');
    expect(dl.headers.get('mex-from')).toBe(hub);
    expect(dl.headers.get('mex-workflowid')).toBe('TOC_FHIR_DISCHARGE');
    expect(dl.headers.get('mex-messagetype')).toBe('DATA');
    expect(dl.headers.get('content-type')).toBe('application/fhir+json');
    // Downloaded but not acknowledged: still accepted, still in the inbox.
    expect((await track()).status).toBe('accepted');

    const ack = await fetch(`${sim.meshBaseUrl}/${gp}/inbox/${message_id}/status/acknowledged`, { method: 'PUT', headers: auth(gp) });
    expect(ack.status).toBe(200);
    expect((await track()).status).toBe('acknowledged');
    expect(((await (await fetch(`${sim.meshBaseUrl}/${gp}/inbox`, { headers: auth(gp) })).json()) as { messages: string[] }).messages).toEqual([]);
    expect((await fetch(`${sim.meshBaseUrl}/${gp}/inbox/${message_id}`, { headers: auth(gp) })).status).toBe(410);
    // v1 tracking by local id.
    const v1 = await fetch(`${sim.meshBaseUrl}/${hub}/outbox/tracking/local-1`, { headers: { Authorization: auth(hub).Authorization! } });
    expect(await v1.json()).toMatchObject({ messageId: message_id, status: 'Acknowledged', localId: 'local-1' });
  });

  it('acknowledgeAll plays the recipient, programmatically and over /__mesh', async () => {
    const sim = await start();
    const send = async (): Promise<string> => {
      const res = await fetch(`${sim.meshBaseUrl}/X26HUB001/outbox`, { method: 'POST', headers: { ...auth('X26HUB001'), 'mex-to': 'X26HOS001', 'mex-workflowid': 'WF' }, body: 'x' });
      return ((await res.json()) as { message_id: string }).message_id;
    };
    const [a, b] = [await send(), await send()];
    expect(sim.acknowledgeAll('X26HOS001')).toBe(2);
    const status = async (id: string): Promise<unknown> =>
      ((await (await fetch(`${sim.meshBaseUrl}/X26HUB001/outbox/tracking?messageID=${id}`, { headers: auth('X26HUB001') })).json()) as { status: string }).status;
    expect([await status(a), await status(b)]).toEqual(['acknowledged', 'acknowledged']);
    await send();
    const res = await fetch(`${sim.url}/__mesh/X26HOS001/acknowledge-all`, { method: 'POST' });
    expect(await res.json()).toEqual({ acknowledged: 1 });
  });

  it('rejects a bad HMAC, a replayed header, a stale timestamp, another mailbox and unknown recipients', async () => {
    const sim = await start();
    const url = `${sim.meshBaseUrl}/X26HUB001/inbox`;
    const bad = await fetch(url, { headers: { Authorization: meshAuthorization({ mailbox: 'X26HUB001', password: 'wrong', sharedKey: 'TestKey' }) } });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ detail: 'Authentication failed' });
    expect((await fetch(url, { headers: { Authorization: meshAuthorization({ mailbox: 'X26HUB001', password: 'password', sharedKey: 'OtherKey' }) } })).status).toBe(403);
    const once = auth('X26HUB001', { nonce: randomUUID(), nonceCount: 1 });
    expect((await fetch(url, { headers: once })).status).toBe(200);
    expect((await fetch(url, { headers: once })).status).toBe(403);
    expect((await fetch(url, { headers: auth('X26HUB001', { timestamp: '202001010000' }) })).status).toBe(403);
    expect((await fetch(url, { headers: auth('X26GPP001') })).status).toBe(403);
    expect((await fetch(url)).status).toBe(403);
    const unknown = await fetch(`${sim.meshBaseUrl}/X26HUB001/outbox`, { method: 'POST', headers: { ...auth('X26HUB001'), 'mex-to': 'NOBODY01', 'mex-workflowid': 'WF' }, body: 'x' });
    expect(unknown.status).toBe(417);
    expect(await unknown.json()).toMatchObject({ detail: [{ event: 'SEND', code: '12' }] });
    const noTo = await fetch(`${sim.meshBaseUrl}/X26HUB001/outbox`, { method: 'POST', headers: { ...auth('X26HUB001'), 'mex-workflowid': 'WF' }, body: 'x' });
    expect(await noTo.json()).toMatchObject({ detail: [{ code: '08' }] });
  });
});

describe('NHS simulator: faults, reset and stats', () => {
  it('injects a status for `count` requests, answered as an OperationOutcome', async () => {
    const sim = await start();
    const api = await client(sim);
    sim.setFaults({ status: 503, count: 2, paths: ['/personal-demographics'] });
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const first = await api(url);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(await spineCode(first)).toBe('SERVICE_UNAVAILABLE');
    expect((await api(url)).status).toBe(503);
    expect((await api(url)).status).toBe(200);
    expect((await fetch(`${sim.url}/__faults`)).status).toBe(200);
  });

  it('drops connections and adds latency (a client timeout fires), via the HTTP control plane', async () => {
    const sim = await start();
    const api = await client(sim);
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    expect((await fetch(`${sim.url}/__faults`, { method: 'POST', body: JSON.stringify({ drop: true, count: 1 }) })).status).toBe(200);
    await expect(api(url)).rejects.toThrow();
    expect((await api(url)).status).toBe(200);

    await fetch(`${sim.url}/__faults`, { method: 'POST', body: JSON.stringify({ latencyMs: 300, count: 1 }) });
    const t0 = Date.now();
    expect((await api(url)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

    sim.setFaults({ latencyMs: 2000 });
    await expect(api(url, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    sim.clearFaults();
    expect((await api(url)).status).toBe(200);
    expect((await fetch(`${sim.url}/__faults`, { method: 'POST', body: JSON.stringify({ bogus: 1 }) })).status).toBe(400);
  });

  it('/__reset restores patients and MESH; /__stats counts requests', async () => {
    const sim = await start();
    const api = await client(sim);
    const url = `${sim.pdsBaseUrl}/Patient/9000000009`;
    const res = await api(url, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json', 'If-Match': 'W/"2"' },
      body: JSON.stringify(fixture('requests/PatientPatch/update-gender.json')),
    });
    expect(res.headers.get('etag')).toBe('W/"3"');
    await fetch(`${sim.meshBaseUrl}/X26HUB001/outbox`, { method: 'POST', headers: { ...auth2('X26HUB001'), 'mex-to': 'X26GPP001', 'mex-workflowid': 'WF' }, body: 'x' });
    expect((await fetch(`${sim.url}/__reset`, { method: 'POST' })).status).toBe(200);
    const after = await api(url);
    expect(after.headers.get('etag')).toBe('W/"2"');
    expect(((await after.json()) as { gender: string }).gender).toBe('female');
    const inbox = await fetch(`${sim.meshBaseUrl}/X26GPP001/inbox`, { headers: auth2('X26GPP001') });
    expect(((await inbox.json()) as { messages: string[] }).messages).toEqual([]);
    const stats = (await (await fetch(`${sim.url}/__stats`)).json()) as ReturnType<NhsSimulator['stats']>;
    expect(stats.byPath['/personal-demographics/FHIR/R4/Patient/9000000009']).toBe(2);
    expect(stats.tokensIssued).toBe(1);
    expect(stats).toEqual(sim.stats());
    expect(stats.byPath['/__stats']).toBeUndefined();
  });
});

function auth2(mailbox: string): Record<string, string> {
  return { Authorization: meshAuthorization({ mailbox, password: 'password', sharedKey: 'TestKey' }), Accept: 'application/vnd.mesh.v2+json' };
}
