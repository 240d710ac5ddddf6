import { createRequire } from 'node:module';
import os from 'node:os';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node resolves `graphql` to its CommonJS entry for packages loaded outside Vite (Pothos, Mercurius);
    // our sources must get the same copy, not the `module` (.mjs) one, or graphql sees two realms.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: [
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
    ],
    globalSetup: ['apps/server/test/global-setup.ts'],
    // Test files spend much of their time waiting on PostgreSQL and on the server processes they
    // start, so two workers finish sooner even on a 2-core machine (vitest's default there is one).
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    // Most of the run's CPU is Node's: worker threads that keep their loaded modules across files
    // cost less than a fresh process per file. Each file still gets its own database and app, so no
    // state is shared between files through our code.
    pool: 'threads',
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
