import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.types.ts';

// int8 → bigint: money is counted in int8 and must never pass through a float.
pg.types.setTypeParser(20, (value) => BigInt(value));

export type Db = Kysely<Database>;

export type DatabaseHandle = {
  url: string;
  db: Db;
  pool: pg.Pool;
  close: () => Promise<void>;
};

export function createDatabase(options: {
  url: string;
  poolMax: number;
  applicationName?: string;
}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    application_name: options.applicationName ?? 'olo-server',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // A dropped connection must not crash the process: an idle one is replaced by the pool; a
  // checked-out one fails its pending query, which reports the error to its caller.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    url: options.url,
    db,
    pool,
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
