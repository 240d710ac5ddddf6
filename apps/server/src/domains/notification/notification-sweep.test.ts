import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { deliverJobKey, JOB_PRIORITY, PUSH_JOB, pushJobKey } from './notification.service.ts';
import { DEAD_PUSH_LOCK_MS } from './notification.ts';

type JobState = { attempts: 'all' | 'some'; lockedMinutesAgo: number };

// A process killed during a push job's last run leaves the job locked with every attempt used:
// graphile-worker never runs it again, so the sweep must end its notifications.
describe('the sweep of dead push jobs', () => {
  let app: TestApp;
  const db = () => app.database.handle.db;
  const status = async (id: string) => (await app.services.notifications.service.get(id)).status;
  const jobsWithKey = async (key: string) =>
    (
      await sql<{
        n: number;
      }>`select count(*)::int as n from graphile_worker.jobs where key = ${key}`.execute(db())
    ).rows[0]?.n;
  const sweep = () =>
    app.services.notifications.pushDelivery.sweepDeadJobs(app.services.jobs, DEAD_PUSH_LOCK_MS);

  /** A notification its push job had claimed (`pushing`) when that job's run stopped as `state` says. */
  const pushingWithJob = async (name: string, state: JobState) => {
    const user = await app.signIn(['user']);
    return withTransaction(db(), async (tx) => {
      const row = await app.services.notifications.service.notify(tx, {
        userId: user.userId,
        kind: 'gift_received',
        variables: { coins: '10' },
      });
      if (!row) throw new Error('not created');
      await app.services.jobs.cancel(tx, deliverJobKey(row.id));
      // Due in an hour, so this test's own job runner leaves it alone.
      const { id: jobId } = await app.services.jobs.schedule(
        tx,
        PUSH_JOB,
        { ids: [row.id], key: name },
        {
          jobKey: pushJobKey(name),
          maxAttempts: 3,
          priority: JOB_PRIORITY,
          runAt: new Date(Date.now() + 3_600_000),
        },
      );
      await sql`update notification.notifications set status = 'pushing' where id = ${row.id}`.execute(tx);
      // As a worker leaves a job when its process dies mid-run: attempt counted, lock kept.
      await sql`
        update graphile_worker._private_jobs
           set attempts = ${state.attempts === 'all' ? sql`max_attempts` : sql`max_attempts - 1`},
               locked_at = now() - make_interval(mins => ${state.lockedMinutesAgo}),
               locked_by = 'killed-worker'
         where id = ${jobId}::bigint`.execute(tx);
      return row.id;
    });
  };

  beforeAll(async () => {
    app = await startTestApp();
    await app.services.jobs.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('ends the notification of a last run that died, once, and removes its job', async () => {
    const dead = await pushingWithJob('dead-last-run', { attempts: 'all', lockedMinutesAgo: 60 });
    // Still running (a fresh lock), and a run that graphile-worker will retry once its lock expires.
    const running = await pushingWithJob('running-last-run', { attempts: 'all', lockedMinutesAgo: 1 });
    const retried = await pushingWithJob('retried-later', { attempts: 'some', lockedMinutesAgo: 60 });

    expect(await sweep()).toBe(1);
    expect(await status(dead)).toBe('push_failed');
    expect(
      (await app.services.notifications.service.attempts(dead)).map((a) => [a.outcome, a.detail]),
    ).toEqual([['push_failed', 'the push job stopped during its last attempt (its process ended)']]);
    expect(await jobsWithKey(pushJobKey('dead-last-run'))).toBe(0);

    expect([await status(running), await status(retried)]).toEqual(['pushing', 'pushing']);
    expect(await jobsWithKey(pushJobKey('running-last-run'))).toBe(1);
    expect(await jobsWithKey(pushJobKey('retried-later'))).toBe(1);

    // Nothing twice: a second sweep finds nothing, and the log keeps one entry.
    expect(await sweep()).toBe(0);
    expect(await app.services.notifications.service.attempts(dead)).toHaveLength(1);
  });
});
