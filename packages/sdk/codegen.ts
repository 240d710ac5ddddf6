import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen --workspace @olo/sdk`: typed documents for every operation in src/operations,
 * generated from the server's committed SDL (apps/server/schema.graphql).
 * test/sdk-generated.test.ts fails when the committed output is stale.
 *
 * typescript-operations (v6+) emits the enum and input types the operations use by itself, so the
 * `typescript` plugin is not listed: with it, `Role` and `DeviceInput` would be declared twice.
 */
export const config: CodegenConfig = {
  schema: '../../apps/server/schema.graphql',
  documents: 'src/operations/*.graphql',
  silent: true,
  generates: {
    'src/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown', Coins: 'string' },
        strictScalars: true,
        // Unions of string literals: no TS enums (erasableSyntaxOnly).
        enumType: 'string-literal',
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
