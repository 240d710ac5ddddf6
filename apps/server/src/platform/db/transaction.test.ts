import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { withTransaction } from './transaction.ts';

describe('withTransaction', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    await sql`create table public.counter (id int primary key, n int not null)`.execute(database.handle.db);
    await sql`insert into public.counter values (1, 0), (2, 0)`.execute(database.handle.db);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('retries serialization failures until every increment lands exactly once', async () => {
    const db = database.handle.db;
    let attempts = 0;
    const increment = () =>
      withTransaction(
        db,
        async (tx) => {
          attempts++;
          const row = await sql<{ n: number }>`select n from public.counter where id = 1`.execute(tx);
          await sql`update public.counter set n = ${(row.rows[0]?.n ?? 0) + 1} where id = 1`.execute(tx);
        },
        { isolation: 'serializable', maxAttempts: 50 },
      );
    await Promise.all(Array.from({ length: 8 }, increment));
    const final = await sql<{ n: number }>`select n from public.counter where id = 1`.execute(db);
    expect(final.rows[0]?.n).toBe(8);
    // Concurrent read-modify-write under SERIALIZABLE must have collided at least once.
    expect(attempts).toBeGreaterThan(8);
  });

  it('retries a deadlock victim', async () => {
    const db = database.handle.db;
    let attempts = 0;
    let bothLocked: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      let arrived = 0;
      bothLocked = () => {
        arrived++;
        if (arrived === 2) resolve();
      };
    });
    const lockInOrder = (first: number, second: number) =>
      withTransaction(db, async (tx) => {
        attempts++;
        await sql`update public.counter set n = n + 1 where id = ${first}`.execute(tx);
        if (attempts <= 2) {
          bothLocked();
          await barrier;
        }
        await sql`update public.counter set n = n + 1 where id = ${second}`.execute(tx);
      });
    await Promise.all([lockInOrder(1, 2), lockInOrder(2, 1)]);
    expect(attempts).toBe(3);
  });

  it('does not retry other errors', async () => {
    let attempts = 0;
    await expect(
      withTransaction(database.handle.db, async (tx) => {
        attempts++;
        await sql`select * from public.missing_table`.execute(tx);
      }),
    ).rejects.toThrow(/missing_table/);
    expect(attempts).toBe(1);
  });
});
