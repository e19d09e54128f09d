import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { HubError } from './errors.ts';

/**
 * Credential vault: external-system secrets are stored only as AES-256-GCM ciphertexts.
 *
 * Sealed format: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id lets several keys live in
 * the ring so VAULT_KEYS can be rotated without a big-bang re-encryption: new seals use the active key, old
 * ciphertexts still open, and needsRotation/reseal migrate rows at leisure.
 */

export interface VaultKey {
  id: string;
  key: Buffer; // 32 bytes
}

export interface Vault {
  /** Objects are stored as JSON. `aad` binds the ciphertext to its owner (e.g. the system id). */
  seal(plaintext: string | object, aad?: string): string;
  open(sealed: string, aad?: string): string;
  openJson<T>(sealed: string, aad?: string): T;
  /** True when sealed under a key other than the active one. */
  needsRotation(sealed: string): boolean;
  /** Re-encrypts under the active key; returns the input unchanged when it already is. */
  reseal(sealed: string, aad?: string): string;
}

const VERSION = 'v1';
const IV_BYTES = 12; // the GCM standard nonce size
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/; // no "." or ":" — they separate the sealed and VAULT_KEYS formats

// One message for every failure so an attacker learns nothing about which part was wrong.
const undecryptable = () => new HubError('INTERNAL', 'credential could not be decrypted');

function checkKey(k: VaultKey, where: string) {
  if (!KEY_ID.test(k.id)) throw new Error(`${where}: key id "${k.id}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
  if (!Buffer.isBuffer(k.key) || k.key.length !== 32) {
    throw new Error(`${where}: key "${k.id}" must be 32 bytes (AES-256), got ${Buffer.isBuffer(k.key) ? k.key.length : 'no'} bytes`);
  }
}

// The header is authenticated too, so a ciphertext cannot be relabelled with another key id or version.
const aadFor = (keyId: string, aad: string | undefined) => Buffer.from(`${VERSION}.${keyId}\0${aad ?? ''}`, 'utf8');

function parse(sealed: string) {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 5 || parts[0] !== VERSION) throw undecryptable();
  const [, keyId, iv, tag, ct] = parts as [string, string, string, string, string];
  return { keyId, iv: Buffer.from(iv, 'base64url'), tag: Buffer.from(tag, 'base64url'), ct: Buffer.from(ct, 'base64url') };
}

export function createVault(opts: { keys: VaultKey[]; activeKeyId: string }): Vault {
  const ring = new Map<string, Buffer>();
  for (const k of opts.keys) {
    checkKey(k, 'vault');
    if (ring.has(k.id)) throw new Error(`vault: duplicate key id "${k.id}"`);
    ring.set(k.id, k.key);
  }
  const activeKey = ring.get(opts.activeKeyId);
  if (!activeKey) throw new Error(`vault: active key "${opts.activeKeyId}" is not in the key ring`);
  const activeId = opts.activeKeyId;

  function seal(plaintext: string | object, aad?: string): string {
    const text = typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', activeKey!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadFor(activeId, aad));
    const ct = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, activeId, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
  }

  function open(sealed: string, aad?: string): string {
    const { keyId, iv, tag, ct } = parse(sealed);
    const key = ring.get(keyId);
    // Node accepts truncated GCM tags unless told the length; a short tag would make forgery feasible.
    if (!key || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw undecryptable();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aadFor(keyId, aad));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
    } catch {
      throw undecryptable();
    }
  }

  function openJson<T>(sealed: string, aad?: string): T {
    const text = open(sealed, aad);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw undecryptable();
    }
  }

  const needsRotation = (sealed: string) => parse(sealed).keyId !== activeId;

  function reseal(sealed: string, aad?: string): string {
    const text = open(sealed, aad); // also proves the AAD is right before anything is rewritten
    return parse(sealed).keyId === activeId ? sealed : seal(text, aad);
  }

  return { seal, open, openJson, needsRotation, reseal };
}

/**
 * Parses VAULT_KEYS, `id1:base64key,id2:base64key`; the first key is the active one, the others stay only to
 * open older ciphertexts. Errors name the entry, never the key material.
 */
export function parseVaultKeys(spec: string): { keys: VaultKey[]; activeKeyId: string } {
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('VAULT_KEYS: no keys given (expected "id:base64key[,id:base64key...]")');
  const keys = entries.map((entry, i) => {
    const sep = entry.indexOf(':');
    const id = sep > 0 ? entry.slice(0, sep) : '';
    const material = sep > 0 ? entry.slice(sep + 1).trim() : '';
    const where = `VAULT_KEYS entry ${i + 1}`;
    if (!id || !material) throw new Error(`${where}: expected "id:base64key"`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) throw new Error(`${where} ("${id}"): key is not base64`);
    const key = { id, key: Buffer.from(material, 'base64') };
    checkKey(key, where);
    return key;
  });
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.id)) throw new Error(`VAULT_KEYS: duplicate key id "${k.id}"`);
    seen.add(k.id);
  }
  return { keys, activeKeyId: keys[0]!.id };
}

/** A fresh random key for VAULT_KEYS (base64, 32 bytes). */
export const generateVaultKey = (): string => randomBytes(32).toString('base64');
