import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isCredentialKey, maskNhsNumbers, sanitizeForLog } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger('trace', 'test', stream), text: () => lines.join(''), lines: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('the logger', () => {
  it('redacts credential-shaped keys at any depth', () => {
    const { log, text, lines } = capture();
    log.info(
      {
        request: { headers: { Authorization: 'Bearer abc.def', 'x-api-key': 'hub_key_1', cookie: 'sid=1' } },
        config: { nhs: { privateKeyPem: '-----BEGIN PRIVATE KEY-----xyz', apiKey: 'nhs-key-2', tokenUrl: 'https://idp.test/token' }, vaultKeys: 'k:AAAA' },
        systems: [{ credentials: { clientSecret: 's3cr3t', password: 'hunter2', refresh_token: 'rt-9' } }],
        deep: { a: { b: { c: { d: { e: { meshSharedKey: 'shared-7' } } } } } },
      },
      'calling out',
    );
    for (const secret of ['abc.def', 'hub_key_1', 'sid=1', 'BEGIN PRIVATE KEY', 'nhs-key-2', 'k:AAAA', 's3cr3t', 'hunter2', 'rt-9', 'shared-7']) expect(text()).not.toContain(secret);
    const [line] = lines();
    expect(line!.request.headers.Authorization).toBe('[redacted]');
    expect(line!.config.nhs.tokenUrl).toBe('https://idp.test/token'); // where a credential is used is not one
    expect(line!.systems[0].credentials).toBe('[redacted]');
    expect(line!.msg).toBe('calling out');
  });

  it('strips the statement and bound values from database errors, keeping what says what went wrong', () => {
    const { log, text, lines } = capture();
    const pg = Object.assign(new Error('duplicate key value violates unique constraint "residents_nhs_number_key"'), {
      code: '23505',
      constraint_name: 'residents_nhs_number_key',
      detail: 'Key (nhs_number)=(Jane Smith) already exists.',
      query: 'insert into residents (nhs_number, name) values ($1, $2)',
      parameters: ['Jane Smith', 'Flat 2, 1 High Street'],
    });
    const drizzle = Object.assign(new Error('Failed query: insert into residents values ($1, $2)\nparams: Jane Smith,Flat 2', { cause: pg }), {
      query: 'insert into residents values ($1, $2)',
      params: ['Jane Smith', 'Flat 2'],
    });
    log.error({ err: drizzle }, 'insert failed');
    log.error(pg);
    for (const leaked of ['Jane Smith', 'High Street', 'Flat 2', 'insert into']) expect(text()).not.toContain(leaked);
    const [first, second] = lines();
    expect(first!.err).toMatchObject({ type: 'Error', message: 'Failed query: [redacted]' });
    expect(first!.err.stack).toMatch(/^Error: Failed query: \[redacted\]\n {4}at /);
    expect(first!.err.cause).toMatchObject({ code: '23505', constraint_name: 'residents_nhs_number_key', parameters: '[redacted]', query: '[redacted]', detail: '[redacted]' });
    expect(second).toMatchObject({ err: { code: '23505', parameters: '[redacted]' }, msg: 'duplicate key value violates unique constraint "residents_nhs_number_key"' });
  });

  it('never writes an NHS number, in values, messages, numbers or error messages', () => {
    const { log, text } = capture();
    log.info({ nhsNumber: '9434765919', resident: { id: 943_476_5870 }, note: 'patient 943 476 5919 admitted' }, 'looked up 943-476-5919');
    log.warn(new Error('no record for 9434765919'));
    log.info('a timestamp 1796414267703 and a phone 01632960001 stay');
    expect(text()).not.toMatch(/9434765919|943 476 5919|943-476-5919|9434765870/);
    expect(text()).toContain('[nhs-number]');
    expect(text()).toContain('1796414267703');
    expect(text()).toContain('01632960001');
  });

  it('child loggers bindings pass the same filter', () => {
    const { log, text } = capture();
    log.child({ token: 'tok-1', nhs: '9434765919' }).info('x');
    expect(text()).not.toMatch(/tok-1|9434765919/);
  });

  it('pieces', () => {
    expect(maskNhsNumbers('9434765918')).toBe('9434765918'); // wrong check digit: not an NHS number
    expect(maskNhsNumbers('19434765919')).toBe('19434765919'); // part of a longer number
    expect(isCredentialKey('client_secret')).toBe(true);
    expect(isCredentialKey('apiKeyId')).toBe(false);
    expect(sanitizeForLog({ a: 1, self: undefined })).toEqual({ a: 1, self: undefined });
    const loop: Record<string, unknown> = {};
    loop.loop = loop;
    expect(sanitizeForLog(loop)).toEqual({ loop: '[circular]' });
  });
});
