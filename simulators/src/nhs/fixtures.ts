import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Test-only material for the NHS simulator (see fixtures/nhs/README.md): the real PDS sandbox bodies and error
 * bodies, and a public RSA key pair for the signed-JWT client assertion. Read once at import so a missing file
 * fails loudly at startup.
 */
const dir = new URL('../../fixtures/nhs/', import.meta.url);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const readJson = (relative: string): JsonObject => JSON.parse(readFileSync(new URL(relative, dir), 'utf8')) as JsonObject;

export const sandbox = {
  patient: readJson('pds/sandbox-responses/Patient.json'),
  sensitivePatient: readJson('pds/sandbox-responses/Sensitive_Patient.json'),
  minimalPatient: readJson('pds/sandbox-responses/Minimal_Patient.json'),
  jayneSmyth: readJson('pds/sandbox-responses/Patient-Jayne-Smyth.json'),
  relatedPersonBundle: readJson('pds/sandbox-responses/RelatedPersonBundle.json'),
} as const;

/** error-responses/<CODE>.json by Spine code. */
export const errorBodies: ReadonlyMap<string, JsonObject> = new Map(
  readdirSync(new URL('pds/error-responses/', dir))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.slice(0, -'.json'.length), readJson(`pds/error-responses/${f}`)]),
);

/** Absolute paths of the fixture key pair, for tools that want files. */
export const nhsFixtureKeyPaths = {
  privateKey: fileURLToPath(new URL('keys/hub-sim-1.private.pem', dir)),
  publicKey: fileURLToPath(new URL('keys/hub-sim-1.public.pem', dir)),
} as const;

/**
 * TEST-ONLY, PUBLIC key pair and API key so the hub can start the simulator in-process with no configuration.
 * Not secret; never register it anywhere real.
 */
export const nhsFixtureKeys: { kid: string; privateKeyPem: string; publicKeyPem: string; apiKey: string } = {
  kid: 'hub-sim-1',
  privateKeyPem: readFileSync(nhsFixtureKeyPaths.privateKey, 'utf8'),
  publicKeyPem: readFileSync(nhsFixtureKeyPaths.publicKey, 'utf8'),
  apiKey: 'hub-sim-api-key-0000000000000001',
};

/** Default MESH mailboxes and shared key (the password and key NHSDigital/mesh-sandbox uses). Not secret. */
export const nhsFixtureMesh: { sharedKey: string; mailboxes: Record<string, string> } = {
  sharedKey: 'TestKey',
  mailboxes: { X26HUB001: 'password', X26GPP001: 'password', X26HOS001: 'password' },
};

/** Ready-made options: `startNhsSimulator(nhsSimulatorDefaults())`. */
export function nhsSimulatorDefaults(): {
  apiKey: string;
  publicKeys: Record<string, string>;
  meshMailboxes: Record<string, string>;
  meshSharedKey: string;
} {
  return {
    apiKey: nhsFixtureKeys.apiKey,
    publicKeys: { [nhsFixtureKeys.kid]: nhsFixtureKeys.publicKeyPem },
    meshMailboxes: { ...nhsFixtureMesh.mailboxes },
    meshSharedKey: nhsFixtureMesh.sharedKey,
  };
}

export function clone<T extends Json>(value: T): T {
  return structuredClone(value);
}
