import { buildApp } from '../src/app.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import type { AuthTokens } from '../src/domains/user/session.service.ts';
import type { Role } from '../src/platform/auth/roles.ts';
import { type Clock, systemClock } from '../src/platform/clock.ts';
import { type Config, loadConfig } from '../src/platform/config/config.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import type { Services } from '../src/services.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const TEST_ISSUER = 'http://olo.test';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '4000',
    PUBLIC_URL: TEST_ISSUER,
    SEED_DEMO_DATA: 'false',
    ...overrides,
  });
}

export type TestApp = {
  url: string;
  wsUrl: string;
  services: Services;
  database: TestDatabase;
  config: Config;
  /** Creates an account with these roles and signs it in on a new session. */
  signIn: (roles?: Role[]) => Promise<AuthTokens>;
  close: () => Promise<void>;
};

/** The real app on a fresh database copy, listening on a random loopback port. */
export async function startTestApp(
  options: { env?: Record<string, string>; clock?: Clock } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = testConfig(options.env);
  const migrations = await readMigrations([platformMigrations, ...domainMigrations]);
  const { app, services, shutdown } = await buildApp({
    config,
    database: database.handle,
    migrations,
    clock: options.clock ?? systemClock,
  });
  await services.signingKeys.ensureSigningKey(config.auth.signingKeyMaxAgeDays);
  await services.eventLog.start();
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    wsUrl: `${address.replace('http', 'ws')}/graphql`,
    services,
    database,
    config,
    signIn: async (roles = ['user']) => {
      const user = await services.accounts.createOloAccount(roles);
      return database.handle.db
        .transaction()
        .execute((tx) =>
          services.sessions.open(tx, user, { deviceName: 'test', userAgent: 'vitest', ip: '127.0.0.1' }),
        );
    },
    close: async () => {
      await shutdown();
      await database.drop();
    },
  };
}
