import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { EventInput } from '../event_log/event-catalogue.ts';
import { buyCoins } from '../mission_control/money-report.testing.ts';
import { onboardingCompleted } from '../profile/profile.events.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { userDeleted } from '../user/user.events.ts';
import { callEnded } from '../video/call.events.ts';
import type { EndReason } from '../video/call-state.ts';
import { CHAT_CONSUMERS } from './chat.consumers.ts';
import { AUTO_ADD_OFF, chatClient } from './chat.test-support.ts';

const UPDATE_PROFILE =
  'mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) { onboarding { completed } } }';

describe('chat records, auto-add, blocks and deletion', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let chat: ReturnType<typeof chatClient>;

  const emit = (...events: EventInput[]) =>
    withTransaction(app.database.handle.db, async (tx) => {
      for (const event of events) await app.services.eventLog.emit(tx, event);
    });
  const ended = (
    user: AuthTokens,
    streamer: AuthTokens,
    call: {
      kind: 'direct' | 'roulette' | 'prerecorded';
      callId?: string;
      reason?: EndReason;
      connected?: boolean;
    },
  ) =>
    callEnded.event({
      callId: call.callId ?? randomUUID(),
      kind: call.kind,
      callerId: user.userId,
      calleeId: streamer.userId,
      payerId: user.userId,
      earnerId: streamer.userId,
      provider: 'local',
      callerName: 'Ada',
      reason: call.reason ?? 'hangup',
      endedBy: 'caller',
      answered: call.connected ?? true,
      connected: call.connected ?? true,
      durationSeconds: call.connected === false ? 0 : 125,
      charged: '10',
      earned: '5',
    });

  beforeAll(async () => {
    app = await startTestApp();
    chat = chatClient(app);
    admin = await app.signIn(['user', 'admin']);
    await chat.setSetting(admin, 'chat.auto_add', AUTO_ADD_OFF);
  });
  afterAll(async () => {
    await chat?.close();
    await app?.close();
  });

  it('records gifts and direct/roulette calls once per source event, live, not prerecorded ones', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const [userLive, streamerLive] = [await chat.subscribe(user), await chat.subscribe(streamer)];
    const gift = await gql<{ createGift: { id: string } }>(
      app.url,
      'mutation($input: GiftCreateInput!) { createGift(input: $input) { id } }',
      {
        input: {
          name: `Rose ${randomUUID().slice(0, 8)}`,
          imageUrl: 'https://cdn.example/rose.png',
          price: 10,
          shareBps: 5000,
        },
      },
      { token: admin.accessToken },
    );
    await buyCoins(app, user.userId, 100n);
    const sentGift = await gql<{ sendGift: { id: string } }>(
      app.url,
      `mutation($giftId: ID!, $streamerId: ID!, $clientId: String!) {
        sendGift(giftId: $giftId, streamerId: $streamerId, clientId: $clientId, context: CHAT) { id }
      }`,
      { giftId: gift.data?.createGift.id, streamerId: streamer.userId, clientId: randomUUID() },
      { token: user.accessToken },
    );
    expect(sentGift.errors).toBeUndefined();
    const direct = ended(user, streamer, { kind: 'direct' });
    await emit(
      direct,
      ended(user, streamer, { kind: 'roulette' }),
      ended(user, streamer, { kind: 'prerecorded' }),
      ended(user, streamer, { kind: 'direct', reason: 'missed', connected: false }),
      // The same call ending delivered twice records it once.
      direct,
    );
    await chat.consumed(CHAT_CONSUMERS.records);
    const [conversation] = (await chat.conversations(user)).items;
    const items = await chat.allMessages(user, conversation?.id as string);
    expect(items.map((m) => [m.kind, m.systemType, m.body])).toEqual([
      ['SYSTEM', 'CALL', 'Missed video call'],
      ['SYSTEM', 'CALL', 'Roulette call · 2:05'],
      ['SYSTEM', 'CALL', 'Video call · 2:05'],
      ['SYSTEM', 'GIFT', 'Sent a gift'],
    ]);
    expect(items[2]?.data).toMatchObject({
      callKind: 'direct',
      durationSeconds: 125,
      reason: 'hangup',
      connected: true,
    });
    expect(items[3]?.data).toMatchObject({ sentId: sentGift.data?.sendGift.id, coins: 10, context: 'chat' });
    expect(items.every((m) => m.senderId === user.userId && m.recipientId === streamer.userId)).toBe(true);
    expect(await chat.unread(streamer)).toBe(4);
    expect(await chat.unread(user)).toBe(0);

    // Both sides hear of each record once it is committed.
    await chat.consumed(CHAT_CONSUMERS.fanout);
    for (const live of [userLive, streamerLive]) {
      await waitFor('the records to arrive live', () => live.received.length >= 4);
      expect(live.received.map((u) => u.message?.id).sort()).toEqual(items.map((m) => m.id).sort());
    }
  });

  it('auto-add greets a new user from streamers chosen by the rule, exactly once', async () => {
    const speakers = await Promise.all([1, 2].map(() => app.signIn(['user', 'streamer'])));
    const other = await app.signIn(['user', 'streamer']);
    const languages = async (who: AuthTokens, list: string[]) => {
      const response = await gql(
        app.url,
        UPDATE_PROFILE,
        { input: { languages: list } },
        { token: who.accessToken },
      );
      expect(response.errors).toBeUndefined();
    };
    // Only these two match the user's language; the third speaks another one.
    for (const s of speakers) await languages(s, ['eo']);
    await languages(other, ['ia']);
    await chat.setSetting(admin, 'chat.auto_add', {
      enabled: true,
      count: 3,
      rule: { online: 'first', language: 'match' },
      greeting: 'Saluton!',
    });
    try {
      const user = await app.signIn(['user']);
      const onboarded = await gql(
        app.url,
        UPDATE_PROFILE,
        {
          input: {
            displayName: 'Ada',
            birthDate: '1990-06-15',
            gender: 'female',
            country: 'DE',
            languages: ['eo'],
          },
        },
        { token: user.accessToken },
      );
      expect(onboarded.data).toEqual({ updateMyProfile: { onboarding: { completed: true } } });
      await chat.consumed(CHAT_CONSUMERS.autoAdd);
      const greeted = async () => (await chat.conversations(user)).items;
      expect((await greeted()).map((c) => c.peerId).sort()).toEqual(speakers.map((s) => s.userId).sort());

      // The event delivered again (twice, concurrently) adds nothing.
      const replay = onboardingCompleted.event(
        { userId: user.userId, country: 'DE' },
        { userId: user.userId },
      );
      await Promise.all([1, 2].map(() => emit(replay)));
      await chat.consumed(CHAT_CONSUMERS.autoAdd);
      const after = await greeted();
      expect(after.length).toBe(2);
      for (const c of after) {
        const items = await chat.allMessages(user, c.id);
        expect(items.map((m) => [m.kind, m.systemType, m.body, m.senderId])).toEqual([
          ['SYSTEM', 'GREETING', 'Saluton!', c.peerId],
        ]);
      }
      expect(await chat.unread(user)).toBe(2);
      // The greeted user answers in the same conversation.
      const answer = await chat.sent(user, after[0]?.peerId as string, 'Saluton!');
      expect(answer.conversationId).toBe(after[0]?.id);
      // A streamer finishing onboarding is not greeted.
      const newStreamer = await app.signIn(['user', 'streamer']);
      await gql(
        app.url,
        UPDATE_PROFILE,
        {
          input: {
            displayName: 'Bo',
            birthDate: '1990-06-15',
            gender: 'male',
            country: 'DE',
            languages: ['eo'],
          },
        },
        { token: newStreamer.accessToken },
      );
      await chat.consumed(CHAT_CONSUMERS.autoAdd);
      expect((await chat.conversations(newStreamer)).items).toEqual([]);
    } finally {
      await chat.setSetting(admin, 'chat.auto_add', AUTO_ADD_OFF);
    }
  });

  it('auto-add with online: only picks online streamers; matching languages needs the user to list one', async () => {
    const onboard = async () => {
      const user = await app.signIn(['user']);
      await gql(
        app.url,
        UPDATE_PROFILE,
        { input: { displayName: 'Cy', birthDate: '1991-02-03', gender: 'male', country: 'FR' } },
        { token: user.accessToken },
      );
      await chat.consumed(CHAT_CONSUMERS.autoAdd);
      return (await chat.conversations(user)).items.map((c) => c.peerId);
    };
    await chat.setSetting(admin, 'chat.auto_add', {
      enabled: true,
      count: 2,
      rule: { online: 'only', language: 'any' },
      greeting: 'Hi!',
    });
    try {
      const online = await app.signIn(['user', 'streamer']);
      await chat.subscribe(online);
      await waitFor('the streamer to be online', () => app.services.presence.isOnline(online.userId));
      const peers = await onboard();
      expect(peers).toContain(online.userId);
      for (const peer of peers) expect(await app.services.presence.isOnline(peer)).toBe(true);

      await chat.setSetting(admin, 'chat.auto_add', {
        enabled: true,
        count: 2,
        rule: { online: 'only', language: 'match' },
        greeting: 'Hi!',
      });
      // Nobody online speaks a language of a user who listed none.
      expect(await onboard()).toEqual([]);
    } finally {
      await chat.setSetting(admin, 'chat.auto_add', AUTO_ADD_OFF);
    }
  });

  it('hides a blocked pair: no sends, no list entry, no history, no unread, no live records', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const message = await chat.sent(streamer, user.userId, 'before the block');
    expect(await chat.unread(user)).toBe(1);
    const userLive = await chat.subscribe(user);
    await chat.block(user.userId, streamer.userId);

    const refused = await chat.send(streamer, user.userId, 'after');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'BLOCKED' });
    expect(errorCodes(await chat.send(user, streamer.userId, 'after'))).toEqual(['FORBIDDEN']);
    expect((await chat.conversations(user)).items).toEqual([]);
    expect((await chat.conversations(streamer)).items).toEqual([]);
    expect(errorCodes(await chat.history(user, message.conversationId))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await chat.markRead(user, message.conversationId, message.id))).toEqual(['NOT_FOUND']);
    expect(await chat.unread(user)).toBe(0);
    // A record made meanwhile (the call the block ended) is stored but not delivered.
    await emit(ended(user, streamer, { kind: 'direct', reason: 'blocked', connected: false }));
    await chat.consumed(CHAT_CONSUMERS.records);
    await chat.consumed(CHAT_CONSUMERS.fanout);
    expect(userLive.received.filter((u) => u.type === 'MESSAGE')).toEqual([]);

    // Unblocked, the conversation comes back with everything in it.
    await chat.unblock(user.userId, streamer.userId);
    const items = await chat.allMessages(user, message.conversationId);
    expect(items.map((m) => m.body)).toEqual(['Video call did not connect', 'before the block']);
    expect((await chat.conversations(user)).items.map((c) => c.id)).toEqual([message.conversationId]);
    await chat.sent(user, streamer.userId, 'hello again');
  });

  it('exports an account’s messages and erases its words when the account is deleted', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const mine = await chat.sent(user, streamer.userId, 'my words');
    await chat.sent(streamer, user.userId, 'their words');
    await emit(ended(user, streamer, { kind: 'direct' }));
    await chat.consumed(CHAT_CONSUMERS.records);

    const exported = (await app.services.chat.exportFor(user.userId)) as {
      messages: Array<{
        id: string;
        kind: string;
        systemType: string | null;
        body: string;
        senderId: string;
      }>;
    };
    expect(exported.messages.map((m) => [m.kind, m.systemType, m.body])).toEqual([
      ['system', 'call', 'Video call · 2:05'],
      ['text', null, 'their words'],
      ['text', null, 'my words'],
    ]);
    expect(exported.messages[2]).toMatchObject({ id: mine.id, senderId: user.userId });

    const deleted = await gql(
      app.url,
      'mutation { deleteMyAccount(confirm: "DELETE") }',
      {},
      { token: user.accessToken },
    );
    expect(deleted.errors).toBeUndefined();
    await chat.consumed(CHAT_CONSUMERS.erasure);
    const left = await chat.allMessages(streamer, mine.conversationId);
    expect(left.map((m) => [m.kind, m.body, m.erased])).toEqual([
      ['SYSTEM', 'Video call · 2:05', false],
      ['TEXT', 'their words', false],
      ['TEXT', '', true],
    ]);
    // A deleted account receives nothing more.
    expect(errorCodes(await chat.send(streamer, user.userId, 'still there?'))).toEqual(['NOT_FOUND']);
    // Erasing again (a redelivery) changes nothing.
    await emit(userDeleted.event({ userId: user.userId }, { userId: user.userId }));
    await chat.consumed(CHAT_CONSUMERS.erasure);
    expect(await chat.allMessages(streamer, mine.conversationId)).toEqual(left);
  });
});
