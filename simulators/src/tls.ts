import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Test-only TLS material (see fixtures/tls/README.md). Read once at import so a
 * missing file fails loudly at startup rather than on the first TLS handshake.
 */
const dir = new URL('../fixtures/tls/', import.meta.url);

/** Absolute file paths, for tools (curl, the demo CLI) that want files rather than PEM strings. */
export const tlsFixturePaths = {
  ca: fileURLToPath(new URL('ca.pem', dir)),
  serverCert: fileURLToPath(new URL('server.pem', dir)),
  serverKey: fileURLToPath(new URL('server-key.pem', dir)),
  clientCert: fileURLToPath(new URL('client.pem', dir)),
  clientKey: fileURLToPath(new URL('client-key.pem', dir)),
  otherClientCert: fileURLToPath(new URL('other-client.pem', dir)),
  otherClientKey: fileURLToPath(new URL('other-client-key.pem', dir)),
} as const;

const read = (path: string): string => readFileSync(path, 'utf8');

export const tlsFixtures: {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  otherClientCertPem: string;
  otherClientKeyPem: string;
} = {
  caPem: read(tlsFixturePaths.ca),
  serverCertPem: read(tlsFixturePaths.serverCert),
  serverKeyPem: read(tlsFixturePaths.serverKey),
  clientCertPem: read(tlsFixturePaths.clientCert),
  clientKeyPem: read(tlsFixturePaths.clientKey),
  otherClientCertPem: read(tlsFixturePaths.otherClientCert),
  otherClientKeyPem: read(tlsFixturePaths.otherClientKey),
};
