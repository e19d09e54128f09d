import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed operations from the composed API schema (schema/api.graphql, kept current by npm run schema:check).
 * The tests use them; frontend apps can point the same config at their own documents.
 */
const config: CodegenConfig = {
  schema: 'schema/api.graphql',
  documents: ['test/operations/**/*.graphql'],
  generates: {
    'test/generated/graphql.ts': {
      plugins: ['typescript', 'typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
  // Quiet when it works, loud (and a non-zero exit) when it does not: `silent` hid failures and left stale types.
  errorsOnly: true,
};

export default config;
