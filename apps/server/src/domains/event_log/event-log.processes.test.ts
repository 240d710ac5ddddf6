import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { systemClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { EventLog } from './event-log.service.ts';
import {
  createHandledTable,
  createTestEventLog,
  handledRows,
  recordHandled,
  testPing,
  waitFor,
} from './event-log.test-support.ts';

const FIXTURE = path.join(import.meta.dirname, 'consumer-process.fixture.ts');

type Child = { process: ChildProcess; output: () => string; exited: Promise<unknown> };

function startConsumerProcess(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise((resolve) => child.once('close', resolve));
  return { process: child, output: () => output, exited };
}

describe('several processes on one consumer', () => {
  let database: TestDatabase;
  const children: Child[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    await createHandledTable(database.handle.db);
  });
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await database?.drop();
  });

  const emitPings = async (from: number, count: number, perTransaction: number) => {
    const jobs: Promise<void>[] = [];
    for (let start = from; start < from + count; start += perTransaction) {
      jobs.push(
        withTransaction(database.handle.db, async (tx) => {
          for (let n = start; n < Math.min(start + perTransaction, from + count); n++) {
            await emit(tx, n);
          }
        }),
      );
    }
    await Promise.all(jobs);
  };
  let emitter: EventLog | undefined;
  const emit = async (tx: Parameters<EventLog['emit']>[0], n: number) => {
    if (!emitter) throw new Error('no emitter');
    await emitter.emit(tx, testPing.event({ n }));
  };

  it('two runtimes on separate pools never handle the consumer at the same time, and together handle each event once', async () => {
    const consumer = 'in_process';
    const runtimes = [
      createTestEventLog({ url: database.url, clock: systemClock, applicationName: 'olo-a' }),
      createTestEventLog({ url: database.url, clock: systemClock, applicationName: 'olo-b' }),
    ];
    emitter = runtimes[0]?.log;
    let inside = 0;
    let mostInside = 0;
    try {
      for (const [index, runtime] of runtimes.entries()) {
        runtime.log.registerConsumer({
          name: consumer,
          onExhausted: 'stop',
          batchSize: 7,
          handler: async (event, { tx }) => {
            inside++;
            mostInside = Math.max(mostInside, inside);
            try {
              await recordHandled(tx, consumer, event, `runtime-${index}`);
              // Give the other runtime every chance to interleave.
              await new Promise((resolve) => setImmediate(resolve));
            } finally {
              inside--;
            }
          },
        });
        await runtime.log.start();
      }
      await emitPings(0, 200, 9);
      await waitFor(
        async () => (await handledRows(database.handle.db, consumer)).length >= 200,
        '200 events',
      );
      const rows = await handledRows(database.handle.db, consumer);
      expect(rows).toHaveLength(200);
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(200);
      // Handled in position order, whichever runtime held the consumer.
      const positions = rows.map((r) => r.position);
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(mostInside).toBe(1);
    } finally {
      for (const runtime of runtimes) await runtime.close();
    }
  });

  it('a runtime stopped mid-stream finishes its batch and stops; the next one carries on without gaps', async () => {
    const consumer = 'handover';
    const register = (target: EventLog, label: string) =>
      target.registerConsumer({
        name: consumer,
        onExhausted: 'stop',
        startFrom: 'now',
        batchSize: 5,
        handler: async (event, { tx }) => {
          await recordHandled(tx, consumer, event, label);
          await new Promise((resolve) => setImmediate(resolve));
        },
      });
    const first = createTestEventLog({ url: database.url, clock: systemClock });
    const second = createTestEventLog({ url: database.url, clock: systemClock });
    emitter = first.log;
    try {
      register(first.log, 'first');
      register(second.log, 'second');
      await first.log.start();
      await emitPings(0, 100, 10);
      await waitFor(
        async () => (await handledRows(database.handle.db, consumer)).length >= 10,
        'some progress',
      );
      await first.log.stop();
      const atStop = (await handledRows(database.handle.db, consumer)).length;
      // Emits commit ten at a time and batches take five: only whole batches were committed.
      expect(atStop % 5).toBe(0);
      await second.log.start();
      await waitFor(async () => (await handledRows(database.handle.db, consumer)).length >= 100, 'the rest');
      const rows = await handledRows(database.handle.db, consumer);
      expect(rows).toHaveLength(100);
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(100);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('a process killed in the middle of a batch leaves its events to another process, which handles each once', async () => {
    const consumer = 'across_processes';
    const { log, close } = createTestEventLog({ url: database.url, clock: systemClock });
    emitter = log;
    try {
      const env = { DATABASE_URL: database.url, CONSUMER: consumer };
      const doomed = startConsumerProcess({ ...env, LABEL: 'doomed', HANG_AT: '5' });
      children.push(doomed);
      await waitFor(async () => doomed.output().includes('ready'), 'the first process', 60_000);
      await emitPings(0, 10, 10);
      await waitFor(async () => doomed.output().includes('reached 5'), 'the first process to hang');

      const survivor = startConsumerProcess({ ...env, LABEL: 'survivor' });
      children.push(survivor);
      await waitFor(async () => survivor.output().includes('ready'), 'the second process', 60_000);
      // The doomed process holds the consumer: the survivor handles nothing until it is gone.
      expect(await handledRows(database.handle.db, consumer)).toEqual([]);
      doomed.process.kill('SIGKILL');
      await doomed.exited;
      await waitFor(
        async () => (await handledRows(database.handle.db, consumer)).length >= 10,
        'the survivor to take over',
      );

      // Both alive now: a third process joins and they share the rest.
      const third = startConsumerProcess({ ...env, LABEL: 'third' });
      children.push(third);
      await waitFor(async () => third.output().includes('ready'), 'the third process', 60_000);
      await emitPings(10, 90, 3);
      await waitFor(
        async () => (await handledRows(database.handle.db, consumer)).length >= 100,
        'every event to be handled',
      );
      const rows = await handledRows(database.handle.db, consumer);
      expect(rows).toHaveLength(100);
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(100);
      expect(rows.slice(0, 10).every((r) => r.handled_by === 'survivor')).toBe(true);
      expect(rows.some((r) => r.handled_by === 'doomed')).toBe(false);
      for (const child of [survivor, third]) {
        child.process.kill('SIGTERM');
        await child.exited;
        expect(child.process.exitCode, child.output()).toBe(0);
      }
    } finally {
      await close();
    }
  });
});
