import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { type Clock, manualClock, systemClock } from '../../platform/clock.ts';
import { createDatabase } from '../../platform/db/database.ts';
import { CronService } from './cron.service.ts';
import { JobQueue } from './job-queue.ts';
import { testLogger, waitFor } from './testing.ts';
import { TimetableRepository } from './timetable.repository.ts';

type Call = { instance: string; name: string; scheduledFor: string; trigger: string; attempt: number };

/** One server process as far as the timetable is concerned: its own pool, job queue and scheduler. */
function startInstance(url: string, clock: Clock, label: string, calls: Call[]) {
  const handle = createDatabase({ url, poolMax: 4, applicationName: `olo-test-${label}` });
  const jobs = new JobQueue({
    databaseUrl: url,
    logger: testLogger,
    concurrency: 2,
    pollIntervalMs: 100,
    stopTimeoutMs: 5_000,
  });
  const repo = new TimetableRepository(handle.db);
  const cron = new CronService({ repo, jobs, clock, logger: testLogger, misfireGraceMs: 10_000 });
  const record = (run: { name: string; scheduledFor: Date; trigger: string; attempt: number }) =>
    calls.push({
      instance: label,
      name: run.name,
      scheduledFor: run.scheduledFor.toISOString(),
      trigger: run.trigger,
      attempt: run.attempt,
    });
  cron.registerTask('test.count', async (run) => {
    record(run);
  });
  cron.registerTask('test.flaky', async (run) => {
    record(run);
    if (run.attempt === 1 || run.payload.alwaysFail === true)
      throw new Error(`boom on attempt ${run.attempt}`);
  });
  return {
    repo,
    jobs,
    cron,
    stop: async () => {
      await cron.stop();
      await jobs.stop();
      await handle.close();
    },
  };
}

type Instance = ReturnType<typeof startInstance>;

