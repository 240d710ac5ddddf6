import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { domainMigrations } from '../src/domains/registry.ts';
import { startEmbeddedPostgres } from '../src/platform/db/embedded-postgres.ts';
import { migrate } from '../src/platform/db/migrator.ts';
import { freePort } from '../src/platform/net/ports.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    testDatabase: { adminUrl: string; template: string };
  }
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Once per run: a PostgreSQL (embedded, or TEST_DATABASE_URL's server) and one template database
 * with every migration applied. Each test file copies the template (see test/database.ts).
 */
export default async function setup(project: TestProject) {
  const logger = createLogger({ logLevel: 'silent', env: 'test' });
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'olo-test-pg-'));
    // initdb runs as the unprivileged postgres user when the tests run as root.
    await chmod(dataDir, 0o755);
    const embedded = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, 'data'),
      port: await freePort(),
      database: 'postgres',
      logger,
      persistent: false,
      durable: false,
    });
    adminUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const template = `olo_template_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${template}"`);
  await migrate(databaseUrl(adminUrl, template), domainMigrations);
  project.provide('testDatabase', { adminUrl, template });

  return async () => {
    const copies = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname like $1 or datname = $2`,
      [`${template}_copy_%`, template],
    );
    for (const { datname } of copies.rows)
      await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    await stopEmbedded?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
