import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, testConfig } from '../../../test/app.ts';
import { buildApp } from '../../app.ts';
import { manualClock } from '../../platform/clock.ts';
import { createDatabase } from '../../platform/db/database.ts';
import { platformMigrations, readMigrations } from '../../platform/db/migrator.ts';
import type { Services } from '../../services.ts';
import { domainMigrations } from '../registry.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

/**
 * Two server instances on one database, as two processes behind a load balancer: matching runs in
 * both at once, and no account may end up in two matches.
 */
describe('roulette matching across processes', () => {
  let app: TestApp;
  let other: { services: Services; shutdown: () => Promise<void> };
  const clock = manualClock(new Date('2032-06-01T10:00:00Z'));
  let people: ReturnType<typeof callPeople>;
  const later = (seconds: number) => clock.advance(seconds * 1000);
  const many = <T>(count: number, make: () => Promise<T>) => Promise.all(Array.from({ length: count }, make));

  /** The roulette calls of these users, and the accounts appearing in more than one. */
  const rouletteCalls = async (users: string[]) => {
    const rows = await app.database.handle.db
      .selectFrom('video.calls')
      .select(['id', 'caller_id', 'callee_id', 'state'])
      .where('kind', '=', 'roulette')
      .where('caller_id', 'in', users)
      .execute();
    const seen = new Map<string, number>();
    for (const row of rows) {
      for (const id of [row.caller_id, row.callee_id]) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    return { rows, twice: [...seen].filter(([, n]) => n > 1).map(([id]) => id) };
  };

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
    const built = await buildApp({
      config: testConfig(VIDEO_TEST_ENV),
      database: createDatabase({ url: app.database.url, poolMax: 10 }),
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock,
    });
    other = { services: built.services, shutdown: built.shutdown };
  });
  beforeEach(async () => {
    await sql`delete from video.roulette_pool`.execute(app.database.handle.db);
    later(3600);
  });
  afterAll(async () => {
    await other?.shutdown();
    await app?.close();
  });

  it('matches a full pool with matchers racing in two instances: every account once', async () => {
    const streamers = await many(40, () => people.streamer());
    const users = await many(40, () => people.user());
    for (const streamer of streamers) await app.services.roulette.join(streamer);
    // Nobody speaks Japanese: every user waits until the preference widens, then all match at once.
    for (const user of users) await app.services.roulette.join(user, { language: 'ja' });
    expect((await rouletteCalls(users)).rows).toHaveLength(0);
    later(10);
    await Promise.all([...streamers, ...users].map((id) => app.services.roulette.heartbeat(id)));
    later(10);

    // Eight matchers, four in each instance, each taking pairs until it finds none.
    const matchers = Array.from({ length: 8 }, async (_, i) => {
      const roulette = (i % 2 === 0 ? app : other).services.roulette;
      let made = 0;
      while (await roulette.matchOne('local')) made++;
      return made;
    });
    const made = await Promise.all(matchers);
    await app.services.roulette.matchRound();
    expect(made.reduce((sum, n) => sum + n, 0)).toBe(40);
    const { rows, twice } = await rouletteCalls(users);
    expect(twice).toEqual([]);
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.caller_id))).toEqual(new Set(users));
    expect(new Set(rows.map((r) => r.callee_id))).toEqual(new Set(streamers));
    for (const row of rows) {
      const [caller, callee] = await Promise.all([
        other.services.roulette.status(row.caller_id),
        other.services.roulette.status(row.callee_id),
      ]);
      expect([caller.call?.id, callee.call?.id]).toEqual([row.id, row.id]);
    }
  });

  it('matches accounts joining at once through both instances, each at most once', async () => {
    const streamers = await many(25, () => people.streamer());
    const users = await many(30, () => people.user());
    const everyone = [...streamers, ...users].sort(() => Math.random() - 0.5);
    await Promise.all(
      everyone.map((id, i) => (i % 2 === 0 ? app.services.roulette : other.services.roulette).join(id)),
    );
    await other.services.roulette.matchRound();
    const { rows, twice } = await rouletteCalls(users);
    expect(twice).toEqual([]);
    expect(rows).toHaveLength(25);
    const waiting = await Promise.all(users.map((id) => app.services.roulette.status(id)));
    expect(waiting.filter((s) => s.state === 'waiting')).toHaveLength(5);
  });
});
