import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

/**
 * `npm run auth:key -- <client> [read+write+health+finance+audit] --organisation ORG [--homes H1,H2]`: a new API key for
 * a client app of one organisation (optionally limited to some of its homes). Prints the key (give it to the app; it
 * is not kept anywhere) and the AUTH_API_KEYS entry (only the key's SHA-256) for the hub's configuration. To rotate,
 * add the new entry beside the old one, move the app to the new key, then remove the old entry.
 *
 * `npm run auth:key -- --internal`: a new INTERNAL_SIGNING_KEYS entry, the key every process of one hub shares to sign
 * and check the calls between them.
 */
const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const usage = 'usage: npm run auth:key -- <client name: letters, digits, . _ -> [scopes: read, write, health, finance, audit joined by +] --organisation <org id> [--homes <home id,home id>]\n       npm run auth:key -- --internal';
let parsed;
try {
  parsed = parseArgs({ allowPositionals: true, options: { organisation: { type: 'string' }, homes: { type: 'string' }, internal: { type: 'boolean' } } });
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.internal) {
  console.log(`INTERNAL_SIGNING_KEYS entry (the same in every hub process; add a new one first to rotate):\n  k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}:${randomBytes(32).toString('base64')}`);
  process.exit(0);
}
const [client, scopes = 'read'] = positionals;
const homes = values.homes?.split(',');
if (
  !client ||
  positionals.length > 2 ||
  !/^[A-Za-z0-9._-]{1,100}$/.test(client) ||
  !/^(read|write|health|finance|audit)(\+(read|write|health|finance|audit))*$/.test(scopes) ||
  !values.organisation ||
  !ID.test(values.organisation) ||
  (homes && !homes.every((h) => ID.test(h)))
) {
  console.error(`${usage}\n(organisation and home ids: 1 to 64 lower-case letters, digits, . _ -)`);
  process.exit(2);
}
const key = `hub_${randomBytes(32).toString('base64url')}`;
const entry = `${client}:${scopes}:${createHash('sha256').update(key).digest('hex')}:${values.organisation}${homes ? `:${homes.join(',')}` : ''}`;
console.log(`API key for ${client} of ${values.organisation}${homes ? ` (homes ${homes.join(', ')})` : ''} (shown once; send it as "Authorization: Bearer <key>" or "X-API-Key"):\n  ${key}\n`);
console.log(`AUTH_API_KEYS entry (separate entries with ";"):\n  ${entry}`);
