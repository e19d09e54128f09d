import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGenericRestSimulator, type GenericRestSimulator } from '@hub/simulators';
import { eventually, startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let sim: GenericRestSimulator;

beforeAll(async () => {
  hub = await startTestHub({ MAX_BODY_BYTES: '65536' });
  sim = await startGenericRestSimulator({ auth: { kind: 'API_KEY', key: 'rest-key-1' } });
});
afterAll(async () => {
  await sim?.close();
  await hub?.close();
});

const MISSING = '00000000-0000-4000-8000-000000000000';

describe('the seed REST endpoints', () => {
  it('walks systems and integrations end to end with proper status codes', async () => {
    const created = await hub.rest('POST', '/api/integration/systems', {
      name: 'REST system',
      type: 'GENERIC_REST',
      endpoint: sim.url,
      authentication: { kind: 'API_KEY' },
      dataFormats: ['JSON'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'REST system', status: 'REGISTERED', authentication: { kind: 'API_KEY', hasCredentials: false } });
    const id = created.body.id as string;

    const list = await hub.rest('GET', '/api/integration/systems?type=GENERIC_REST');
    expect(list.status).toBe(200);
    expect(list.body.map((s: { id: string }) => s.id)).toContain(id);

    const refused = await hub.rest('POST', `/api/integration/systems/${id}/connect`, { apiKey: 'wrong' });
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ connected: false, status: 'AUTH_FAILED' });

    const connected = await hub.rest('POST', `/api/integration/systems/${id}/connect`, { apiKey: 'rest-key-1' });
    expect(connected.status).toBe(200);
    expect(connected.body).toMatchObject({ connected: true, status: 'CONNECTED', system: { id } });

    const status = await hub.rest('GET', `/api/integration/systems/${id}/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id, status: 'CONNECTED', health: { ok: true, httpStatus: 200 } });
    expect((await hub.rest('GET', `/api/integration/systems/${id}`)).body).toMatchObject({ id });

    const integration = await hub.rest('POST', '/api/integration/integrations', { externalSystemId: id, name: 'REST residents', resource: { path: '/residents', pageSize: 100 } });
    expect(integration.status).toBe(201);
    expect(integration.body).toMatchObject({ name: 'REST residents', externalSystem: { id, name: 'REST system' } });
    const iid = integration.body.id as string;

    const listed = await hub.rest('GET', `/api/integration/integrations?externalSystemId=${id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((i: { id: string }) => i.id)).toEqual([iid]);
    expect((await hub.rest('GET', `/api/integration/integrations/${iid}`)).body).toMatchObject({ id: iid });

    const sync = await hub.rest('POST', `/api/integration/integrations/${iid}/sync`);
    expect(sync.status).toBe(202);
    expect(sync.body).toMatchObject({ status: 'QUEUED', trigger: 'MANUAL' });

    const logs = await eventually(async () => {
      const r = await hub.rest('GET', `/api/integration/integrations/${iid}/logs`);
      return r.body.syncRuns?.[0]?.status === 'SUCCEEDED' ? r : undefined;
    });
    expect(logs.status).toBe(200);
    expect(logs.body.syncRuns[0]).toMatchObject({ id: sync.body.id, recordsStored: 237, pages: 3 });
    expect(logs.body.logs.map((l: { message: string }) => l.message)).toEqual(expect.arrayContaining([expect.stringMatching(/sync succeeded: 237 records/)]));
    const oneRun = await hub.rest('GET', `/api/integration/integrations/${iid}/logs?runId=${sync.body.id}&first=2`);
    expect(oneRun.body.logs).toHaveLength(2);

    const disconnected = await hub.rest('POST', `/api/integration/systems/${id}/disconnect`);
    expect(disconnected.body).toMatchObject({ status: 'DISCONNECTED' });
  });

  it('404 for unknown ids and unknown paths, 405 for a wrong method', async () => {
    for (const path of [`/api/integration/systems/${MISSING}`, `/api/integration/systems/${MISSING}/status`, `/api/integration/integrations/${MISSING}`, `/api/integration/integrations/${MISSING}/logs`]) {
      const r = await hub.rest('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }
    expect((await hub.rest('POST', `/api/integration/systems/${MISSING}/connect`, {})).status).toBe(404);
    expect((await hub.rest('POST', `/api/integration/integrations/${MISSING}/sync`)).status).toBe(404);
    expect((await hub.rest('GET', '/api/integration/nothing-here')).status).toBe(404);
    const wrong = await hub.rest('DELETE', '/api/integration/systems');
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.message).toMatch(/GET, POST|POST, GET/);
  });

  it('400 for malformed JSON, missing fields and wrong enum values; 422 for a refused endpoint; 413 for an oversized body', async () => {
    const before = (await hub.rest('GET', '/api/integration/systems')).body.length;
    const malformed = await hub.rest('POST', '/api/integration/systems', '{"name": "x",');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/not valid JSON/) } } });
    const array = await hub.rest('POST', '/api/integration/systems', '[1,2]');
    expect(array.status).toBe(400);
    const missing = await hub.rest('POST', '/api/integration/systems', { name: 'x', type: 'BANK', authentication: { kind: 'NONE' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/endpoint/);
    const badEnum = await hub.rest('POST', '/api/integration/systems', { name: 'x', type: 'SPACESHIP', endpoint: 'https://example.org', authentication: { kind: 'NONE' } });
    expect(badEnum.status).toBe(400);
    expect(badEnum.body.error.message).toMatch(/SPACESHIP/);
    const refused = await hub.rest('POST', '/api/integration/systems', { name: 'x', type: 'BANK', endpoint: 'http://169.254.169.254/', authentication: { kind: 'NONE' } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('OUTBOUND_REFUSED');
    const huge = await hub.rest('POST', '/api/integration/systems', { name: 'x', type: 'BANK', endpoint: 'https://example.org', authentication: { kind: 'NONE' }, configuration: { blob: 'x'.repeat(100_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const badIntegration = await hub.rest('POST', '/api/integration/integrations', { externalSystemId: MISSING, name: 'x', resource: { path: '/r' } });
    expect(badIntegration.status).toBe(404);
    expect((await hub.rest('GET', '/api/integration/systems')).body.length).toBe(before);
  });
});
