import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { HubError } from '../../packages/runtime/src/errors.ts';
import { createVault, generateVaultKey, parseVaultKeys } from '../../packages/runtime/src/vault.ts';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

function undecryptable(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).code).toBe('INTERNAL');
    expect((e as HubError).message).toBe('credential could not be decrypted');
    expect((e as HubError).details).toBeUndefined();
    return;
  }
  throw new Error('expected decryption to fail');
}

// Flip one character of part i (keeping valid base64url) to simulate tampering.
function tamper(sealed: string, part: number): string {
  const parts = sealed.split('.');
  const p = parts[part]!;
  const c = p[0] === 'A' ? 'B' : 'A';
  parts[part] = c + p.slice(1);
  return parts.join('.');
}

describe('vault', () => {
  const vault = createVault({ keys: [k1], activeKeyId: 'k1' });

  it('round-trips strings and objects in the v1 format with a fresh IV each time', () => {
    const a = vault.seal('s3cret', 'sys_1');
    const b = vault.seal('s3cret', 'sys_1');
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(vault.open(a, 'sys_1')).toBe('s3cret');
    const creds = { clientId: 'hub', clientSecret: 'x' };
    expect(vault.openJson(vault.seal(creds, 'sys_1'), 'sys_1')).toEqual(creds);
    expect(vault.open(vault.seal(''))).toBe('');
    expect(vault.open(vault.seal('ünïcødé ✓'))).toBe('ünïcødé ✓');
  });

  it('binds a ciphertext to its owner through the AAD', () => {
    const sealed = vault.seal('s3cret', 'sys_1');
    undecryptable(() => vault.open(sealed, 'sys_2'));
    undecryptable(() => vault.open(sealed));
    undecryptable(() => vault.open(vault.seal('s3cret'), 'sys_1'));
  });

  it('refuses tampered or malformed ciphertexts', () => {
    const sealed = vault.seal('s3cret', 'sys_1');
    for (const part of [2, 3, 4]) undecryptable(() => vault.open(tamper(sealed, part), 'sys_1'));
    const parts = sealed.split('.');
    undecryptable(() => vault.open([...parts.slice(0, 3), parts[3]!.slice(0, 6), parts[4]].join('.'), 'sys_1')); // truncated tag
    undecryptable(() => vault.open(sealed.replace(/^v1\./, 'v2.'), 'sys_1'));
    undecryptable(() => vault.open(sealed.replace('.k1.', '.k9.'), 'sys_1'));
    undecryptable(() => vault.open('garbage', 'sys_1'));
    undecryptable(() => vault.openJson(vault.seal('not json')));
  });

  it('fails with the wrong key', () => {
    const impostor = createVault({ keys: [{ id: 'k1', key: randomBytes(32) }], activeKeyId: 'k1' });
    undecryptable(() => impostor.open(vault.seal('s3cret', 'a'), 'a'));
  });

  it('rotates: old ciphertexts still open, needsRotation/reseal move them to the active key', () => {
    const old = vault.seal({ apiKey: 'abc' }, 'sys_1');
    const rotated = createVault({ keys: [k2, k1], activeKeyId: 'k2' });
    expect(rotated.openJson(old, 'sys_1')).toEqual({ apiKey: 'abc' });
    expect(rotated.needsRotation(old)).toBe(true);

    const fresh = rotated.reseal(old, 'sys_1');
    expect(fresh.startsWith('v1.k2.')).toBe(true);
    expect(rotated.needsRotation(fresh)).toBe(false);
    expect(rotated.reseal(fresh, 'sys_1')).toBe(fresh);
    expect(rotated.openJson(fresh, 'sys_1')).toEqual({ apiKey: 'abc' });
    undecryptable(() => rotated.reseal(old, 'sys_2')); // the AAD is checked before anything is rewritten

    const k2Only = createVault({ keys: [k2], activeKeyId: 'k2' });
    expect(k2Only.openJson(fresh, 'sys_1')).toEqual({ apiKey: 'abc' });
    undecryptable(() => k2Only.open(old, 'sys_1'));
  });

  it('validates the key ring', () => {
    expect(() => createVault({ keys: [k1], activeKeyId: 'k2' })).toThrow(/active key "k2"/);
    expect(() => createVault({ keys: [{ id: 'short', key: randomBytes(16) }], activeKeyId: 'short' })).toThrow(/32 bytes/);
    expect(() => createVault({ keys: [k1, k1], activeKeyId: 'k1' })).toThrow(/duplicate/);
    expect(() => createVault({ keys: [{ id: 'a.b', key: randomBytes(32) }], activeKeyId: 'a.b' })).toThrow(/key id/);
  });
});

describe('parseVaultKeys / generateVaultKey', () => {
  it('parses id:base64 pairs, first one active', () => {
    const a = generateVaultKey();
    const b = generateVaultKey();
    expect(Buffer.from(a, 'base64')).toHaveLength(32);
    const parsed = parseVaultKeys(` 2025-06:${a} , 2024-01:${b}`);
    expect(parsed.activeKeyId).toBe('2025-06');
    expect(parsed.keys.map((k) => k.id)).toEqual(['2025-06', '2024-01']);
    expect(parsed.keys[1]!.key.equals(Buffer.from(b, 'base64'))).toBe(true);
    const v = createVault(parsed);
    expect(v.open(v.seal('x'))).toBe('x');
  });

  it('gives clear errors without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseVaultKeys('')).toThrow(/no keys/);
    expect(() => parseVaultKeys('justakey')).toThrow(/entry 1: expected "id:base64key"/);
    expect(() => parseVaultKeys(`k1:${generateVaultKey()},k2:%%%`)).toThrow(/entry 2 \("k2"\): key is not base64/);
    try {
      parseVaultKeys(`k1:${short}`);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/VAULT_KEYS entry 1: key "k1" must be 32 bytes \(AES-256\), got 16 bytes/);
      expect((e as Error).message).not.toContain(short);
    }
    const key = generateVaultKey();
    expect(() => parseVaultKeys(`k1:${key},k1:${generateVaultKey()}`)).toThrow(/duplicate key id "k1"/);
  });
});
