import { domainMigrations } from '../domains/registry.ts';
import { ConfigError, loadConfig } from '../platform/config/config.ts';
import { resolveDatabase } from '../platform/db/connect.ts';
import { MigrationError, migrate } from '../platform/db/migrator.ts';
import { createLogger } from '../platform/observability/logger.ts';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database) and exits. */
try {
  const config = loadConfig();
  const logger = createLogger(config);
  const store = await resolveDatabase(config, logger);
  try {
    const { applied } = await migrate(store.url, domainMigrations, (message) => logger.info(message));
    process.stdout.write(`${applied.length} migration(s) applied\n`);
  } finally {
    await store.stop();
  }
} catch (error) {
  // Configuration, migration and connection problems are the operator's to fix: one line, no stack.
  const known = error instanceof ConfigError || error instanceof MigrationError;
  process.stderr.write(
    `olo: ${known ? '' : 'migrate failed: '}${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
