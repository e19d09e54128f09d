import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Node loads graphql's CommonJS build for the federation packages; vite would pick its ESM build for our code,
// and two copies of graphql refuse each other's schemas. Point both at the one Node uses.
const graphql = createRequire(import.meta.url).resolve('graphql');

/**
 * Two projects: `embedded` (PGlite, in-process Redis equivalents: what a newcomer gets) always runs; `services`
 * (the real PostgreSQL and Redis of this machine) runs the hub suites again when HUB_TEST_SERVICES=1, as .ci/run sets.
 */
const services = process.env.HUB_TEST_SERVICES === '1';

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphql }] },
  test: {
    testTimeout: 60_000,
    // Two files at a time even on two cores: hub suites spend much of their time waiting (timers, retries,
    // back-offs, other processes), so the suite takes about 6 minutes instead of 10 one file at a time.
    maxWorkers: 2,
    hookTimeout: 120_000,
    projects: [
      // Unit tests of pure modules sit beside them (x.test.ts next to x.ts); the hub suites in test/.
      { extends: true, test: { name: 'embedded', include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'subgraphs/*/src/**/*.test.ts', 'gateway/src/**/*.test.ts'], env: { HUB_TEST_BACKEND: 'embedded' } } },
      ...(services
        ? [{ extends: true as const, test: { name: 'services', include: ['test/hub/**/*.test.ts'], env: { HUB_TEST_BACKEND: 'services' } } }]
        : []),
    ],
  },
});
