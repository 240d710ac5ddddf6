import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { type JobContext, JobQueue } from './job-queue.ts';
import { testLogger, waitFor } from './testing.ts';

type Call = { payload: Record<string, unknown>; attempt: number; key: string | null };

describe('job queue (graphile-worker)', () => {
  let database: TestDatabase;
  let jobs: JobQueue;
  const calls = new Map<string, Call[]>();
  const record = (id: string, payload: unknown, job: JobContext) => {
    const list = calls.get(id) ?? [];
    list.push({ payload: payload as Record<string, unknown>, attempt: job.attempt, key: job.key });
    calls.set(id, list);
  };
  const callsOf = (id: string) => calls.get(id) ?? [];
  const pendingWithKey = async (key: string) => {
    const result = await sql<{ n: number }>`
      select count(*)::int as n from graphile_worker.jobs where key = ${key}
    `.execute(database.handle.db);
    return result.rows[0]?.n;
  };
  // A job due after the one under test: once it has run, anything due before it has run too.
  const runMarker = async (id: string, runAt?: Date) => {
    await jobs.schedule(database.handle.db, 'test.record', { id }, runAt ? { runAt } : {});
    await waitFor(`marker ${id}`, () => callsOf(id).length > 0);
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    jobs = new JobQueue({
      databaseUrl: database.url,
      logger: testLogger,
      concurrency: 2,
      pollIntervalMs: 100,
      stopTimeoutMs: 5_000,
    });
    jobs.registerTask('test.record', async (payload, job) => {
      record(String((payload as { id: unknown }).id), payload, job);
    });
    jobs.registerTask('test.flaky', async (payload, job) => {
      record(String((payload as { id: unknown }).id), payload, job);
      if (job.attempt === 1) throw new Error('first attempt fails');
    });
    await jobs.start();
  });
  afterAll(async () => {
    await jobs?.stop();
    await database?.drop();
  });

  it('runs a scheduled job with its payload', async () => {
    await withTransaction(database.handle.db, (tx) =>
      jobs.schedule(tx, 'test.record', { id: 'plain', n: 1 }),
    );
    const [call] = await waitFor('the job', () => callsOf('plain').length > 0 && callsOf('plain'));
    expect(call).toEqual({ payload: { id: 'plain', n: 1 }, attempt: 1, key: null });
  });

  it('schedules nothing when the caller’s transaction rolls back', async () => {
    await expect(
      withTransaction(database.handle.db, async (tx) => {
        await jobs.schedule(tx, 'test.record', { id: 'rolled-back' }, { jobKey: 'rolled-back' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await runMarker('after-rollback');
    expect(callsOf('rolled-back')).toEqual([]);
    expect(await pendingWithKey('rolled-back')).toBe(0);
  });

  it('replaces a job with the same key: it runs once, with the second payload', async () => {
    const key = 'call:c1:ring-timeout';
    const later = new Date(Date.now() + 3_600_000);
    await jobs.schedule(
      database.handle.db,
      'test.record',
      { id: 'replaced', version: 1 },
      { jobKey: key, runAt: later },
    );
    await jobs.schedule(database.handle.db, 'test.record', { id: 'replaced', version: 2 }, { jobKey: key });
    await waitFor('the replaced job', () => callsOf('replaced').length > 0);
    await runMarker('after-replace');
    expect(callsOf('replaced').map((c) => c.payload)).toEqual([{ id: 'replaced', version: 2 }]);
    expect(callsOf('replaced')[0]?.key).toBe(key);
    // The first version left no job behind to run in an hour. (The row of the job that ran goes a
    // moment after its handler returns, so this waits for the count to reach 0; a leftover never does.)
    await waitFor('no job left with the key', async () => (await pendingWithKey(key)) === 0);
  });

  it('preserve_run_at keeps the first due time and takes the new payload', async () => {
    const key = 'preserve';
    const later = new Date(Date.now() + 3_600_000);
    await jobs.schedule(
      database.handle.db,
      'test.record',
      { id: 'preserve', v: 1 },
      { jobKey: key, runAt: later },
    );
    await jobs.schedule(
      database.handle.db,
      'test.record',
      { id: 'preserve', v: 2 },
      { jobKey: key, jobKeyMode: 'preserve_run_at' },
    );
    const rows = await sql<{ run_at: Date; payload: unknown }>`
      select j.run_at, p.payload from graphile_worker.jobs j
      join graphile_worker._private_jobs p on p.id = j.id where j.key = ${key}
    `.execute(database.handle.db);
    expect(rows.rows).toEqual([{ run_at: later, payload: { id: 'preserve', v: 2 } }]);
    expect(await withTransaction(database.handle.db, (tx) => jobs.cancel(tx, key))).toBe(true);
  });

  it('cancels by key: a ring time-out removed when the call is answered never fires', async () => {
    const key = 'call:c2:ring-timeout';
    const soon = new Date(Date.now() + 300);
    await jobs.schedule(
      database.handle.db,
      'test.record',
      { id: 'ring-timeout' },
      { jobKey: key, runAt: soon },
    );
    // A cancel in a transaction that rolls back keeps the job.
    await expect(
      withTransaction(database.handle.db, async (tx) => {
        expect(await jobs.cancel(tx, key)).toBe(true);
        throw new Error('answer failed');
      }),
    ).rejects.toThrow('answer failed');
    expect(await pendingWithKey(key)).toBe(1);
    expect(await withTransaction(database.handle.db, (tx) => jobs.cancel(tx, key))).toBe(true);
    expect(await withTransaction(database.handle.db, (tx) => jobs.cancel(tx, key))).toBe(false);
    await runMarker('after-cancel', new Date(soon.getTime() + 300));
    expect(callsOf('ring-timeout')).toEqual([]);
  });

  it('retries a failed attempt with back-off, keeping the error until it succeeds', async () => {
    await jobs.schedule(
      database.handle.db,
      'test.flaky',
      { id: 'flaky' },
      { jobKey: 'flaky', maxAttempts: 3 },
    );
    const failed = await waitFor('the failed first attempt', async () => {
      const rows = await sql<{ attempts: number; last_error: string | null }>`
        select attempts, last_error from graphile_worker.jobs where key = 'flaky' and last_error is not null
      `.execute(database.handle.db);
      return rows.rows[0];
    });
    expect(failed).toEqual({ attempts: 1, last_error: 'first attempt fails' });
    await waitFor('the retry', () => callsOf('flaky').length === 2);
    expect(callsOf('flaky').map((c) => c.attempt)).toEqual([1, 2]);
    await waitFor('the job to be done', async () => (await pendingWithKey('flaky')) === 0);
  });

  it('refuses tasks it does not know and registrations after start', async () => {
    await expect(jobs.schedule(database.handle.db, 'test.unknown', {})).rejects.toThrow(/not registered/);
    expect(() => jobs.registerTask('test.late', async () => {})).toThrow(/after the job queue started/);
    expect(() => jobs.registerTask('Bad Name', async () => {})).toThrow(/must look like/);
  });
});

describe('job queue shutdown', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('waits for a running job before it stops', async () => {
    const jobs = new JobQueue({
      databaseUrl: database.url,
      logger: testLogger,
      concurrency: 1,
      pollIntervalMs: 100,
      stopTimeoutMs: 20_000,
    });
    let started = false;
    let finished = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    jobs.registerTask('test.slow', async () => {
      started = true;
      await gate;
      finished = true;
    });
    await jobs.start();
    await jobs.schedule(database.handle.db, 'test.slow', {});
    await waitFor('the job to start', () => started);
    let stopped = false;
    const stopping = jobs.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    const left = await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs`.execute(
      database.handle.db,
    );
    expect(left.rows[0]?.n).toBe(0);
  });

  it('fails a job that outlives the stop budget so that it is retried', async () => {
    const jobs = new JobQueue({
      databaseUrl: database.url,
      logger: testLogger,
      concurrency: 1,
      pollIntervalMs: 100,
      stopTimeoutMs: 300,
    });
    let aborted = false;
    let started = false;
    jobs.registerTask('test.stuck', async (_payload, job) => {
      started = true;
      job.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await new Promise(() => {});
    });
    await jobs.start();
    await jobs.schedule(database.handle.db, 'test.stuck', {}, { jobKey: 'stuck' });
    await waitFor('the job to start', () => started);
    await jobs.stop();
    expect(aborted).toBe(true);
    const rows = await sql<{ attempts: number; locked_at: Date | null; last_error: string | null }>`
      select attempts, locked_at, last_error from graphile_worker.jobs where key = 'stuck'
    `.execute(database.handle.db);
    expect(rows.rows).toEqual([{ attempts: 1, locked_at: null, last_error: expect.any(String) }]);
  });
});
