import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import { buildApp } from '../../app.ts';
import { manualClock } from '../../platform/clock.ts';
import { platformMigrations, readMigrations } from '../../platform/db/migrator.ts';
import type { Services } from '../../services.ts';
import { domainMigrations } from '../registry.ts';
import { waitFor } from '../timetable/testing.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

// The request is made 25 s in the past of this process's clock, so the 30 s ring time-out falls
// about 5 s from now on the real clock the server processes use.
const RING_SECONDS = 30;
const LEAD_SECONDS = 25;

describe('a ring that times out while every server process is down', () => {
  let database: TestDatabase;
  let services: Services;
  let shutdown: () => Promise<void>;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // This process only makes the call (its own clock, no jobs, no cron): the servers run the timer.
    const built = await buildApp({
      config: testConfig(VIDEO_TEST_ENV),
      database: database.handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: manualClock(new Date(Date.now() - LEAD_SECONDS * 1000)),
    });
    services = built.services;
    shutdown = built.shutdown;
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await shutdown?.();
    await database?.drop();
  });

  it('still ends as missed, once, when a server comes back after the deadline', async () => {
    const env = { DATABASE_URL: database.url, SEED_DEMO_DATA: 'false', ...VIDEO_TEST_ENV };
    const first = await startServerProcess({ env });
    servers.push(first);
    await first.waitForReady();
    const people = callPeople({ services, database });
    const [user, streamer] = [await people.user(), await people.streamer()];
    const call = await services.calls.request(user, streamer);
    expect(call.state).toBe('requested');
    expect(call.deadlineAt?.getTime()).toBe(call.requestedAt.getTime() + RING_SECONDS * 1000);

    // Every server dies before the ring time-out; the deadline passes with none running.
    await first.stop('SIGKILL');
    const deadline = call.deadlineAt?.getTime() ?? 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()) + 500));
    expect((await services.calls.find(call.id))?.state).toBe('requested');

    const second = await startServerProcess({ env });
    servers.push(second);
    await second.waitForReady();
    const ended = await waitFor('the call to end', async () => {
      const current = await services.calls.find(call.id);
      return current?.state === 'ended' ? current : undefined;
    });
    expect([ended?.state, ended?.endReason, ended?.endedBy]).toEqual(['ended', 'missed', 'system']);
    const endings = (await services.video.history.transitions(call.id)).filter((t) => t.state === 'ended');
    expect(endings).toHaveLength(1);
    const events = (await services.eventLog.listEvents({ type: 'call_ended' }, 100)).items.filter(
      (e) => (e.payload as { callId?: string }).callId === call.id,
    );
    expect(events).toHaveLength(1);
    expect(await services.calls.activeCallOf(streamer)).toBeUndefined();
  });
});
