import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import { EVENT_RETENTION_TASK } from './event-log.jobs.ts';

describe('event retention on the timetable', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { EVENT_LOG_RETENTION_DAYS: '1' } });
    await app.services.jobs.start();
    await app.services.cron.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is a nightly cron task by default, and a run deletes expired events every consumer passed', async () => {
    const task = await app.database.handle.db
      .selectFrom('timetable.cron_tasks')
      .selectAll()
      .where('task', '=', EVENT_RETENTION_TASK)
      .executeTakeFirst();
    expect(task).toMatchObject({ name: 'event-log-retention', enabled: true });

    // An expired event (two days old) that no consumer still needs, and a fresh one.
    const account = await app.services.accounts.createOloAccount();
    await app.database.handle.db
      .updateTable('event_log.events')
      .set({ occurred_at: new Date(Date.now() - 2 * 86_400_000) })
      .where('user_id', '=', account.id)
      .execute();
    await app.signIn();
    for (const consumer of (await app.services.eventLog.listConsumers()).map((c) => c.name)) {
      await app.services.eventLog.drain(consumer);
    }
    const admin = await app.signIn(['user', 'admin']);
    const run = await gql(
      app.url,
      `mutation { runCronTaskNow(name: "${task?.name}") { id } }`,
      {},
      {
        token: admin.accessToken,
      },
    );
    expect(run.errors).toBeUndefined();
    await waitFor('the retention run to succeed', async () => {
      const runs = await app.database.handle.db
        .selectFrom('timetable.cron_runs')
        .select('status')
        .where('task_name', '=', 'event-log-retention')
        .execute();
      return runs.some((r) => r.status === 'succeeded');
    });
    const left = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('user_id')
      .where('user_id', '=', account.id)
      .execute();
    expect(left).toEqual([]);
    const recent = await app.database.handle.db.selectFrom('event_log.events').select('id').execute();
    expect(recent.length).toBeGreaterThan(0);
  });
});
