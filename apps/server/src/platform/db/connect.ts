import path from 'node:path';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

/** The repository root: relative data paths in the configuration are resolved against it. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../../../../..');

/** `DATABASE_URL` when set; otherwise an embedded PostgreSQL with its data under `.data/`. */
export async function resolveDatabase(
  config: Config,
  logger: Logger,
): Promise<{ url: string; embedded: boolean; stop: () => Promise<void> }> {
  if (config.database.url) return { url: config.database.url, embedded: false, stop: async () => {} };
  const embedded = await startEmbeddedPostgres({
    dataDir: path.resolve(REPO_ROOT, config.database.embeddedDataDir),
    port: config.database.embeddedPort,
    database: 'olo',
    logger,
  });
  return { url: embedded.url, embedded: true, stop: embedded.stop };
}
