import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { systemClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { LoggedEvent } from './event-catalogue.ts';
import { EventLogError } from './event-catalogue.ts';
import type { EventLog } from './event-log.service.ts';
import { createTestEventLog, testOther, testPing, waitFor } from './event-log.test-support.ts';

describe('emit', () => {
  let database: TestDatabase;
  let log: EventLog;
  let close: () => Promise<void>;
  let consumerSeq = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ log, close } = createTestEventLog({ url: database.url, clock: systemClock, poolMax: 10 }));
  });
  afterAll(async () => {
    await close?.();
    await database?.drop();
  });

  /** A consumer registered now, starting at the head: it sees only what commits from here on. */
  const freshConsumer = async () => {
    const name = `seen_${++consumerSeq}`;
    const seen: LoggedEvent[] = [];
    log.registerConsumer({
      name,
      onExhausted: 'stop',
      startFrom: 'now',
      handler: async (event) => {
        seen.push(event);
      },
    });
    await log.drain(name);
    return {
      seen,
      drain: async () => {
        expect(await log.drain(name)).toEqual({ kind: 'idle' });
        return seen;
      },
    };
  };

  const countEvents = async () =>
    Number(
      (await sql<{ n: bigint }>`select count(*) as n from event_log.events`.execute(database.handle.db))
        .rows[0]?.n,
    );

  it('delivers an event if and only if its transaction commits', async () => {
    const consumer = await freshConsumer();
    const before = await countEvents();
    await expect(
      withTransaction(database.handle.db, async (tx) => {
        await log.emit(tx, testPing.event({ n: 1 }));
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await withTransaction(database.handle.db, (tx) => log.emit(tx, testPing.event({ n: 2 })));
    const seen = await consumer.drain();
    expect(seen.map((e) => e.payload)).toEqual([{ n: 2 }]);
    expect(await countEvents()).toBe(before + 1);
  });

  it('refuses unknown types and payloads that do not fit, writing nothing', async () => {
    const consumer = await freshConsumer();
    const before = await countEvents();
    const refusal = await withTransaction(database.handle.db, async (tx) => {
      const codes: unknown[] = [];
      for (const event of [
        { type: 'no_such_event', payload: {} },
        { type: 'test_ping', version: 7, payload: { n: 1 } },
        { type: 'test_ping', payload: { n: 'one' } },
        { type: 'test_ping', payload: { n: 1.5 } },
        { type: 'test_other', payload: null },
        { type: 'test_ping', payload: { n: 1 }, userId: 'not-a-user' },
      ]) {
        try {
          await log.emit(tx, event);
          codes.push('accepted');
        } catch (error) {
          codes.push(error instanceof EventLogError ? error.code : error);
        }
      }
      // The caller's transaction is still usable: a refused emit sent nothing to the database.
      await log.emit(tx, testOther.event({ note: 'kept' }));
      return codes;
    });
    expect(refusal).toEqual([
      'UNKNOWN_EVENT_TYPE',
      'UNKNOWN_EVENT_TYPE',
      'INVALID_EVENT_PAYLOAD',
      'INVALID_EVENT_PAYLOAD',
      'INVALID_EVENT_PAYLOAD',
      'INVALID_EVENT_PAYLOAD',
    ]);
    expect(await countEvents()).toBe(before + 1);
    expect((await consumer.drain()).map((e) => [e.type, e.version, e.payload])).toEqual([
      ['test_other', 1, { note: 'kept' }],
    ]);
  });

  it('stores the payload as its schema parses it, with the newest version by default', async () => {
    const consumer = await freshConsumer();
    await withTransaction(database.handle.db, (tx) =>
      log.emit(tx, { type: 'test_ping', payload: { n: 3, extra: 'dropped' }, userId: null }),
    );
    const [event] = await consumer.drain();
    expect(event?.payload).toEqual({ n: 3 });
    expect(event?.version).toBe(1);
    expect(event && testPing.matches(event) ? event.payload.n : undefined).toBe(3);
  });

  it('numbers events in commit order, not insert order', async () => {
    const consumer = await freshConsumer();
    const db = database.handle.db;
    const first = await db.startTransaction().execute();
    const second = await db.startTransaction().execute();
    const a = await log.emit(first, testPing.event({ n: 10 }));
    const b = await log.emit(second, testPing.event({ n: 11 }));
    await second.commit().execute();
    await first.commit().execute();
    const seen = await consumer.drain();
    expect(seen.map((e) => e.id)).toEqual([b.id, a.id]);
    expect((seen[0]?.position ?? 0n) < (seen[1]?.position ?? 0n)).toBe(true);
  });

  it('holds a later commit until an earlier numbered one ends, so no reader sees a position before its predecessors', async () => {
    const consumer = await freshConsumer();
    const db = database.handle.db;
    const early = await db.startTransaction().execute();
    const a = await log.emit(early, testPing.event({ n: 20 }));
    // Numbers `early`'s event now instead of at commit: it holds the commit-order lock until it ends.
    await sql`set constraints event_log.events_assign_position immediate`.execute(early);
    const late = await db.startTransaction().execute();
    const b = await log.emit(late, testPing.event({ n: 21 }));
    const lateCommit = late.commit().execute();
    await waitFor(async () => {
      const waiting = await sql<{ n: bigint }>`
        select count(*) as n from pg_locks
         where locktype = 'advisory' and objid = 7410100 and objsubid = 1 and not granted
           and database = (select oid from pg_database where datname = current_database())`.execute(db);
      return Number(waiting.rows[0]?.n) > 0;
    }, 'the later commit to wait for the commit-order lock');
    // While `late` waits, a reader sees neither event: the head is still before both.
    expect(await consumer.drain()).toEqual([]);
    await early.commit().execute();
    await lateCommit;
    expect((await consumer.drain()).map((e) => e.id)).toEqual([a.id, b.id]);
  });

  it('property: whatever the interleaving, a consumer sees exactly the committed events, each transaction contiguous and in order', async () => {
    const db = database.handle.db;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 3 }), { maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        async (emitsTo, commits, endOrder, concurrentEnds) => {
          const consumer = await freshConsumer();
          const transactions = await Promise.all([0, 1, 2, 3].map(() => db.startTransaction().execute()));
          const emitted: string[][] = [[], [], [], []];
          let n = 0;
          for (const index of emitsTo) {
            const tx = transactions[index];
            if (!tx) throw new Error('no such transaction');
            emitted[index]?.push((await log.emit(tx, testPing.event({ n: n++ }))).id);
          }
          const end = (index: number) => {
            const tx = transactions[index];
            if (!tx) throw new Error('no such transaction');
            return commits[index] ? tx.commit().execute() : tx.rollback().execute();
          };
          if (concurrentEnds) await Promise.all(endOrder.map(end));
          else for (const index of endOrder) await end(index);

          const seen = await consumer.drain();
          const committed = [0, 1, 2, 3].filter((i) => commits[i]).flatMap((i) => emitted[i] ?? []);
          expect(new Set(seen.map((e) => e.id))).toEqual(new Set(committed));
          expect(seen).toHaveLength(committed.length);
          for (let i = 1; i < seen.length; i++) {
            expect((seen[i - 1]?.position ?? 0n) < (seen[i]?.position ?? 0n)).toBe(true);
          }
          // Each transaction's events are adjacent, in the order it emitted them.
          const order = seen.map((e) => e.id);
          for (const index of [0, 1, 2, 3]) {
            const ids = emitted[index] ?? [];
            if (!commits[index] || ids.length === 0) continue;
            const start = order.indexOf(ids[0] ?? '');
            expect(order.slice(start, start + ids.length)).toEqual(ids);
          }
          // Sequential commits: the consumer's order is the commit order.
          if (!concurrentEnds) {
            const byCommit = endOrder.filter((i) => commits[i]).flatMap((i) => emitted[i] ?? []);
            expect(order).toEqual(byCommit);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
