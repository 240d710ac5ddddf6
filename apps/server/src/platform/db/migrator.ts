import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/** A folder of forward-only SQL migrations owned by one module (the platform or a domain). */
export type MigrationModule = { name: string; dir: string };

export type MigrationFile = {
  module: string;
  version: number;
  name: string;
  sql: string;
  checksum: string;
};

export class MigrationError extends Error {
  override name = 'MigrationError';
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any constant works; it only has to be the same for every process of the platform.
const MIGRATION_LOCK_KEY = 7_410_001;

export const platformMigrations: MigrationModule = {
  name: 'platform',
  dir: path.join(import.meta.dirname, 'migrations'),
};

export async function readMigrations(modules: MigrationModule[]): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for (const module of modules) {
    const names = (await readdir(module.dir)).filter((n) => n.endsWith('.sql')).sort();
    let expected = 1;
    for (const fileName of names) {
      const match = FILE_PATTERN.exec(fileName);
      if (!match)
        throw new MigrationError(`${module.name}/${fileName}: name must look like 0001_description.sql`);
      const version = Number(match[1]);
      if (version !== expected) {
        throw new MigrationError(`${module.name}/${fileName}: expected version ${expected} (no gaps)`);
      }
      expected++;
      const sql = await readFile(path.join(module.dir, fileName), 'utf8');
      files.push({
        module: module.name,
        version,
        name: fileName,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      });
    }
  }
  return files;
}

type AppliedRow = { module: string; version: number; name: string; checksum: string };

async function appliedMigrations(client: pg.ClientBase): Promise<AppliedRow[]> {
  const exists = await client.query(`select to_regclass('platform.schema_migrations') as t`);
  if (!exists.rows[0]?.t) return [];
  const result = await client.query<AppliedRow>(
    'select module, version, name, checksum from platform.schema_migrations order by module, version',
  );
  return result.rows;
}

/** Fails when an applied migration was edited or removed: migrations are forward-only. */
function verifyApplied(files: MigrationFile[], applied: AppliedRow[]): void {
  const byKey = new Map(files.map((f) => [`${f.module}/${f.version}`, f]));
  for (const row of applied) {
    const file = byKey.get(`${row.module}/${row.version}`);
    if (!file) {
      throw new MigrationError(
        `Migration ${row.module}/${row.name} was applied to this database but its file is missing; migrations are forward-only`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${row.module}/${row.name} was edited after it was applied (checksum ${row.checksum.slice(0, 12)} in the database, ${file.checksum.slice(0, 12)} on disk); migrations are forward-only: restore the file and add a new migration`,
      );
    }
  }
}

/**
 * Applies pending migrations in module order, each in its own transaction, under an
 * advisory lock so that several processes starting together apply each file once.
 */
export async function migrate(
  url: string,
  modules: MigrationModule[],
  log: (message: string) => void = () => {},
): Promise<{ applied: string[] }> {
  const files = await readMigrations([platformMigrations, ...modules]);
  const client = new pg.Client({ connectionString: url, application_name: 'olo-migrate' });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await appliedMigrations(client);
    verifyApplied(files, applied);
    const done = new Set(applied.map((r) => `${r.module}/${r.version}`));
    const appliedNow: string[] = [];
    for (const file of files) {
      if (done.has(`${file.module}/${file.version}`)) continue;
      try {
        await client.query('begin');
        await client.query(file.sql);
        await client.query(
          'insert into platform.schema_migrations (module, version, name, checksum) values ($1, $2, $3, $4)',
          [file.module, file.version, file.name, file.checksum],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw new MigrationError(`Migration ${file.module}/${file.name} failed: ${(error as Error).message}`);
      }
      appliedNow.push(`${file.module}/${file.name}`);
      log(`applied migration ${file.module}/${file.name}`);
    }
    return { applied: appliedNow };
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/**
 * For /readyz: every migration this process knows is applied and unchanged. Migrations it does not
 * know (a newer release already migrated during a rolling deploy) do not make it unready.
 */
export async function migrationsUpToDate(pool: pg.Pool, files: MigrationFile[]): Promise<boolean> {
  const client = await pool.connect();
  try {
    const applied = new Map(
      (await appliedMigrations(client)).map((r) => [`${r.module}/${r.version}`, r.checksum]),
    );
    return files.every((f) => applied.get(`${f.module}/${f.version}`) === f.checksum);
  } catch {
    return false;
  } finally {
    client.release();
  }
}