describe('cron scheduler', () => {
  let database: TestDatabase;
  const clock = manualClock(new Date('2026-01-05T00:00:00.000Z'));
  const calls: Call[] = [];
  let a: Instance;
  let b: Instance;
  const callsOf = (name: string) => calls.filter((c) => c.name === name);
  const tasks = () => new TimetableRepository(database.handle.db);
  const runsOf = (name: string) => tasks().listRuns(name, 100);
  const allFinished = async (name: string, count: number) => {
    const runs = await runsOf(name);
    return runs.length === count && runs.every((r) => r.status === 'succeeded') && runs;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    a = startInstance(database.url, clock, 'a', calls);
    b = startInstance(database.url, clock, 'b', calls);
    await Promise.all([a.jobs.start(), b.jobs.start()]);
  });
  // Each test counts the ticks of its own task: park the others.
  afterEach(async () => {
    await database.handle.db
      .updateTable('timetable.cron_tasks')
      .set({ enabled: false, next_run_at: null })
      .execute();
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('runs each tick exactly once when two processes tick at the same time', async () => {
    clock.set(new Date('2026-01-05T00:00:00.000Z'));
    await a.cron.upsertTask({ name: 'every-second', task: 'test.count', cron: '* * * * * *' });
    for (let second = 1; second <= 5; second++) {
      clock.advance(1_000);
      const claimed = await Promise.all([
        a.cron.scheduler.tick(),
        b.cron.scheduler.tick(),
        a.cron.scheduler.tick(),
        b.cron.scheduler.tick(),
      ]);
      expect(
        claimed.reduce((sum, n) => sum + n, 0),
        `second ${second}`,
      ).toBe(1);
    }
    const runs = await waitFor('five finished runs', () => allFinished('every-second', 5));
    expect(runs.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect(
      callsOf('every-second')
        .map((c) => c.scheduledFor)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5].map((s) => `2026-01-05T00:00:0${s}.000Z`));
    // graphile-worker deletes a finished job a moment after the run row says it finished.
    const pendingJobs = async () =>
      (
        await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs`.execute(
          database.handle.db,
        )
      ).rows[0]?.n;
    await waitFor('no job left behind', async () => (await pendingJobs()) === 0);
    expect(await pendingJobs()).toBe(0);
  });

  it('runs a tick missed while every process was down once, when the task catches up', async () => {
    clock.set(new Date('2026-01-05T08:00:00Z'));
    const task = await a.cron.upsertTask({
      name: 'daily-catch-up',
      task: 'test.count',
      cron: '0 9 * * *',
      catchUp: true,
    });
    expect(task.nextRunAt).toEqual(new Date('2026-01-05T09:00:00Z'));
    // Down from 08:00 on the 5th until noon on the 8th: four ticks passed unseen.
    clock.set(new Date('2026-01-08T12:00:00Z'));
    expect(await b.cron.scheduler.tick()).toBe(1);
    expect(await a.cron.scheduler.tick()).toBe(0);
    const [run] = await waitFor('the catch-up run', () => allFinished('daily-catch-up', 1));
    expect(run).toMatchObject({ scheduledFor: new Date('2026-01-08T09:00:00Z'), trigger: 'catch_up' });
    expect(callsOf('daily-catch-up')).toHaveLength(1);
    expect((await tasks().findTask('daily-catch-up'))?.nextRunAt).toEqual(new Date('2026-01-09T09:00:00Z'));
  });

  it('skips a tick missed while every process was down, when the task does not catch up', async () => {
    clock.set(new Date('2026-01-05T08:00:00Z'));
    await a.cron.upsertTask({ name: 'daily-skip', task: 'test.count', cron: '0 9 * * *', catchUp: false });
    clock.set(new Date('2026-01-08T12:00:00Z'));
    expect(await a.cron.scheduler.tick()).toBe(1);
    expect(await runsOf('daily-skip')).toEqual([
      expect.objectContaining({
        scheduledFor: new Date('2026-01-08T09:00:00Z'),
        status: 'skipped',
        attempts: 0,
      }),
    ]);
    const queued = await sql<{ n: number }>`
      select count(*)::int as n from graphile_worker.jobs where key like 'cron:daily-skip:%'
    `.execute(database.handle.db);
    expect(queued.rows[0]?.n).toBe(0);
    // The next tick, seen on time, runs.
    clock.set(new Date('2026-01-09T09:00:00.200Z'));
    expect(await b.cron.scheduler.tick()).toBe(1);
    await waitFor('the on-time run', async () => (await runsOf('daily-skip'))[0]?.status === 'succeeded');
    expect(callsOf('daily-skip')).toEqual([
      expect.objectContaining({ scheduledFor: '2026-01-09T09:00:00.000Z', trigger: 'schedule' }),
    ]);
  });

  it('schedules a daily 09:00 Europe/Berlin task at the right UTC instant across the DST change', async () => {
    clock.set(new Date('2026-03-27T12:00:00Z'));
    const task = await a.cron.upsertTask({
      name: 'berlin-morning',
      task: 'test.count',
      cron: '0 9 * * *',
      timeZone: 'Europe/Berlin',
    });
    expect(task.nextRunAt).toEqual(new Date('2026-03-28T08:00:00Z'));
    clock.set(new Date('2026-03-28T08:00:00.200Z'));
    expect(await a.cron.scheduler.tick()).toBe(1);
    expect((await tasks().findTask('berlin-morning'))?.nextRunAt).toEqual(new Date('2026-03-29T07:00:00Z'));
    const [run] = await waitFor('the run', () => allFinished('berlin-morning', 1));
    expect(run?.scheduledFor).toEqual(new Date('2026-03-28T08:00:00Z'));
  });

  it('retries a failed run with back-off and records the error on the run and the task', async () => {
    await a.cron.upsertTask({ name: 'flaky', task: 'test.flaky', cron: '0 0 1 1 *', maxAttempts: 3 });
    const manual = await b.cron.runNow('flaky');
    expect(manual).toMatchObject({ trigger: 'manual', status: 'scheduled', attempts: 0 });
    await waitFor('the failed first attempt', async () => {
      const [run] = await runsOf('flaky');
      const task = await tasks().findTask('flaky');
      return run?.status === 'retrying' && task?.lastError === 'boom on attempt 1';
    });
    const [run] = await waitFor('the successful retry', () => allFinished('flaky', 1));
    expect(run).toMatchObject({ attempts: 2, error: 'boom on attempt 1', finishedAt: expect.any(Date) });
    expect((await tasks().findTask('flaky'))?.lastError).toBeNull();
    expect(callsOf('flaky').map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('marks a run failed when its last attempt fails', async () => {
    await a.cron.upsertTask({
      name: 'always-fails',
      task: 'test.flaky',
      cron: '0 0 1 1 *',
      maxAttempts: 1,
      payload: { alwaysFail: true },
    });
    await a.cron.runNow('always-fails');
    const [run] = await waitFor('the failed run', async () => {
      const runs = await runsOf('always-fails');
      return runs[0]?.status === 'failed' && runs;
    });
    expect(run).toMatchObject({ attempts: 1, error: 'boom on attempt 1', finishedAt: expect.any(Date) });
    expect((await tasks().findTask('always-fails'))?.lastError).toBe('boom on attempt 1');
  });
});

describe('cron scheduler loops in two processes', () => {
  let database: TestDatabase;
  const calls: Call[] = [];
  const instances: Instance[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.stop()));
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('runs a per-second task once per tick', async () => {
    instances.push(startInstance(database.url, systemClock, 'p1', calls));
    instances.push(startInstance(database.url, systemClock, 'p2', calls));
    const [p1] = instances;
    await p1?.cron.upsertTask({ name: 'heartbeat', task: 'test.count', cron: '* * * * * *' });
    for (const instance of instances) {
      await instance.jobs.start();
      await instance.cron.start();
    }
    const repo = new TimetableRepository(database.handle.db);
    await waitFor('three finished runs', async () => {
      const runs = await repo.listRuns('heartbeat', 100);
      return runs.filter((r) => r.status === 'succeeded').length >= 3;
    });
    await Promise.all(instances.map((i) => i.cron.stop()));
    const runs = await waitFor('every run to finish', async () => {
      const all = await repo.listRuns('heartbeat', 100);
      return all.every((r) => r.status === 'succeeded') && all;
    });
    const scheduled = calls.map((c) => c.scheduledFor).sort();
    expect(new Set(scheduled).size).toBe(scheduled.length);
    expect(scheduled).toEqual(runs.map((r) => r.scheduledFor.toISOString()).sort());
    expect(runs.every((r) => r.attempts === 1 && r.scheduledFor.getUTCMilliseconds() === 0)).toBe(true);
  });
});
