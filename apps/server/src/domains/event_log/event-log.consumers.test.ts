import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { retryDelayMs } from './consumer-runtime.ts';
import type { EventLog } from './event-log.service.ts';
import {
  createHandledTable,
  createTestEventLog,
  handledRows,
  recordHandled,
  testOther,
  testPing,
  waitFor,
} from './event-log.test-support.ts';

describe('durable consumers', () => {
  let database: TestDatabase;
  let log: EventLog;
  let close: () => Promise<void>;
  const clock = manualClock(new Date('2026-03-01T12:00:00Z'));
  let seq = 0;
  let name = '';

  beforeAll(async () => {
    database = await createTestDatabase();
    await createHandledTable(database.handle.db);
    ({ log, close } = createTestEventLog({
      url: database.url,
      clock,
      settings: { retry: { baseMs: 1_000, maxMs: 1_500, maxAttempts: 3 } },
    }));
  });
  afterAll(async () => {
    await close?.();
    await database?.drop();
  });
  beforeEach(() => {
    name = `consumer_${++seq}`;
  });

  const db = () => database.handle.db;
  const emitPings = async (...numbers: number[]) => {
    const ids: string[] = [];
    await withTransaction(db(), async (tx) => {
      for (const n of numbers) ids.push((await log.emit(tx, testPing.event({ n }))).id);
    });
    return ids;
  };
  const consumerRow = async () => (await log.listConsumers()).find((c) => c.name === name);
  const payloadsHandled = async () => {
    const rows = await handledRows(db(), name);
    const events = await Promise.all(rows.map((r) => log.findEvent(r.event_id)));
    return events.map((e) => (e && testPing.matches(e) ? e.payload.n : undefined));
  };

  it('backs off exponentially up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 10].map((a) => retryDelayMs(a, 1_000, 10_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
  });

  it('hands over events in position order, advancing the cursor with the handler’s own writes', async () => {
    const ids = await emitPings(1, 2, 3, 4, 5);
    log.registerConsumer({
      name,
      onExhausted: 'stop',
      startFrom: 'now',
      batchSize: 2,
      handler: async (event, { tx }) => recordHandled(tx, name, event),
    });
    // Registered after those five: it starts at the head and only sees what comes next.
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    const later = await emitPings(6, 7, 8);
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect((await handledRows(db(), name)).map((r) => r.event_id)).toEqual(later);
    expect(ids).not.toContain(later[0]);
    expect((await consumerRow())?.cursor).toBe(await log.headPosition());
    expect((await consumerRow())?.lag).toBe(0n);
    // Nothing new: handled once, never again.
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect(await handledRows(db(), name)).toHaveLength(3);
  });

  it('rolls back a failed handler’s writes while the events before it stay handled', async () => {
    let fail = true;
    log.registerConsumer({
      name,
      onExhausted: 'stop',
      handler: async (event, { tx }) => {
        await recordHandled(tx, name, event);
        if (fail && testPing.matches(event) && event.payload.n === 2) throw new Error('flaky');
      },
      types: ['test_ping'],
      startFrom: 'now',
    });
    await log.drain(name);
    await emitPings(1, 2, 3);
    const outcome = await log.drain(name);
    expect(outcome).toEqual({ kind: 'waiting', until: new Date(clock.now().getTime() + 1_000) });
    expect(await payloadsHandled()).toEqual([1]);
    expect(await consumerRow()).toMatchObject({ attempts: 1, lastError: 'flaky', status: 'running' });
    fail = false;
    // Not before its time, even when woken.
    expect((await log.drain(name)).kind).toBe('waiting');
    clock.advance(1_000);
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect(await payloadsHandled()).toEqual([1, 2, 3]);
    expect(await consumerRow()).toMatchObject({ attempts: 0, lastError: null, retryAt: null });
  });

  it('retries with back-off, dead-letters after maxAttempts and skips on', async () => {
    let calls = 0;
    log.registerConsumer({
      name,
      onExhausted: 'skip',
      startFrom: 'now',
      handler: async (event, { tx }) => {
        if (testPing.matches(event) && event.payload.n === 2) {
          calls++;
          throw new Error(`poison ${calls}`);
        }
        await recordHandled(tx, name, event);
      },
    });
    await log.drain(name);
    await emitPings(1, 2, 3);
    const start = clock.now().getTime();
    expect(await log.drain(name)).toEqual({ kind: 'waiting', until: new Date(start + 1_000) });
    clock.advance(1_000);
    // Second failure: 2 s, capped at the maximum of 1.5 s.
    expect(await log.drain(name)).toEqual({ kind: 'waiting', until: new Date(start + 2_500) });
    clock.advance(1_499);
    expect((await log.drain(name)).kind).toBe('waiting');
    expect(calls).toBe(2);
    clock.advance(1);
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect(calls).toBe(3);
    expect(await payloadsHandled()).toEqual([1, 3]);
    const letters = await log.listDeadLetters({ consumer: name });
    expect(letters.items).toHaveLength(1);
    expect(letters.items[0]).toMatchObject({ error: 'poison 3', attempts: 3, resolvedAt: null });
    expect(letters.items[0]?.event.payload).toEqual({ n: 2 });
    expect(await consumerRow()).toMatchObject({ status: 'running', attempts: 0, lag: 0n });
  });

  it('stops at a dead letter when told to; an admin retries it, then resumes the consumer', async () => {
    let broken = true;
    let calls = 0;
    log.registerConsumer({
      name,
      onExhausted: 'stop',
      maxAttempts: 1,
      startFrom: 'now',
      handler: async (event, { tx }) => {
        calls++;
        if (broken && testPing.matches(event) && event.payload.n === 2) throw new Error('bug');
        await recordHandled(tx, name, event);
      },
    });
    await log.drain(name);
    await emitPings(1, 2, 3);
    expect(await log.drain(name)).toEqual({ kind: 'stopped' });
    expect(await log.drain(name)).toEqual({ kind: 'stopped' });
    expect(await payloadsHandled()).toEqual([1]);
    expect(await consumerRow()).toMatchObject({ status: 'stopped', lastError: 'bug' });
    const [letter] = (await log.listDeadLetters({ consumer: name, resolved: false })).items;
    if (!letter) throw new Error('no dead letter');

    // Still broken: the retry records the failure and leaves the letter open.
    const failed = await log.retryDeadLetter(letter.id.toString());
    expect(failed).toMatchObject({ resolvedAt: null, retries: 1, error: 'bug' });
    expect(await payloadsHandled()).toEqual([1]);

    broken = false;
    const retried = await log.retryDeadLetter(letter.id.toString());
    expect(retried.resolvedAt).toEqual(clock.now());
    expect(retried.retries).toBe(2);
    expect(await payloadsHandled()).toEqual([1, 2]);
    // Resolved letters are not run again.
    const callsBefore = calls;
    await log.retryDeadLetter(letter.id.toString());
    expect(calls).toBe(callsBefore);
    expect((await log.listDeadLetters({ consumer: name, resolved: false })).items).toEqual([]);

    const resumed = await log.resumeConsumer(name);
    expect(resumed.status).toBe('running');
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect(await payloadsHandled()).toEqual([1, 2, 3]);
  });

  it('passes events of other types, and handlers can emit follow-ups in their transaction', async () => {
    log.registerConsumer({
      name,
      onExhausted: 'stop',
      startFrom: 'now',
      types: ['test_ping'],
      handler: async (event, { tx, emit }) => {
        await recordHandled(tx, name, event);
        if (testPing.matches(event)) await emit(testOther.event({ note: `after ${event.payload.n}` }));
      },
    });
    await log.drain(name);
    await emitPings(1);
    await withTransaction(db(), (tx) => log.emit(tx, testOther.event({ note: 'unrelated' })));
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect(await payloadsHandled()).toEqual([1]);
    // The follow-up committed with the batch, after the head that batch read: the next run passes it.
    expect((await consumerRow())?.lag).toBe(1n);
    expect(await log.drain(name)).toEqual({ kind: 'idle' });
    expect((await consumerRow())?.lag).toBe(0n);
    expect(await payloadsHandled()).toEqual([1]);
    const followUps = await log.listEvents({ type: 'test_other' }, 10);
    expect(followUps.items.map((e) => e.payload)).toContainEqual({ note: 'after 1' });
  });

  it('refuses consumers it cannot run: bad names, duplicates, unknown types', () => {
    const handler = async () => {};
    expect(() => log.registerConsumer({ name: 'Bad Name', onExhausted: 'skip', handler })).toThrow();
    log.registerConsumer({ name, onExhausted: 'skip', handler });
    expect(() => log.registerConsumer({ name, onExhausted: 'skip', handler })).toThrow(/twice/);
    expect(() =>
      log.registerConsumer({ name: `${name}_t`, onExhausted: 'skip', handler, types: ['nope'] }),
    ).toThrow(/unknown event type/);
  });

  it('after a crash in the middle of a batch, the next run gets every event again and skips none', async () => {
    const crashing = createTestEventLog({ url: database.url, clock, applicationName: 'olo-crashing' });
    const restarted = createTestEventLog({ url: database.url, clock });
    let reached: () => void = () => {};
    const atFourth = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release: () => void = () => {};
    const hang = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const register = (target: EventLog, hangAt: number | undefined) =>
        target.registerConsumer({
          name,
          onExhausted: 'stop',
          startFrom: 'now',
          handler: async (event, { tx }) => {
            await recordHandled(tx, name, event);
            if (hangAt !== undefined && testPing.matches(event) && event.payload.n === hangAt) {
              reached();
              await hang;
            }
          },
        });
      register(crashing.log, 4);
      register(restarted.log, undefined);
      await crashing.log.drain(name).catch(() => undefined);
      await restarted.log.drain(name);
      const ids = await emitPings(1, 2, 3, 4, 5, 6);
      const dying = crashing.log.drain(name);
      await atFourth;
      // The process dies: its connection goes, and PostgreSQL rolls its batch back.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                 where application_name = 'olo-crashing' and datname = current_database()`.execute(db());
      release();
      await expect(dying).rejects.toThrow();
      expect(await handledRows(db(), name)).toEqual([]);
      await waitFor(async () => (await restarted.log.drain(name)).kind === 'idle', 'the restarted consumer');
      expect((await handledRows(db(), name)).map((r) => r.event_id)).toEqual(ids);
    } finally {
      release();
      await crashing.close();
      await restarted.close();
    }
  });
});
