import { createHash, randomBytes } from 'node:crypto';

/**
 * `npm run auth:key -- <client> [read+write+health+finance]`: a new API key for a client app. Prints the key (give it to the
 * app; it is not kept anywhere) and the AUTH_API_KEYS entry (only the key's SHA-256) for the hub's configuration.
 * To rotate, add the new entry beside the old one, move the app to the new key, then remove the old entry.
 */
const [client, scopes = 'read'] = process.argv.slice(2);
if (!client || !/^[A-Za-z0-9._-]{1,100}$/.test(client) || !/^(read|write|health|finance)(\+(read|write|health|finance))*$/.test(scopes)) {
  console.error('usage: npm run auth:key -- <client name: letters, digits, . _ -> [scopes: read, write, health, finance joined by +]');
  process.exit(2);
}
const key = `hub_${randomBytes(32).toString('base64url')}`;
const entry = `${client}:${scopes}:${createHash('sha256').update(key).digest('hex')}`;
console.log(`API key for ${client} (shown once; send it as "Authorization: Bearer <key>" or "X-API-Key"):\n  ${key}\n`);
console.log(`AUTH_API_KEYS entry (separate entries with ";"):\n  ${entry}`);
