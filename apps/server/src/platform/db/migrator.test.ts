import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../../../test/database.ts';
import { MigrationError, type MigrationModule, migrate } from './migrator.ts';

describe('migrator', () => {
  let database: { url: string; drop: () => Promise<void> };
  let dir: string;
  let shop: MigrationModule;

  beforeEach(async () => {
    database = await createEmptyDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'olo-migrations-'));
    shop = { name: 'shop', dir };
    await writeFile(
      path.join(dir, '0001_items.sql'),
      'create schema shop; create table shop.items (id int primary key);',
    );
  });
  afterEach(async () => {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it('applies each migration once and records its checksum', async () => {
    const first = await migrate(database.url, [shop]);
    expect(first.applied).toEqual([
      'platform/0001_platform.sql',
      'platform/0002_auth_signing_keys.sql',
      'platform/0003_realtime_messages.sql',
      'shop/0001_items.sql',
    ]);
    expect((await migrate(database.url, [shop])).applied).toEqual([]);
    const rows = await query(
      "select module, version, checksum from platform.schema_migrations where module = 'shop'",
    );
    expect(rows).toEqual([{ module: 'shop', version: 1, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  it('stops with a clear message when an applied migration was edited', async () => {
    await migrate(database.url, [shop]);
    await writeFile(
      path.join(dir, '0001_items.sql'),
      'create schema shop; create table shop.items (id bigint primary key);',
    );
    const attempt = migrate(database.url, [shop]);
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(migrate(database.url, [shop])).rejects.toThrow(
      /shop\/0001_items\.sql was edited after it was applied/,
    );
  });

  it('stops when an applied migration file is missing', async () => {
    await writeFile(path.join(dir, '0002_prices.sql'), 'alter table shop.items add column price int;');
    await migrate(database.url, [shop]);
    await rm(path.join(dir, '0002_prices.sql'));
    await expect(migrate(database.url, [shop])).rejects.toThrow(
      /0002_prices\.sql was applied .* file is missing/,
    );
  });

  it('rolls back a failing migration entirely and applies nothing after it', async () => {
    await writeFile(
      path.join(dir, '0002_broken.sql'),
      'create table shop.ok (id int); select * from nowhere;',
    );
    await writeFile(path.join(dir, '0003_later.sql'), 'create table shop.later (id int);');
    await expect(migrate(database.url, [shop])).rejects.toThrow(/shop\/0002_broken\.sql failed/);
    const tables = await query(
      "select table_name from information_schema.tables where table_schema = 'shop' order by 1",
    );
    expect(tables).toEqual([{ table_name: 'items' }]);
  });

  it('refuses gaps and badly named files', async () => {
    await writeFile(path.join(dir, '0003_gap.sql'), 'select 1;');
    await expect(migrate(database.url, [shop])).rejects.toThrow(/expected version 2/);
    await rm(path.join(dir, '0003_gap.sql'));
    await writeFile(path.join(dir, 'Second.sql'), 'select 1;');
    await expect(migrate(database.url, [shop])).rejects.toThrow(/name must look like/);
  });

  it('applies once when several processes migrate at the same time', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(database.url, [shop])));
    const applied = results.flatMap((r) => r.applied);
    expect(applied.filter((name) => name === 'shop/0001_items.sql')).toHaveLength(1);
  });
});
