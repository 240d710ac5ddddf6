import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import { waitFor } from './testing.ts';
import { PRUNE_RUNS_TASK } from './timetable.jobs.ts';

describe('cron across two server processes', () => {
  let database: TestDatabase;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await database?.drop();
  });

  it('runs a per-second task once per tick and stops cleanly', async () => {
    const env = { DATABASE_URL: database.url, SEED_DEMO_DATA: 'false' };
    servers.push(...(await Promise.all([startServerProcess({ env }), startServerProcess({ env })])));
    // Added once both are up: on a loaded machine a start can take longer than the misfire grace,
    // and a first tick due before that would (rightly) be skipped as missed.
    // A built-in handler, so the real server has it registered; with 30 days kept it deletes nothing here.
    await sql`
      insert into timetable.cron_tasks (name, task, cron, next_run_at)
      values ('every-second', ${PRUNE_RUNS_TASK}, '* * * * * *', date_trunc('second', now()))
    `.execute(database.handle.db);

    const finished = () =>
      database.handle.db
        .selectFrom('timetable.cron_runs')
        .select(['scheduled_for', 'status', 'attempts', 'trigger'])
        .where('task_name', '=', 'every-second')
        .orderBy('scheduled_for')
        .execute();
    await waitFor(
      'four runs',
      async () => (await finished()).filter((r) => r.status === 'succeeded').length >= 4,
    );

    const exits = await Promise.all(servers.map((server) => server.stop()));
    expect(exits, servers.map((s) => s.output()).join('\n')).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    const runs = await finished();
    // Runs handed out but not yet started when both stopped wait in the queue for the next start.
    expect(runs.filter((r) => !['succeeded', 'scheduled'].includes(r.status))).toEqual([]);
    const done = runs.filter((r) => r.status === 'succeeded');
    expect(done.every((r) => r.attempts === 1 && r.scheduled_for.getUTCMilliseconds() === 0)).toBe(true);
    const seconds = runs.map((r) => r.scheduled_for.getTime());
    expect(new Set(seconds).size).toBe(seconds.length);
    // Each start creates the default tasks that are missing; the timetable's own is one.
    const defaults = await database.handle.db
      .selectFrom('timetable.cron_tasks')
      .select(['task', 'enabled', 'next_run_at'])
      .where('name', '=', 'timetable-prune-runs')
      .execute();
    expect(defaults).toEqual([{ task: PRUNE_RUNS_TASK, enabled: true, next_run_at: expect.any(Date) }]);
    const errors = servers
      .flatMap((s) => s.output().split('\n'))
      .filter((line) => line.includes('"level":50'));
    expect(errors).toEqual([]);
  });
});
