import { buildApp } from './app.ts';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, seedDemoData } from './demo/demo-seed.ts';
import { domainMigrations } from './domains/registry.ts';
import { systemClock } from './platform/clock.ts';
import { ConfigError, loadConfig } from './platform/config/config.ts';
import { resolveDatabase } from './platform/db/connect.ts';
import { createDatabase } from './platform/db/database.ts';
import { MigrationError, migrate, platformMigrations, readMigrations } from './platform/db/migrator.ts';
import { createLogger } from './platform/observability/logger.ts';

/** Fatal start-up problems the operator can fix: one line, no stack. */
function exitWith(message: string): never {
  process.stderr.write(`olo: ${message}\n`);
  process.exit(1);
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message);
    throw error;
  }
  const logger = createLogger(config);
  const store = await resolveDatabase(config, logger);
  try {
    await migrate(store.url, domainMigrations, (message) => logger.info(message));
  } catch (error) {
    await store.stop();
    if (error instanceof MigrationError) exitWith(error.message);
    throw error;
  }
  const migrations = await readMigrations([platformMigrations, ...domainMigrations]);
  const database = createDatabase({ url: store.url, poolMax: config.database.poolMax });
  const { app, services, shutdown } = await buildApp({ config, database, migrations, clock: systemClock });
  await services.signingKeys.ensureSigningKey(config.auth.signingKeyMaxAgeDays);
  // Rotation is checked hourly too, so a long-running process does not sign with an old key forever.
  setInterval(() => {
    services.signingKeys
      .ensureSigningKey(config.auth.signingKeyMaxAgeDays)
      .catch((error: unknown) => logger.error({ err: error }, 'signing key rotation check failed'));
  }, 3_600_000).unref();
  const seeded = config.seedDemoData ? await seedDemoData(services) : undefined;
  // Consumers start before traffic; app.ts's shutdown stops them before the pool closes.
  await services.eventLog.start();
  // graphile-worker migrates its own schema here; then every process claims cron ticks and runs jobs.
  await services.jobs.start();
  await services.cron.start();
  await app.listen({ host: config.host, port: config.port });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    try {
      await shutdown();
      await store.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const base = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`;
  const lines = [
    '',
    `OLO is running (${store.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'})`,
    `  GraphQL      ${base}/graphql${config.graphiql ? `   (GraphiQL: ${base}/graphiql)` : ''}`,
    `  WebSocket    ${base.replace('http', 'ws')}/graphql   (graphql-transport-ws)`,
    `  Health       ${base}/healthz  ${base}/readyz  ${base}/metrics`,
    `  JWKS         ${base}/.well-known/jwks.json`,
  ];
  if (seeded) {
    lines.push(
      '',
      `Demo accounts (${seeded.created} created now); password for all: ${DEMO_PASSWORD}`,
      ...DEMO_ACCOUNTS.map((a) => `  ${a.label.padEnd(10)} ${a.email.padEnd(22)} ${a.phone ?? ''}`.trimEnd()),
      '',
      'Sign in: mutation { signInWithEmail(email: "admin@olo.local", password: "olo-demo-password") { accessToken } }',
      'then send "Authorization: Bearer <accessToken>". Phone sign-in: requestPhoneCode, then read the code from the log.',
      '',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`olo: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
