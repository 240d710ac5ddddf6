import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import type { CronRunContext } from './cron.service.ts';
import { waitFor } from './testing.ts';

const TASK_FIELDS =
  'name task cron timeZone enabled payload catchUp maxAttempts lastRunAt nextRunAt lastError';
const UPSERT = `mutation ($input: CronTaskInput!) { upsertCronTask(input: $input) { ${TASK_FIELDS} } }`;
const RUNS = `query ($name: String!, $first: Int, $after: String) {
  cronTaskRuns(name: $name, first: $first, after: $after) {
    runs { id taskName scheduledFor trigger status attempts startedAt finishedAt error }
    endCursor hasNextPage
  }
}`;

type Task = { name: string; cron: string; enabled: boolean; nextRunAt: string | null; payload: unknown };
type Run = { id: string; status: string; trigger: string; attempts: number; scheduledFor: string };

describe('timetable admin API', () => {
  let app: TestApp;
  let admin: string;
  const handled: CronRunContext[] = [];

  const asAdmin = <T>(query: string, variables: Record<string, unknown> = {}) =>
    gql<T>(app.url, query, variables, { token: admin });
  const storedTasks = async () =>
    app.database.handle.db.selectFrom('timetable.cron_tasks').selectAll().orderBy('name').execute();

  beforeAll(async () => {
    app = await startTestApp();
    app.services.cron.registerTask('test.echo', async (run) => {
      handled.push(run);
    });
    await app.services.jobs.start();
    admin = (await app.signIn(['user', 'admin'])).accessToken;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('lists the handlers a task may run', async () => {
    const response = await asAdmin<{ cronTaskHandlers: string[] }>('{ cronTaskHandlers }');
    expect(response.data?.cronTaskHandlers).toEqual(
      expect.arrayContaining(['test.echo', 'timetable.prune_runs']),
    );
  });

  it('creates, edits, disables and enables a task', async () => {
    const input = {
      name: 'nightly-report',
      task: 'test.echo',
      cron: '0 30 2 * * *',
      timeZone: 'Europe/Berlin',
      payload: { format: 'csv' },
    };
    const created = await asAdmin<{ upsertCronTask: Task }>(UPSERT, { input });
    expect(created.errors).toBeUndefined();
    expect(created.data?.upsertCronTask).toMatchObject({
      ...input,
      enabled: true,
      catchUp: false,
      maxAttempts: 3,
      lastRunAt: null,
      lastError: null,
      nextRunAt: expect.any(String),
    });
    const edited = await asAdmin<{ upsertCronTask: Task }>(UPSERT, {
      input: { ...input, cron: '*/15 * * * *', catchUp: true },
    });
    expect(edited.data?.upsertCronTask).toMatchObject({ cron: '*/15 * * * *', catchUp: true });
    expect(new Date(edited.data?.upsertCronTask.nextRunAt ?? 0).getUTCMinutes() % 15).toBe(0);

    const listed = await asAdmin<{ cronTasks: Task[] }>(`{ cronTasks { ${TASK_FIELDS} } }`);
    expect(listed.data?.cronTasks.map((t) => t.name)).toContain('nightly-report');

    const toggle =
      'mutation ($enabled: Boolean!) { setCronTaskEnabled(name: "nightly-report", enabled: $enabled) { enabled nextRunAt } }';
    const disabled = await asAdmin<{ setCronTaskEnabled: Task }>(toggle, { enabled: false });
    expect(disabled.data?.setCronTaskEnabled).toEqual({ enabled: false, nextRunAt: null });
    const enabled = await asAdmin<{ setCronTaskEnabled: Task }>(toggle, { enabled: true });
    expect(enabled.data?.setCronTaskEnabled).toEqual({ enabled: true, nextRunAt: expect.any(String) });
  });

  it('runs a task now and pages through its runs, newest first', async () => {
    await asAdmin(UPSERT, {
      input: { name: 'manual', task: 'test.echo', cron: '0 0 1 1 *', payload: { n: 1 } },
    });
    const started: Run[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await asAdmin<{ runCronTaskNow: Run }>(
        'mutation { runCronTaskNow(name: "manual") { id status trigger attempts scheduledFor } }',
      );
      expect(response.errors).toBeUndefined();
      if (response.data) started.push(response.data.runCronTaskNow);
    }
    expect(started[0]).toMatchObject({ status: 'SCHEDULED', trigger: 'MANUAL', attempts: 0 });
    await waitFor('three handled runs', () => handled.filter((r) => r.name === 'manual').length === 3);
    expect(handled.find((r) => r.name === 'manual')).toMatchObject({ task: 'test.echo', payload: { n: 1 } });

    const first = await asAdmin<{ cronTaskRuns: { runs: Run[]; endCursor: string; hasNextPage: boolean } }>(
      RUNS,
      {
        name: 'manual',
        first: 2,
      },
    );
    expect(first.data?.cronTaskRuns.runs.map((r) => r.id)).toEqual([started[2]?.id, started[1]?.id]);
    expect(first.data?.cronTaskRuns.hasNextPage).toBe(true);
    const rest = await asAdmin<{ cronTaskRuns: { runs: Run[]; hasNextPage: boolean } }>(RUNS, {
      name: 'manual',
      first: 2,
      after: first.data?.cronTaskRuns.endCursor,
    });
    expect(rest.data?.cronTaskRuns.runs.map((r) => r.id)).toEqual([started[0]?.id]);
    expect(rest.data?.cronTaskRuns.hasNextPage).toBe(false);
    await waitFor('the runs to succeed', async () => {
      const page = await asAdmin<{ cronTaskRuns: { runs: Run[] } }>(RUNS, { name: 'manual' });
      return page.data?.cronTaskRuns.runs.every((r) => r.status === 'SUCCEEDED' && r.attempts === 1);
    });
  });

  it('refuses invalid input with the field named, and writes nothing', async () => {
    const valid = { name: 'validated', task: 'test.echo', cron: '0 * * * *', payload: { keep: true } };
    await asAdmin(UPSERT, { input: valid });
    const before = await storedTasks();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ task: 'test.unknown' }, 'task'],
      [{ cron: '61 * * * *' }, 'cron'],
      [{ cron: 'every hour' }, 'cron'],
      [{ timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
      [{ timeZone: 'europe/berlin' }, 'timeZone'],
      [{ name: 'Has Spaces' }, 'name'],
      [{ payload: [1, 2] }, 'payload'],
      [{ maxAttempts: 0 }, 'maxAttempts'],
    ];
    for (const [change, field] of cases) {
      // Both a new task and an edit of the existing one.
      for (const name of ['validated-new', 'validated']) {
        const response = await asAdmin(UPSERT, { input: { ...valid, name, ...change } });
        expect(response.errors?.[0]?.extensions, JSON.stringify(change)).toMatchObject({
          code: 'BAD_USER_INPUT',
          field,
        });
      }
    }
    expect(await storedTasks()).toEqual(before);
    const badPage = await asAdmin(RUNS, { name: 'validated', first: 0 });
    expect(badPage.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const badCursor = await asAdmin(RUNS, { name: 'validated', after: 'not-a-cursor' });
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    for (const mutation of [
      'mutation { runCronTaskNow(name: "missing") { id } }',
      'mutation { setCronTaskEnabled(name: "missing", enabled: false) { name } }',
    ]) {
      expect(errorCodes(await asAdmin(mutation)), mutation).toEqual(['NOT_FOUND']);
    }
  });

  it('deletes a task with its history', async () => {
    // An inline JSON literal works as well as a variable.
    const created = await asAdmin<{ upsertCronTask: Task }>(
      'mutation { upsertCronTask(input: { name: "doomed", task: "test.echo", cron: "0 0 1 1 *", payload: { keep: [1, "two"] } }) { payload } }',
    );
    expect(created.data?.upsertCronTask.payload).toEqual({ keep: [1, 'two'] });
    await asAdmin('mutation { runCronTaskNow(name: "doomed") { id } }');
    await waitFor('the run', () => handled.some((r) => r.name === 'doomed'));
    const deleted = await asAdmin<{ deleteCronTask: boolean }>('mutation { deleteCronTask(name: "doomed") }');
    expect(deleted.data?.deleteCronTask).toBe(true);
    const again = await asAdmin<{ deleteCronTask: boolean }>('mutation { deleteCronTask(name: "doomed") }');
    expect(again.data?.deleteCronTask).toBe(false);
    const runs = await app.database.handle.db
      .selectFrom('timetable.cron_runs')
      .select('id')
      .where('task_name', '=', 'doomed')
      .execute();
    expect(runs).toEqual([]);
  });

  it('is for admins only', async () => {
    const operations = [
      '{ cronTasks { name } }',
      '{ cronTaskHandlers }',
      '{ cronTaskRuns(name: "manual") { hasNextPage } }',
      'mutation { upsertCronTask(input: { name: "sneaky", task: "test.echo", cron: "* * * * *" }) { name } }',
      'mutation { setCronTaskEnabled(name: "manual", enabled: false) { name } }',
      'mutation { deleteCronTask(name: "manual") }',
      'mutation { runCronTaskNow(name: "manual") { id } }',
    ];
    const before = await storedTasks();
    for (const role of ['user', 'streamer', 'moderator'] as const) {
      const token = (await app.signIn([role])).accessToken;
      for (const operation of operations) {
        expect(errorCodes(await gql(app.url, operation, {}, { token })), `${role}: ${operation}`).toEqual([
          'FORBIDDEN',
        ]);
      }
    }
    for (const operation of operations) {
      expect(errorCodes(await gql(app.url, operation)), operation).toEqual(['UNAUTHENTICATED']);
    }
    expect(await storedTasks()).toEqual(before);
  });
});
