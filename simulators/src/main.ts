/**
 * Command-line runner for the demo, e.g.
 *   tsx simulators/src/main.ts --auth oauth2 --port 4101
 * Prints the base URL and the credentials a hub connection needs, then serves until Ctrl-C.
 * `--json` prints the same information as one JSON line, for scripts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateResidents } from './records.ts';
import { startGenericRestSimulator } from './server.ts';
import { tlsFixturePaths } from './tls.ts';
import type { SimAuth } from './types.ts';

const USAGE = `usage: tsx simulators/src/main.ts --auth <none|api-key|basic|oauth2|jwt|mtls> [options]
  --port <n>             listen port (default: ephemeral)
  --host <addr>          bind address (default 127.0.0.1)
  --records <n>          number of generated residents (default 237)
  --ttl <seconds>        access-token lifetime (default 300)
  --rate-limit <n>       requests per second before 429
  --api-key <k> --api-key-header <h>          (api-key)
  --username <u> --password <p>               (basic)
  --client-id <id> --client-secret <s> --scope <s>   (oauth2; --client-id also for jwt)
  --public-key <pem-file> --kid <kid>         (jwt; without --public-key a key pair is generated and the private key printed)
  --json                 print connection details as one JSON line`;

const { values } = parseArgs({
  options: {
    auth: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    records: { type: 'string' },
    ttl: { type: 'string' },
    'rate-limit': { type: 'string' },
    'api-key': { type: 'string' },
    'api-key-header': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    scope: { type: 'string' },
    'public-key': { type: 'string' },
    kid: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || !values.auth) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return n;
}

/** Builds the auth config plus the credentials to show the operator (which may include a generated private key). */
function buildAuth(kind: string): { auth: SimAuth; credentials: Record<string, string> } {
  switch (kind.toLowerCase().replace(/_/g, '-')) {
    case 'none':
      return { auth: { kind: 'NONE' }, credentials: {} };
    case 'api-key': {
      const header = values['api-key-header'] ?? 'X-API-Key';
      const key = values['api-key'] ?? 'sim-api-key';
      return { auth: { kind: 'API_KEY', header, key }, credentials: { header, key } };
    }
    case 'basic': {
      const username = values.username ?? 'sim-user';
      const password = values.password ?? 'sim-password';
      return { auth: { kind: 'BASIC', username, password }, credentials: { username, password } };
    }
    case 'oauth2':
    case 'oauth2-client-credentials': {
      const clientId = values['client-id'] ?? 'sim-client';
      const clientSecret = values['client-secret'] ?? 'sim-secret';
      const scope = values.scope;
      return {
        auth: { kind: 'OAUTH2_CLIENT_CREDENTIALS', clientId, clientSecret, scope },
        credentials: { clientId, clientSecret, ...(scope ? { scope } : {}) },
      };
    }
    case 'jwt':
    case 'jwt-client-assertion': {
      const clientId = values['client-id'] ?? 'sim-jwt-client';
      const kid = values.kid ?? 'sim-key-1';
      const credentials: Record<string, string> = { clientId, kid, alg: 'RS512' };
      let publicKeyPem: string;
      if (values['public-key']) {
        publicKeyPem = readFileSync(values['public-key'], 'utf8');
      } else {
        // Demo convenience: a throwaway key pair whose private half the hub connection is configured with.
        const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
        publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        credentials.privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      }
      return { auth: { kind: 'JWT_CLIENT_ASSERTION', clientId, publicKeyPem, kid }, credentials };
    }
    case 'mtls':
    case 'client-certificate':
      return {
        auth: { kind: 'CLIENT_CERTIFICATE' },
        credentials: { caFile: tlsFixturePaths.ca, certFile: tlsFixturePaths.clientCert, keyFile: tlsFixturePaths.clientKey },
      };
    default:
      console.error(`unknown --auth ${kind}\n${USAGE}`);
      process.exit(2);
  }
}

const { auth, credentials } = buildAuth(values.auth);
const recordCount = int('records', values.records);
const sim = await startGenericRestSimulator({
  auth,
  port: int('port', values.port),
  host: values.host,
  records: recordCount === undefined ? undefined : generateResidents(recordCount),
  tokenTtlSeconds: int('ttl', values.ttl),
  rateLimitPerSecond: int('rate-limit', values['rate-limit']),
});

const hasTokenEndpoint = auth.kind === 'OAUTH2_CLIENT_CREDENTIALS' || auth.kind === 'JWT_CLIENT_ASSERTION';
if (values.json) {
  console.log(JSON.stringify({ url: sim.url, ...(hasTokenEndpoint ? { tokenUrl: sim.tokenUrl } : {}), auth: auth.kind, credentials }));
} else {
  console.log(`generic REST simulator (${auth.kind}) listening on ${sim.url}`);
  if (hasTokenEndpoint) console.log(`  token URL: ${sim.tokenUrl}`);
  for (const [name, value] of Object.entries(credentials)) {
    console.log(value.includes('\n') ? `  ${name}:\n${value.trimEnd()}` : `  ${name}: ${value}`);
  }
  console.log(`  try: GET ${sim.url}/health, ${sim.url}/residents?limit=10 ; faults: POST/DELETE ${sim.url}/__faults`);
}

const shutdown = (): void => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
