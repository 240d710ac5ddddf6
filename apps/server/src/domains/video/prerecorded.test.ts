import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { gql } from '../../../test/graphql-client.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { manualClock } from '../../platform/clock.ts';
import { adminActor } from '../mission_control/money-report.testing.ts';
import type { CallParties } from './call-party.ts';
import { PrerecordedRepository } from './prerecorded.repository.ts';
import { noStreamerAvailability, PrerecordedService } from './prerecorded.service.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

/** The smallest MP4 the upload accepts: an `ftyp` box and padding (videos are never decoded). */
const tinyMp4 = () =>
  Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isommp41'),
    Buffer.alloc(1000),
  ]);

const principalOf = (userId: string): Principal => ({
  userId,
  role: 'user',
  allowedRoles: ['user'],
  issuer: 'test',
  sessionId: undefined,
  tokenExpiresAt: new Date(8.64e15),
});

describe('prerecorded videos', () => {
  let app: TestApp;
  // Far ahead of the real time: timer jobs never come due by themselves; tests run them by hand.
  const clock = manualClock(new Date('2032-03-01T10:00:00Z'));
  let people: ReturnType<typeof callPeople>;
  let admin: ReturnType<typeof adminActor>;
  const later = (seconds: number) => clock.advance(seconds * 1000);
  const service = () => app.services.prerecorded;
  const streamers: string[] = [];

  const setting = (key: string, value: unknown) => app.services.settings.set(admin, key, value, 'test');
  const streamer = async () => {
    const id = await people.streamer();
    streamers.push(id);
    return id;
  };
  const video = async (ownerId: string, approve = true) => {
    const item = await app.services.media.upload(ownerId, 'video', tinyMp4());
    if (approve) await app.services.media.moderate(admin, [item.id], 'approve', null);
    return item.id;
  };
  // Offers of other tests stay in the database; each test gives its own a language of its own and
  // asks for it, so they come first (a language is preferred, never required).
  const offer = async (streamerId: string, lang: string, durationSeconds = 120) =>
    service().createOffer(streamerId, {
      mediaId: await video(streamerId),
      title: 'Hello from me',
      languages: [lang],
      durationSeconds,
    });

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
    admin = adminActor((await app.services.accounts.createOloAccount(['admin'])).id);
    await setting('video.prerecorded_offer_mode', 'always');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('lets a streamer offer only their own approved videos, up to the limit', async () => {
    const s = await streamer();
    const other = await streamer();
    const create = (
      mediaId: string,
      extra: Partial<{ title: string; languages: string[]; durationSeconds: number }> = {},
    ) => service().createOffer(s, { mediaId, title: 'Hi', languages: [], durationSeconds: 60, ...extra });
    const mine = await video(s);
    expect(await codeOf(create(await video(s, false)))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create(await video(other)))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create(randomUUID()))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create('nope'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create(mine, { title: '  ' }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create(mine, { languages: ['English'] }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(create(mine, { durationSeconds: 601 }))).toBe('BAD_USER_INPUT');
    expect(await service().myOffers(s)).toEqual([]);

    const first = await create(mine, { title: ' Morning ', languages: ['de', 'de'] });
    expect(first).toMatchObject({ streamerId: s, mediaId: mine, title: 'Morning', languages: ['de'] });
    expect(await codeOf(create(mine))).toBe('CONFLICT');
    await setting('video.prerecorded_offers_per_streamer', 2);
    try {
      await create(await video(s));
      expect(await codeOf(create(await video(s)))).toBe('CONFLICT');
    } finally {
      await setting('video.prerecorded_offers_per_streamer', 5);
    }
    expect((await service().myOffers(s)).map((o) => o.playable)).toEqual([true, true]);

    await app.services.media.moderate(admin, [mine], 'reject', 'not this one');
    const listed = await service().myOffers(s);
    expect(listed.find((o) => o.id === first.id)?.playable).toBe(false);
    await service().withdrawOffer(s, first.id);
    expect(await codeOf(service().withdrawOffer(s, first.id))).toBe('NOT_FOUND');
    expect(await codeOf(service().withdrawOffer(other, listed[0]?.id ?? ''))).toBe('NOT_FOUND');
  });

  it('offers by the mode: never when off, only without an available streamer, or always', async () => {
    const s = await streamer();
    const made = await offer(s, 'qm');
    const user = await people.user();
    expect((await service().offerFor(user, 'qm'))?.id).toBe(made.id);

    await setting('video.prerecorded_offer_mode', 'off');
    expect(await service().offerFor(user, 'qm')).toBeNull();

    await setting('video.prerecorded_offer_mode', 'when_no_streamer');
    try {
      expect(await service().offerFor(user, 'qm')).toBeNull();
      for (const id of streamers) await app.services.presence.setAvailability(id, 'away');
      expect((await service().offerFor(user, 'qm'))?.id).toBe(made.id);
      await app.services.presence.setAvailability(s, 'available');
      expect(await service().offerFor(user, 'qm')).toBeNull();
    } finally {
      await setting('video.prerecorded_offer_mode', 'always');
    }
    // Streamers are not offered videos; they cannot pay for one.
    expect(await service().offerFor(s, 'qm')).toBeNull();
  });

  it('never offers a rejected video or one of a streamer blocked either way; prefers unwatched streamers', async () => {
    const [a, b, c] = [await streamer(), await streamer(), await streamer()];
    const [offerA, offerB, offerC] = [await offer(a, 'qb'), await offer(b, 'qb'), await offer(c, 'qb')];
    const user = await people.user();
    await app.services.media.moderate(admin, [offerC.mediaId], 'reject', 'nudity');
    const blocked = new Set([`${a}:${user}`]);
    // The blocklist domain does not exist yet: its check is a dependency, given here as a set of pairs.
    const parties: CallParties = {
      describe: async (id) => {
        const u = await app.services.accounts.getUser(id).catch(() => undefined);
        return u && { id: u.id, roles: u.roles, status: u.status, displayName: null };
      },
    };
    const withBlocks = new PrerecordedService({
      engine: app.services.video.engine,
      rooms: app.services.callRooms,
      repo: new PrerecordedRepository(app.database.handle.db),
      parties,
      blocks: async (x, y) => blocked.has(`${x}:${y}`) || blocked.has(`${y}:${x}`),
      media: app.services.media,
      streamers: noStreamerAvailability,
    });
    for (let i = 0; i < 5; i += 1) {
      expect((await withBlocks.offerFor(user, 'qb'))?.id).toBe(offerB.id);
    }
    expect(await codeOf(withBlocks.start(principalOf(user), offerA.id))).toBe('NOT_FOUND');
    expect(await codeOf(withBlocks.start(principalOf(user), offerC.id))).toBe('NOT_FOUND');

    // Once b was watched, a (unblocked now) comes first.
    blocked.clear();
    const watched = await withBlocks.start(principalOf(user), offerB.id);
    await withBlocks.stop(user, watched.call.id);
    expect((await withBlocks.offerFor(user, 'qb'))?.id).toBe(offerA.id);
  });

  it('bills the prerecorded tariff while the streamer stays free, and stopping leaves a record and call_ended', async () => {
    const s = await streamer();
    const made = await offer(s, 'qw');
    const user = await people.user(1000n);
    const viewing = await service().start(principalOf(user), made.id);
    const call = viewing.call;
    expect(call).toMatchObject({
      kind: 'prerecorded',
      state: 'connected',
      callerId: user,
      payerId: user,
      earnerId: s,
      provider: 'prerecorded',
      earnerPriorAvailability: null,
    });
    expect(viewing.playback.url).toContain(`/media/${made.mediaId}/original`);
    expect(viewing.playback.expiresAt.getTime()).toBeGreaterThan(clock.now().getTime());
    // Prerecorded tariff: 30 at start and 30 a minute; the streamer 15 and 15.
    expect(await people.wallet(user)).toBe(970n);
    expect(await people.availability(s)).toBe('available');
    expect((await app.services.calls.activeCallOf(user))?.id).toBe(call.id);
    expect(await app.services.calls.activeCallOf(s)).toBeUndefined();
    expect(await codeOf(app.services.callRooms.credentials(user, call.id))).toBe('CONFLICT');
    expect(await codeOf(service().start(principalOf(user), made.id))).toBe('CONFLICT');

    // The streamer can take a live call meanwhile.
    const caller = await people.user();
    const live = await app.services.calls.request(caller, s);
    expect(live.state).toBe('requested');
    await app.services.calls.hangUp(caller, live.id);

    later(65);
    await app.services.billing.runDue(call.id);
    await app.services.callRooms.heartbeat(user, call.id);
    expect((await service().playback(principalOf(user), call.id)).url).toContain(made.mediaId);
    expect(await codeOf(service().stop(s, call.id))).toBe('FORBIDDEN');
    const done = await service().stop(user, call.id);
    expect(done).toMatchObject({
      state: 'ended',
      endReason: 'hangup',
      endedBy: 'caller',
      charged: 60n,
      earned: 30n,
    });
    expect(await people.wallet(user)).toBe(940n);
    expect(await people.earned(s)).toBe(30n);
    expect(await people.availability(s)).toBe('available');
    expect(await app.services.calls.activeCallOf(user)).toBeUndefined();
    expect(await people.jobRunAt(call.id)).toBeNull();
    expect((await service().stop(user, call.id)).version).toBe(done.version);
    expect(await codeOf(service().playback(principalOf(user), call.id))).toBe('CONFLICT');
    const steps = (await app.services.video.history.transitions(call.id)).map((t) => t.state);
    expect(steps).toEqual(['requested', 'accepted', 'connecting', 'connected', 'ended']);
    const events = await app.database.handle.db
      .selectFrom('event_log.events')
      .select(['type', 'payload'])
      .where('type', 'in', ['call_connected', 'call_ended'])
      .where(sql<string>`payload->>'callId'`, '=', call.id)
      .execute();
    expect(events.map((e) => e.type).sort()).toEqual(['call_connected', 'call_ended']);
    expect(events.find((e) => e.type === 'call_ended')?.payload).toMatchObject({
      kind: 'prerecorded',
      provider: 'prerecorded',
      reason: 'hangup',
      endedBy: 'caller',
      connected: true,
      charged: '60',
      earned: '30',
    });
  });

  it('ends a viewing when the viewer stops heart-beating, and at the latest a grace after the video', async () => {
    const s = await streamer();
    const user = await people.user();
    const silent = await service().start(principalOf(user), (await offer(s, 'qh', 120)).id);
    later(15);
    await app.services.callRooms.heartbeat(user, silent.call.id);
    later(15);
    expect((await app.services.calls.runDeadline(silent.call.id))?.state).toBe('connected');
    later(21);
    const gone = await app.services.calls.runDeadline(silent.call.id);
    expect([gone?.state, gone?.endReason, gone?.endedBy]).toEqual(['ended', 'disconnected', 'system']);

    // A 40 s video: heartbeats keep it going to 40 s plus the 20 s grace, not beyond; the streamer's
    // own heartbeats and confirmations change nothing.
    const short = await service().start(principalOf(user), (await offer(s, 'qh', 40)).id);
    for (let t = 0; t < 3; t += 1) {
      later(15);
      await app.services.callRooms.heartbeat(user, short.call.id);
      await app.services.callRooms.heartbeat(s, short.call.id);
      await app.services.callRooms.confirmMedia(s, short.call.id);
      expect((await app.services.calls.runDeadline(short.call.id))?.state).toBe('connected');
    }
    later(15);
    await app.services.callRooms.heartbeat(user, short.call.id);
    const over = await app.services.calls.runDeadline(short.call.id);
    expect([over?.state, over?.endReason]).toEqual(['ended', 'disconnected']);
    expect(over?.charged).toBe(60n);
  });

  it('refuses bad input and changes nothing', async () => {
    const s = await streamer();
    const made = await offer(s, 'qr');
    const poor = await people.user(50n);
    expect(await codeOf(service().start(principalOf(poor), 'nope'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(service().start(principalOf(poor), randomUUID()))).toBe('NOT_FOUND');
    expect(await codeOf(service().start(principalOf(s), made.id))).toBe('FORBIDDEN');
    expect(await codeOf(service().start(principalOf(poor), made.id))).toBe('INSUFFICIENT_FUNDS');
    expect(await codeOf(service().offerFor(poor, 'english'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(service().stop(poor, 'nope'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(service().stop(poor, randomUUID()))).toBe('NOT_FOUND');

    const user = await people.user();
    const direct = await app.services.calls.request(user, s);
    expect(await codeOf(service().stop(user, direct.id))).toBe('BAD_USER_INPUT');
    expect(await codeOf(service().start(principalOf(user), made.id))).toBe('CONFLICT');
    await app.services.calls.hangUp(user, direct.id);

    await setting('video.prerecorded_offer_mode', 'off');
    try {
      expect(await codeOf(service().start(principalOf(user), made.id))).toBe('FORBIDDEN');
    } finally {
      await setting('video.prerecorded_offer_mode', 'always');
    }
    await service().withdrawOffer(s, made.id);
    expect(await codeOf(service().start(principalOf(user), made.id))).toBe('NOT_FOUND');

    expect(await people.wallet(poor)).toBe(50n);
    expect(await people.wallet(user)).toBe(1000n);
    expect((await app.services.video.history.list({ userId: poor }, 10)).items).toEqual([]);
    expect((await app.services.video.history.list({ userId: user }, 10)).items.map((c) => c.kind)).toEqual([
      'direct',
    ]);
  });

  it('works over GraphQL: a prerecorded call has no room connection', async () => {
    const s = await streamer();
    const made = await offer(s, 'qg');
    const viewer = await app.signIn(['user']);
    await people.fund(viewer.userId, 1000n);
    const started = await gql<{
      startPrerecorded: {
        call: { id: string; kind: string; state: string; connection: null };
        playback: { url: string };
      };
    }>(
      app.url,
      `mutation ($id: ID!) { startPrerecorded(offerId: $id) {
        call { id kind state connection { token } } playback { url } } }`,
      { id: made.id },
      { token: viewer.accessToken },
    );
    expect(started.errors).toBeUndefined();
    expect(started.data?.startPrerecorded.call).toMatchObject({
      kind: 'PRERECORDED',
      state: 'CONNECTED',
      connection: null,
    });
    const stopped = await gql<{ stopPrerecorded: { endReason: string } }>(
      app.url,
      'mutation ($id: ID!) { stopPrerecorded(callId: $id) { endReason } }',
      { id: started.data?.startPrerecorded.call.id },
      { token: viewer.accessToken },
    );
    expect(stopped.data?.stopPrerecorded.endReason).toBe('HANGUP');
  });
});
