import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { waitFor } from '../timetable/testing.ts';
import { APPLIED_EVENTS_RETENTION_TASK } from './interaction.jobs.ts';
import { InteractionRepository } from './interaction.repository.ts';

const DAY_MS = 86_400_000;

describe('applied-event ids are pruned on the timetable', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { EVENT_LOG_RETENTION_DAYS: '7' } });
    await app.services.jobs.start();
    await app.services.cron.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is a nightly cron task, and a run deletes the ids older than the retention plus a day', async () => {
    const db = app.database.handle.db;
    const task = await db
      .selectFrom('timetable.cron_tasks')
      .selectAll()
      .where('task', '=', APPLIED_EVENTS_RETENTION_TASK)
      .executeTakeFirst();
    expect(task).toMatchObject({ name: 'interaction-applied-events-retention', enabled: true });

    const now = Date.now();
    const expired = [randomUUID(), randomUUID(), randomUUID()];
    // Past the 7 days of retention but within the extra day: a late log run could still replay it.
    const withinMargin = randomUUID();
    const recent = randomUUID();
    await db
      .insertInto('interaction.applied_events')
      .values([
        ...expired.map((id) => ({ event_id: id, applied_at: new Date(now - 9 * DAY_MS) })),
        { event_id: withinMargin, applied_at: new Date(now - 7.5 * DAY_MS) },
        { event_id: recent, applied_at: new Date(now - DAY_MS) },
      ])
      .execute();

    const run = await app.services.cron.runNow('interaction-applied-events-retention');
    await waitFor('the prune run to succeed', async () => {
      const row = await db
        .selectFrom('timetable.cron_runs')
        .select('status')
        .where('id', '=', BigInt(run.id))
        .executeTakeFirst();
      if (row?.status === 'failed') throw new Error('the prune run failed');
      return row?.status === 'succeeded';
    });
    const left = await db
      .selectFrom('interaction.applied_events')
      .select('event_id')
      .where('event_id', 'in', [...expired, withinMargin, recent])
      .execute();
    expect(left.map((r) => r.event_id).sort()).toEqual([withinMargin, recent].sort());
  });

  it('prunes in chunks until nothing old is left', async () => {
    const db = app.database.handle.db;
    const old = new Date(Date.now() - 30 * DAY_MS);
    await db
      .insertInto('interaction.applied_events')
      .values(Array.from({ length: 25 }, () => ({ event_id: randomUUID(), applied_at: old })))
      .execute();
    const deleted = await new InteractionRepository(db).pruneApplied(new Date(Date.now() - 10 * DAY_MS), 10);
    expect(deleted).toBe(25);
    const remaining = await db
      .selectFrom('interaction.applied_events')
      .select('event_id')
      .where('applied_at', '<', new Date(Date.now() - 10 * DAY_MS))
      .execute();
    expect(remaining).toEqual([]);
  });
});
