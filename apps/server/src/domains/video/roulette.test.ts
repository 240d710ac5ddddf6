import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { manualClock } from '../../platform/clock.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { adminActor } from '../mission_control/money-report.testing.ts';
import type { BlockCheck } from './call-party.ts';
import { RouletteRepository } from './roulette.repository.ts';
import { type RoulettePreferences, RouletteService } from './roulette.service.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

describe('roulette matching', () => {
  let app: TestApp;
  // Far ahead of the real time, moved by each test: heartbeats, widening and cool-downs are on it.
  const clock = manualClock(new Date('2032-03-01T10:00:00Z'));
  let people: ReturnType<typeof callPeople>;
  const later = (seconds: number) => clock.advance(seconds * 1000);
  const roulette = () => app.services.roulette;
  const join = (userId: string, preferences?: Partial<RoulettePreferences>) =>
    roulette().join(userId, preferences);
  const status = (userId: string) => roulette().status(userId);
  const matchedWith = async (userId: string) => {
    const s = await status(userId);
    return s.state === 'matched' ? (s.call?.calleeId === userId ? s.call.callerId : s.call?.calleeId) : null;
  };
  const withProfile = async (userId: string, profile: { languages?: string[]; country?: string }) => {
    await app.services.profiles.update(userId, profile);
    return userId;
  };

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  beforeEach(async () => {
    // Each test starts with an empty pool: entries of earlier tests must not be matched here.
    await sql`delete from video.roulette_pool`.execute(app.database.handle.db);
    later(3600);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('matches the longest-waiting user with the longest-waiting streamer in a roulette call, charged 9 at connect', async () => {
    const [u1, u2, u3] = [await people.user(), await people.user(), await people.user()];
    const startedAt = clock.now();
    expect(await join(u1)).toMatchObject({ state: 'waiting', side: 'user', waitingSince: startedAt });
    later(1);
    await join(u2);
    later(1);
    await join(u3);
    const s1 = await people.streamer();
    const first = await join(s1);
    expect(first).toMatchObject({ state: 'matched', side: 'streamer' });
    expect(first.call).toMatchObject({
      kind: 'roulette',
      state: 'connecting',
      callerId: u1,
      calleeId: s1,
      payerId: u1,
      earnerId: s1,
      provider: 'local',
    });
    expect((await status(u1)).call?.id).toBe(first.call?.id);
    expect(await people.availability(s1)).toBe('busy');

    // A streamer waiting first is matched with the next user who joins.
    const s2 = await people.streamer();
    const s3 = await people.streamer();
    await sql`delete from video.roulette_pool where user_id in (${u2}, ${u3})`.execute(
      app.database.handle.db,
    );
    expect((await join(s2)).state).toBe('waiting');
    later(1);
    expect((await join(s3)).state).toBe('waiting');
    await join(u2);
    expect(await matchedWith(u2)).toBe(s2);
    await join(u3);
    expect(await matchedWith(u3)).toBe(s3);

    // Roulette tariff: 9 at connect; the same records as any call.
    const callId = first.call?.id ?? '';
    expect((await people.connect(callId, u1, s1)).state).toBe('connected');
    expect(await people.wallet(u1)).toBe(991n);
    const done = await app.services.calls.hangUp(u1, callId);
    expect(done).toMatchObject({ state: 'ended', endReason: 'hangup', charged: 9n, earned: 0n });
    const steps = (await app.services.video.history.transitions(callId)).map((s) => s.state);
    expect(steps).toEqual(['requested', 'accepted', 'connecting', 'connected', 'ended']);
    expect(await people.availability(s1)).toBe('available');
  });

  it('matches only streamers who are available and in no call', async () => {
    const user = await people.user();
    const away = await people.streamer();
    const inCall = await people.streamer();
    // The one waiting longest is in a direct call, the other is away for now.
    await join(inCall);
    later(1);
    await join(away);
    await app.services.presence.setAvailability(away, 'away');
    const caller = await people.user();
    await app.services.calls.request(caller, inCall);
    await join(user);
    expect((await status(user)).state).toBe('waiting');
    await app.services.presence.setAvailability(away, 'available');
    await roulette().matchRound();
    expect(await matchedWith(user)).toBe(away);
  });

  it('never matches a pair blocked either way; each is matched with someone else', async () => {
    const blocked = new Set<string>();
    const blocks: BlockCheck = async (a, b) => blocked.has(`${a}:${b}`) || blocked.has(`${b}:${a}`);
    const parties = {
      describe: async (userId: string) => {
        const user = await app.services.userRepo.findUser(userId);
        return user ? { id: user.id, roles: user.roles, status: user.status, displayName: null } : undefined;
      },
    };
    const guarded = new RouletteService({
      engine: app.services.video.engine,
      calls: app.services.calls,
      repo: new RouletteRepository(app.database.handle.db),
      parties,
      blocks,
      profiles: { profileOf: async () => ({ languages: [], country: null }) },
    });
    const [u1, u2, u3, u4] = [
      await people.user(),
      await people.user(),
      await people.user(),
      await people.user(),
    ];
    const [s1, s2, s3] = [await people.streamer(), await people.streamer(), await people.streamer()];
    blocked.add(`${s1}:${u1}`); // a streamer blocked a user
    blocked.add(`${u3}:${s3}`); // a user blocked a streamer
    await guarded.join(u1);
    later(1);
    await guarded.join(u2);
    later(1);
    await guarded.join(s1);
    expect((await guarded.status(s1)).call?.callerId).toBe(u2);
    expect((await guarded.status(u1)).state).toBe('waiting');
    await guarded.join(s2);
    expect((await guarded.status(s2)).call?.callerId).toBe(u1);

    await guarded.join(s3);
    later(1);
    await guarded.join(u3);
    expect((await guarded.status(u3)).state).toBe('waiting');
    later(1);
    await guarded.join(u4);
    expect((await guarded.status(s3)).call?.callerId).toBe(u4);
    expect((await guarded.status(u3)).state).toBe('waiting');
  });

  it('never pairs a pair blocked through the blocklist: the lookup itself skips them, either way', async () => {
    // No per-pair check at all: only the pair lookup's filter on blocklist.active_blocks keeps them apart.
    const unchecked = new RouletteService({
      engine: app.services.video.engine,
      calls: app.services.calls,
      repo: new RouletteRepository(app.database.handle.db),
      parties: {
        describe: async (userId: string) => {
          const user = await app.services.userRepo.findUser(userId);
          return user
            ? { id: user.id, roles: user.roles, status: user.status, displayName: null }
            : undefined;
        },
      },
      blocks: async () => false,
      profiles: { profileOf: async () => ({ languages: [], country: null }) },
    });
    const [u1, u2, u3] = [await people.user(), await people.user(), await people.user()];
    const [s1, s2] = [await people.streamer(), await people.streamer()];
    await app.services.blocklist.block(s1, u1, 'harassment', null); // a streamer blocked a user
    await app.services.blocklist.block(u3, s2, 'spam', null); // a user blocked a streamer

    await unchecked.join(u1);
    later(1);
    await unchecked.join(s1);
    for (let round = 0; round < 3; round++) await unchecked.matchRound();
    expect((await unchecked.status(u1)).state).toBe('waiting');
    expect((await unchecked.status(s1)).state).toBe('waiting');
    // Someone else is matched with each of them.
    later(1);
    await unchecked.join(u2);
    expect((await unchecked.status(s1)).call?.callerId).toBe(u2);
    await unchecked.join(s2);
    expect((await unchecked.status(s2)).call?.callerId).toBe(u1);

    // The other direction, and the same pair again once the block is lifted.
    await app.services.calls.hangUp(u1, (await unchecked.status(u1)).call?.id ?? '');
    await sql`delete from video.roulette_pool`.execute(app.database.handle.db);
    const s3 = await people.streamer();
    await app.services.blocklist.block(u3, s3, 'nudity', null);
    await unchecked.join(u3);
    later(1);
    await unchecked.join(s3);
    await unchecked.matchRound();
    expect((await unchecked.status(u3)).state).toBe('waiting');
    expect(await app.services.blocklist.unblock(u3, s3)).toBe(true);
    await unchecked.matchRound();
    expect((await unchecked.status(u3)).call?.calleeId).toBe(s3);
  });

  it('"next" hangs up, re-enters the pool and keeps the pair apart for the cool-down', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    await join(user, { language: 'en' });
    await withProfile(streamer, { languages: ['en'] });
    await join(streamer);
    const call = (await status(user)).call;
    expect(call?.calleeId).toBe(streamer);

    const afterNext = await roulette().next(user);
    expect(afterNext).toMatchObject({ state: 'waiting', preferences: { language: 'en', country: null } });
    expect(await app.services.calls.find(call?.id ?? '')).toMatchObject({
      state: 'ended',
      endReason: 'hangup',
      endedBy: 'caller',
    });
    // The other side sees its call ended, and comes back with next too: not matched with each other.
    expect((await status(streamer)).call).toMatchObject({ id: call?.id, state: 'ended' });
    expect((await roulette().next(streamer)).state).toBe('waiting');
    expect((await status(user)).state).toBe('waiting');

    // Someone new is matched with the streamer, though the user waited longer.
    const newcomer = await people.user();
    await join(newcomer);
    expect(await matchedWith(newcomer)).toBe(streamer);
    await roulette().next(streamer);

    // Still cooling down just before the end of the cool-down, matched again after it.
    for (const step of [590, 9]) {
      later(step);
      await roulette().heartbeat(user);
      await roulette().heartbeat(streamer);
      await roulette().matchRound();
      expect((await status(user)).state).toBe('waiting');
    }
    later(1);
    await roulette().heartbeat(user);
    await roulette().heartbeat(streamer);
    await roulette().matchRound();
    expect(await matchedWith(user)).toBe(streamer);
  });

  it('prefers the language and country asked for, and drops the preference after the widening time', async () => {
    const [en, fr] = [await people.streamer(), await people.streamer()];
    await withProfile(en, { languages: ['en'], country: 'GB' });
    await withProfile(fr, { languages: ['fr', 'en'], country: 'FR' });
    await join(en);
    later(1);
    await join(fr);
    const wantsFrench = await people.user();
    const waiting = await join(wantsFrench, { language: 'fr' });
    expect(waiting.state).toBe('matched');
    expect(waiting.call?.calleeId).toBe(fr);

    // Nobody waiting speaks German from Austria: the user waits, then takes whoever is there.
    const wantsAustrian = await people.user();
    const wait = await join(wantsAustrian, { language: 'de', country: 'AT' });
    expect(wait).toMatchObject({ state: 'waiting', preferences: { language: 'de', country: 'AT' } });
    expect(wait.widensAt?.getTime()).toBe(clock.now().getTime() + 20_000);
    later(10);
    await roulette().heartbeat(wantsAustrian);
    await roulette().heartbeat(en);
    await roulette().matchRound();
    expect((await status(wantsAustrian)).state).toBe('waiting');
    later(10);
    await roulette().matchRound();
    expect(await matchedWith(wantsAustrian)).toBe(en);

    // A streamer's preference counts too: a streamer asking for Italy is skipped by a user from Spain.
    const wantsItaly = await people.streamer();
    await join(wantsItaly, { country: 'IT' });
    const spaniard = await withProfile(await people.user(), { country: 'ES' });
    await join(spaniard);
    expect((await status(spaniard)).state).toBe('waiting');
    const italian = await withProfile(await people.user(), { country: 'IT' });
    await join(italian);
    expect(await matchedWith(italian)).toBe(wantsItaly);
  });

  it('drops entries that stop heartbeating; heartbeating ones stay', async () => {
    const [silent, alive] = [await people.user(), await people.user()];
    await join(silent);
    await join(alive);
    later(10);
    await roulette().heartbeat(alive);
    later(6);
    expect((await roulette().matchRound()).dropped).toBe(1);
    expect((await status(silent)).state).toBe('idle');
    expect((await roulette().heartbeat(silent)).state).toBe('idle');
    const streamer = await people.streamer();
    await join(streamer);
    expect(await matchedWith(streamer)).toBe(alive);
  });

  it('refuses who cannot afford the first stretch, and drops a user whose coins ran out while waiting', async () => {
    // The first 60 s of the roulette tariff cost 129 coins.
    const poor = await people.user(128n);
    expect(await codeOf(join(poor))).toBe('INSUFFICIENT_FUNDS');
    const spender = await people.user(129n);
    await join(spender);
    await app.services.ledger.execute({
      idempotencyKey: `test:roulette-spend:${spender}`,
      kind: 'adjustment',
      postings: [
        { account: accounts.walletPaid(spender), amount: -100n },
        { account: accounts.promotions, amount: 100n },
      ],
    });
    const streamer = await people.streamer();
    await join(streamer);
    expect((await status(spender)).state).toBe('idle');
    expect((await status(streamer)).state).toBe('waiting');
    expect(await app.services.calls.activeCallOf(streamer)).toBeUndefined();
  });

  it('refuses joining while in a call, with bad preferences, and when roulette is turned off', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const direct = await app.services.calls.request(user, streamer);
    expect(await codeOf(join(user))).toBe('CONFLICT');
    expect(await codeOf(roulette().next(user))).toBe('CONFLICT');
    await app.services.calls.hangUp(user, direct.id);
    expect(await codeOf(join(user, { language: 'english' }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(join(user, { country: 'de' }))).toBe('BAD_USER_INPUT');

    const admin = await app.signIn(['admin']);
    const actor = adminActor(admin.userId);
    await join(user);
    await app.services.settings.set(actor, 'feature.roulette_enabled', false, 'test: roulette off');
    try {
      expect(await codeOf(join(streamer))).toBe('FORBIDDEN');
      expect(await codeOf(roulette().next(streamer))).toBe('FORBIDDEN');
      expect((await roulette().matchRound()).matched).toBe(0);
      expect((await status(streamer)).state).toBe('idle');
    } finally {
      await app.services.settings.set(actor, 'feature.roulette_enabled', true, 'test: roulette on');
    }
    await join(streamer);
    expect(await matchedWith(streamer)).toBe(user);
    expect((await roulette().leave(user)).state).toBe('idle');
  });
});
