import { readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { domainMigrations } from '../src/domains/registry.ts';
import { startEmbeddedPostgres } from '../src/platform/db/embedded-postgres.ts';
import { migrate } from '../src/platform/db/migrator.ts';
import { freePort } from '../src/platform/net/ports.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

export type BenchDatabase = {
  /** Connection string of the fresh, migrated database the server will use. */
  url: string;
  /** Where it runs: `embedded` or the server named by BENCH_DATABASE_URL. */
  kind: 'embedded PostgreSQL' | 'BENCH_DATABASE_URL';
  /** The postmaster's process id when it runs here (embedded), for measuring its CPU. */
  pid: () => number | undefined;
  stop: () => Promise<void>;
};

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'olo-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated database: on BENCH_DATABASE_URL's server when set (a new database, dropped
 * afterwards), otherwise on an embedded PostgreSQL in a temporary directory on a free port.
 */
export async function startBenchDatabase(adminUrl: string | undefined): Promise<BenchDatabase> {
  if (adminUrl) {
    const name = `olo_bench_${process.pid}_${Date.now().toString(36)}`;
    await onServer(adminUrl, (client) => client.query(`create database "${name}"`));
    const url = withDatabase(adminUrl, name);
    const drop = () =>
      onServer(adminUrl, (client) => client.query(`drop database if exists "${name}" with (force)`)).then(
        () => {},
      );
    try {
      await migrate(url, domainMigrations);
    } catch (error) {
      await drop();
      throw error;
    }
    return { url, kind: 'BENCH_DATABASE_URL', pid: () => undefined, stop: drop };
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'olo-bench-pg-'));
  // initdb runs as an unprivileged user when the benchmark runs as root: it must reach the folder.
  await chmod(dir, 0o755);
  const removeDir = async () => {
    process.off('exit', removeDirAtExit);
    await rm(dir, { recursive: true, force: true });
  };
  // embedded-postgres stops its servers and exits on SIGINT/SIGTERM by itself (async-exit-hook),
  // possibly before our cleanup has run: remove the folder whenever the process ends.
  const removeDirAtExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDirAtExit);
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      port: await freePort(),
      database: 'olo_bench',
      logger: createLogger({ logLevel: 'silent', env: 'test' }),
      persistent: false,
    });
  } catch (error) {
    await removeDir();
    throw error;
  }
  const stop = async () => {
    try {
      await embedded.stop();
    } finally {
      await removeDir();
    }
  };
  try {
    await migrate(embedded.url, domainMigrations);
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = () => {
    try {
      const first = readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0];
      return first ? Number(first) : undefined;
    } catch {
      return undefined;
    }
  };
  return { url: embedded.url, kind: 'embedded PostgreSQL', pid, stop };
}

/** Facts about the database for the report: its version and how much data it holds. */
export async function describeDatabase(url: string): Promise<{ version: string; users: number }> {
  return onServer(url, async (client) => {
    const version = await client.query<{ version: string }>('select version() as version');
    const users = await client.query<{ count: string }>('select count(*) as count from "user".users');
    return { version: version.rows[0]?.version ?? 'unknown', users: Number(users.rows[0]?.count ?? 0) };
  });
}
