/**
 * Production never simulates by omission: a hub process started with NODE_ENV=production and a connector neither
 * configured nor disabled refuses to start, naming what is missing; one with the connectors disabled starts, says
 * they are not configured, and has not so much as loaded the simulators (or their fixture keys).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { InitiatePaymentDocument } from '../generated/graphql.ts';
import { loadConfig } from '@hub/runtime';
import { eventually } from '../support/hub.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const START_TIMEOUT_MS = 90_000;
const scratch = mkdtempSync(join(tmpdir(), 'hub-production-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every connector named in CONNECTORS_DISABLED. */
const ALL_DISABLED = 'nhs,hmrc,banking,payroll,cqc,dbs';

const KEY = `hub_${randomBytes(24).toString('base64url')}`;
const base = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  AUTH_API_KEYS: `ops:read+write+finance:${createHash('sha256').update(KEY).digest('hex')}`,
  VAULT_KEYS: `prod:${randomBytes(32).toString('base64')}`,
  // In memory, not a folder named "memory:…" in the working directory.
  DATA_DIR: `memory:hub-production-${randomBytes(4).toString('hex')}`,
};

interface Child {
  url: string;
  output(): string;
  /** Every module URL the process resolved. */
  modules(): string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `npm start` as a child, recording the modules it loads (test/fixtures/record-modules.mjs). */
async function spawnHub(env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const modulesFile = join(scratch, `modules-${port}.txt`);
  const { HUB_TEST_BACKEND: _b, HUB_TEST_SERVICES: _s, NODE_ENV: _n, DATABASE_URL: _d, REDIS_URL: _r, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/fixtures/record-modules.mjs', 'gateway/src/main.ts'], {
    cwd: ROOT,
    env: { ...inherited, ...env, PORT: String(port), HUB_TEST_MODULES_FILE: modulesFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    modules: () => (existsSync(modulesFile) ? readFileSync(modulesFile, 'utf8').split('\n').filter(Boolean) : []),
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function ready(c: Child): Promise<void> {
  let code: number | null | undefined;
  void c.exited.then((x) => (code = x));
  await eventually(
    async () => {
      if (code !== undefined) throw new Error(`hub exited (${code}):\n${c.output()}`);
      return (await fetch(`${c.url}/readyz`)).status === 200;
    },
    START_TIMEOUT_MS,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- hub output ---\n${c.output()}`);
  });
}

const simulatorModules = (c: Child) => c.modules().filter((u) => u.includes('/simulators/'));

describe('a production hub process', { timeout: 180_000 }, () => {
  it('refuses to start while the bank is neither configured nor disabled, and says what to set', async () => {
    const c = await spawnHub({ ...base, NHS_ENVIRONMENT: 'sandbox', HMRC_ENVIRONMENT: 'sandbox', HMRC_CLIENT_ID: 'x', HMRC_CLIENT_SECRET: 'y', HMRC_REDIRECT_URI: 'https://hub.example/cb' });
    expect(await c.exited).toBe(2);
    expect(c.output()).toContain('OPEN_BANKING_BASE_URL: required when NODE_ENV=production');
    expect(c.output()).toContain('CONNECTORS_DISABLED=banking');
    expect(simulatorModules(c)).toEqual([]);
  });

  it('refuses the same for NHS and HMRC, and an unknown or contradictory CONNECTORS_DISABLED', () => {
    const load = (env: Record<string, string>) => () => loadConfig({ ...base, ...env } as NodeJS.ProcessEnv);
    expect(load({ CONNECTORS_DISABLED: 'hmrc,banking,payroll,cqc,dbs' })).toThrow(/NHS_ENVIRONMENT: required when NODE_ENV=production .*or CONNECTORS_DISABLED=nhs/);
    expect(load({ CONNECTORS_DISABLED: 'nhs,banking,payroll,cqc,dbs' })).toThrow(/HMRC_ENVIRONMENT: required when NODE_ENV=production .*or CONNECTORS_DISABLED=hmrc/);
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,bank' })).toThrow('CONNECTORS_DISABLED: unknown connector "bank"');
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,banking,payroll,cqc,dbs', NHS_ENVIRONMENT: 'sandbox' })).toThrow('CONNECTORS_DISABLED: nhs is both disabled and configured');
    expect(load({ CONNECTORS_DISABLED: ALL_DISABLED })()).toMatchObject({ nhs: { disabled: true }, hmrc: { disabled: true }, openBanking: { disabled: true }, payroll: { environment: 'disabled' }, regulatory: { cqc: { environment: 'disabled' }, dbs: { environment: 'disabled' } } });
  });

  it('refuses the same for payroll filing and the regulators: each configured, disabled, or named in CONNECTORS_DISABLED', () => {
    const load = (env: Record<string, string>) => () => loadConfig({ ...base, ...env } as NodeJS.ProcessEnv);
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,banking,cqc,dbs' })).toThrow(/HMRC_RTI_ENVIRONMENT: required when NODE_ENV=production .*or CONNECTORS_DISABLED=payroll/);
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,banking,payroll,dbs' })).toThrow(/CQC_ENVIRONMENT: required when NODE_ENV=production .*or CONNECTORS_DISABLED=cqc/);
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,banking,payroll,cqc' })).toThrow(/DBS_ENVIRONMENT: required when NODE_ENV=production .*or CONNECTORS_DISABLED=dbs/);
    expect(load({ CONNECTORS_DISABLED: 'nhs,hmrc,banking', HMRC_RTI_ENVIRONMENT: 'disabled', CQC_ENVIRONMENT: 'disabled', DBS_ENVIRONMENT: 'disabled' })()).toMatchObject({ payroll: { environment: 'disabled' } });
    expect(load({ CONNECTORS_DISABLED: ALL_DISABLED, CQC_ENVIRONMENT: 'live', CQC_SUBSCRIPTION_KEY: 'k' })).toThrow('CONNECTORS_DISABLED: cqc is both disabled and configured');
  });

  it('with the connectors disabled it starts, answers that no bank is configured, and never loads a simulator', async () => {
    const c = await spawnHub({ ...base, CONNECTORS_DISABLED: ALL_DISABLED });
    try {
      await ready(c);
      const res = await fetch(`${c.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({
          query: print(InitiatePaymentDocument),
          variables: { input: { reference: 'RH-PROD1', amount: '10.00', creditorName: 'Laundry Ltd', sortCode: '20-00-00', accountNumber: '55779911' } },
        }),
      });
      const body = (await res.json()) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
      expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(body.errors?.[0]?.message).toMatch(/no bank is configured/);
      expect(c.modules().some((u) => u.includes('/gateway/src/hub.ts'))).toBe(true); // the recording works
      expect(simulatorModules(c)).toEqual([]);
      expect(c.output()).not.toMatch(/SIMULATED/);
    } finally {
      await c.stop();
    }
    expect(existsSync(join(ROOT, base.DATA_DIR))).toBe(false);
  });

  it('outside production the same process does load the simulators, so the check above can fail', async () => {
    const { NODE_ENV: _n, ...dev } = base;
    const c = await spawnHub({ ...dev, AUTH_API_KEYS: '' });
    try {
      await ready(c);
      expect(simulatorModules(c).length).toBeGreaterThan(0);
    } finally {
      await c.stop();
    }
  });
});
