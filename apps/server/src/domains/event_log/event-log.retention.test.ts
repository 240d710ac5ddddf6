import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { EventLog } from './event-log.service.ts';
import { createTestEventLog, testPing } from './event-log.test-support.ts';

const DAY = 86_400_000;

describe('retention', () => {
  let database: TestDatabase;
  let log: EventLog;
  let close: () => Promise<void>;
  const clock = manualClock(new Date('2026-01-01T00:00:00Z'));

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ log, close } = createTestEventLog({
      url: database.url,
      clock,
      settings: { retentionDays: 90, retry: { baseMs: 1_000, maxMs: 1_000, maxAttempts: 1_000 } },
    }));
  });
  afterAll(async () => {
    await close?.();
    await database?.drop();
  });

  const emit = (n: number) =>
    withTransaction(database.handle.db, async (tx) => (await log.emit(tx, testPing.event({ n }))).id);
  const remaining = async () =>
    (await log.listEvents({}, 100)).items.map((e) => (e.payload as { n: number }).n).sort();

  it('deletes old events every consumer has passed, and keeps what a consumer still needs', async () => {
    const oldHandled = await emit(1);
    await emit(2);
    let slowBlocked = true;
    const handle = async () => {};
    log.registerConsumer({ name: 'fast', onExhausted: 'stop', handler: handle });
    log.registerConsumer({
      name: 'slow',
      onExhausted: 'stop',
      handler: async (event) => {
        if (slowBlocked && testPing.matches(event) && event.payload.n === 2) throw new Error('not yet');
      },
    });
    log.registerConsumer({
      name: 'dead_lettering',
      onExhausted: 'skip',
      maxAttempts: 1,
      handler: async (event) => {
        if (testPing.matches(event) && event.payload.n === 2 && slowBlocked) throw new Error('gave up');
      },
    });
    for (const name of ['fast', 'slow', 'dead_lettering']) await log.drain(name);
    clock.advance(100 * DAY);
    await emit(3);
    await log.drain('fast');

    // 1 is old and passed by all; 2 is old but `slow` has not passed it; 3 is recent.
    const pruned = await log.pruneExpiredEvents();
    expect(pruned).toEqual({ deleted: 1, cutoff: new Date(clock.now().getTime() - 90 * DAY) });
    expect(await remaining()).toEqual([2, 3]);
    expect(await log.findEvent(oldHandled)).toBeUndefined();

    slowBlocked = false;
    clock.advance(1_000);
    expect(await log.drain('slow')).toEqual({ kind: 'idle' });
    expect(await log.drain('dead_lettering')).toEqual({ kind: 'idle' });
    expect(await log.pruneEvents(new Date(clock.now().getTime() - 90 * DAY))).toEqual({ deleted: 1 });
    expect(await remaining()).toEqual([3]);

    // A dead letter keeps its own copy of the event: it can still be retried after the event is gone.
    const [letter] = (await log.listDeadLetters({ consumer: 'dead_lettering' })).items;
    expect(letter?.event.payload).toEqual({ n: 2 });
    const retried = await log.retryDeadLetter(String(letter?.id));
    expect(retried.resolvedAt).not.toBeNull();

    // Recent events stay whoever has passed them.
    expect(await log.pruneEvents(new Date(clock.now().getTime() - 1 * DAY))).toEqual({ deleted: 0 });
    expect(await remaining()).toEqual([3]);
  });
});
