import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { waitFor } from '../timetable/testing.ts';
import { PRESENCE_CHANNEL } from '../user/presence/presence.ts';
import { callPeople, VIDEO_TEST_ENV } from '../video/video.test-support.ts';

const PRESENCE = `query($ids: [ID!]!) { presence(userIds: $ids) { online lastSeenAt availability } }`;
const BLOCK = `mutation($id: ID!, $reason: BlockReason!) {
  blockUser(userId: $id, reason: $reason) { created }
}`;

/** What a block does in the other domains, through the real services: calls, chat, the gallery's view. */
describe('blocklist effects elsewhere', () => {
  let app: TestApp;
  // Far ahead of the real time, as in the call tests: timer jobs never come due by themselves.
  const clock = manualClock(new Date('2034-02-01T10:00:00Z'));
  let people: ReturnType<typeof callPeople>;
  const tokenFor = async (userId: string) =>
    app.database.handle.db.transaction().execute(async (tx) => {
      const user = await app.services.userRepo.findUser(userId);
      if (!user) throw new Error('no user');
      return app.services.sessions.open(tx, user, {
        deviceName: 'test',
        userAgent: 'vitest',
        ip: '127.0.0.1',
      });
    });

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('ends a connected call between the two at once, with the reason blocked', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const call = await app.services.calls.request(user, streamer);
    await app.services.calls.accept(streamer, call.id);
    expect((await people.connect(call.id, user, streamer)).state).toBe('connected');

    const { accessToken } = await tokenFor(streamer);
    const blocked = await gql(app.url, BLOCK, { id: user, reason: 'HARASSMENT' }, { token: accessToken });
    expect(blocked.data).toEqual({ blockUser: { created: true } });
    const ended = await waitFor('the call to end', async () => {
      const found = await app.services.calls.find(call.id);
      return found?.state === 'ended' && found;
    });
    expect([ended.endReason, ended.endedBy]).toEqual(['blocked', 'system']);
    expect(await people.availability(streamer)).toBe('available');
    // And no new call between them, either way.
    expect(await codeOf(app.services.calls.request(user, streamer))).toBe('FORBIDDEN');
  });

  it('leaves calls with others alone', async () => {
    const [user, streamer, other] = [await people.user(), await people.streamer(), await people.user()];
    const call = await app.services.calls.request(user, streamer);
    await app.services.calls.accept(streamer, call.id);
    await people.connect(call.id, user, streamer);
    await app.services.blocklist.block(streamer, other, 'spam', null);
    await app.services.blocklist.block(other, user, 'spam', null);
    // The consumer has seen both blocks once their events are past its cursor.
    await waitFor('the video consumer', async () => {
      const consumer = (await app.services.eventLog.listConsumers()).find(
        (c) => c.name === 'video_block_terminations',
      );
      return consumer?.lag === 0n;
    });
    expect((await app.services.calls.find(call.id))?.state).toBe('connected');
    await app.services.calls.hangUp(user, call.id);
  });

  it('closes their chat and publishes the pair in blocklist.active_blocks for the gallery', async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const sent = await app.services.chat.send(user, {
      recipientId: streamer,
      body: 'hello',
      clientId: randomUUID(),
    });
    expect((await app.services.chat.conversations(streamer, 20, undefined)).length).toBe(1);

    await app.services.blocklist.block(user, streamer, 'fake_profile', null);
    expect(
      await codeOf(
        app.services.chat.send(streamer, { recipientId: user, body: 'hi', clientId: randomUUID() }),
      ),
    ).toBe('FORBIDDEN');
    expect(await app.services.chat.conversations(streamer, 20, undefined)).toEqual([]);
    expect(await codeOf(app.services.chat.history(streamer, sent.conversationId, 20, undefined))).toBe(
      'NOT_FOUND',
    );
    const view = await app.database.handle.db
      .selectFrom('blocklist.active_blocks')
      .select(['blocker_id', 'blocked_id'])
      .where('blocker_id', '=', user)
      .execute();
    expect(view).toEqual([{ blocker_id: user, blocked_id: streamer }]);

    // Lifting the block opens the conversation again.
    await app.services.blocklist.unblock(user, streamer);
    expect((await app.services.chat.conversations(streamer, 20, undefined)).length).toBe(1);
    const { accessToken } = await tokenFor(user);
    expect(
      errorCodes(await gql(app.url, BLOCK, { id: user, reason: 'SPAM' }, { token: accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
  });
  it("hides each other's presence, in the query and in presenceChanged, from the block on", async () => {
    const [user, streamer, other] = [await people.user(), await people.streamer(), await people.user()];
    const token = async (id: string) => (await tokenFor(id)).accessToken;
    const [userToken, streamerToken, otherToken] = [
      await token(user),
      await token(streamer),
      await token(other),
    ];
    const presenceOf = async (token: string, id: string) =>
      (
        await gql<{ presence: Array<{ online: boolean; lastSeenAt: string | null; availability: string }> }>(
          app.url,
          PRESENCE,
          { ids: [id] },
          { token },
        )
      ).data?.presence[0];
    expect(await presenceOf(userToken, streamer)).toMatchObject({ online: true, availability: 'available' });

    // Watch the streamer, and a probe id that tells when the subscription is live and when a later
    // change has been through (the topic delivers in order).
    const probeId = randomUUID();
    const received: string[] = [];
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${userToken}` });
    client.subscribe(
      {
        query: 'subscription($ids: [ID!]!) { presenceChanged(userIds: $ids) { userId online } }',
        variables: { ids: [streamer, probeId] },
      },
      {
        next: (value) => {
          const change = (value.data as { presenceChanged?: { userId: string } } | undefined)
            ?.presenceChanged;
          if (change) received.push(change.userId);
        },
        error: () => {},
        complete: () => {},
      },
    );
    const probe = {
      userId: probeId,
      online: false,
      onlineSince: null,
      lastSeenAt: null,
      availability: 'away',
    };
    const change = { ...probe, userId: streamer, online: true, onlineSince: new Date().toISOString() };
    await waitFor('the subscription to hear the probe', async () => {
      await app.services.pubsub.publish(PRESENCE_CHANNEL, probe);
      return received.includes(probeId);
    });
    await app.services.pubsub.publish(PRESENCE_CHANNEL, change);
    await waitFor('the unblocked change', () => received.includes(streamer));

    await app.services.blocklist.block(streamer, user, 'harassment', null);
    received.length = 0;
    await app.services.pubsub.publish(PRESENCE_CHANNEL, change);
    await app.services.pubsub.publish(PRESENCE_CHANNEL, probe);
    await waitFor('the probe after the change', () => received.includes(probeId));
    expect(received).toEqual([probeId]);
    await client.dispose();

    // Both ways: neither sees the other online; someone else still does.
    const hidden = { online: false, lastSeenAt: null, availability: 'away' };
    expect(await presenceOf(userToken, streamer)).toMatchObject(hidden);
    expect(await presenceOf(streamerToken, user)).toMatchObject(hidden);
    expect(await presenceOf(otherToken, streamer)).toMatchObject({ online: true, availability: 'available' });
    await app.services.blocklist.unblock(streamer, user);
    expect(await presenceOf(userToken, streamer)).toMatchObject({ online: true });
  });
});
