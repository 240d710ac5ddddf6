import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { AUTO_ADD_OFF, chatClient, type Msg } from './chat.test-support.ts';

const DEFAULT_RATE = { messages: 20, windowSeconds: 10 };

describe('chat messages', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let chat: ReturnType<typeof chatClient>;

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

  it('keeps one conversation per pair, trims text, replays a clientId and refuses bad input', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const first = await chat.sent(user, streamer.userId, '  hello  ', 'client-0001');
    expect(first).toMatchObject({ body: 'hello', kind: 'TEXT', senderId: user.userId, read: false });
    const reply = await chat.sent(streamer, user.userId, 'hi there');
    expect(reply.conversationId).toBe(first.conversationId);

    const again = await chat.send(user, streamer.userId, 'hello', 'client-0001');
    expect(again.data?.sendChatMessage).toMatchObject({ replayed: true, message: { id: first.id } });
    expect(errorCodes(await chat.send(user, streamer.userId, 'other text', 'client-0001'))).toEqual([
      'CONFLICT',
    ]);
    expect(errorCodes(await chat.send(user, streamer.userId, '   '))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await chat.send(user, streamer.userId, 'x'.repeat(2001)))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await chat.send(user, streamer.userId, 'x', 'short'))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await chat.send(user, user.userId, 'me'))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await chat.send(user, crypto.randomUUID(), 'nobody'))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await chat.send(user, 'not-an-id', 'nobody'))).toEqual(['BAD_USER_INPUT']);
    // Two users (or two streamers) do not chat.
    const other = await app.signIn(['user']);
    const notAPair = await chat.send(user, other.userId, 'hey');
    expect(notAPair.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_A_PAIR' });
    expect(errorCodes(await gql(app.url, 'query { chatUnreadTotal }'))).toEqual(['UNAUTHENTICATED']);

    // None of the refusals stored anything.
    expect((await chat.allMessages(user, first.conversationId)).map((m) => m.body)).toEqual([
      'hi there',
      'hello',
    ]);
    expect((await chat.conversations(user)).items.map((c) => c.peerId)).toEqual([streamer.userId]);
    expect((await chat.conversations(other)).items).toEqual([]);
    expect(await chat.unread(streamer)).toBe(1);
    // A stranger cannot read the conversation.
    expect(errorCodes(await chat.history(other, first.conversationId))).toEqual(['NOT_FOUND']);
  });

  it('takes the longest text chat.max_message_length allows, after trimming', async () => {
    await chat.setSetting(admin, 'chat.max_message_length', 10);
    try {
      const user = await app.signIn(['user']);
      const streamer = await app.signIn(['user', 'streamer']);
      expect((await chat.sent(user, streamer.userId, `  ${'a'.repeat(10)}  `)).body).toBe('a'.repeat(10));
      const tooLong = await chat.send(user, streamer.userId, 'b'.repeat(11));
      expect(tooLong.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'body' });
    } finally {
      await chat.setSetting(admin, 'chat.max_message_length', 2000);
    }
  });

  it('counts unread messages and shows read receipts to the other side, live', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const userLive = await chat.subscribe(user);
    const a = await chat.sent(streamer, user.userId, 'one');
    await chat.sent(streamer, user.userId, 'two');
    const c = await chat.sent(streamer, user.userId, 'three');
    expect(await chat.unread(user)).toBe(3);
    await waitFor('the messages to arrive live', () => userLive.received.length === 3);
    expect(userLive.received.map((u) => [u.type, u.message?.body, u.message?.kind])).toEqual([
      ['MESSAGE', 'one', 'TEXT'],
      ['MESSAGE', 'two', 'TEXT'],
      ['MESSAGE', 'three', 'TEXT'],
    ]);

    const streamerLive = await chat.subscribe(streamer);
    const read = await chat.markRead(user, a.conversationId, a.id);
    expect(read.data?.markChatRead).toEqual({
      conversationId: a.conversationId,
      readUpTo: a.cursor,
      unreadCount: 2,
    });
    await waitFor('the receipt to reach the streamer', () =>
      streamerLive.received.some(
        (u) => u.type === 'READ' && u.readerId === user.userId && u.readUpTo === a.cursor,
      ),
    );
    const [conversation] = (await chat.conversations(streamer)).items;
    expect(conversation).toMatchObject({ peerId: user.userId, peerReadUpTo: a.cursor, unreadCount: 0 });
    expect(conversation?.lastMessage).toMatchObject({ body: 'three', read: false });
    const seen = await chat.allMessages(streamer, a.conversationId);
    expect(seen.map((m) => [m.body, m.read])).toEqual([
      ['three', false],
      ['two', false],
      ['one', true],
    ]);
    // A read mark never moves back; reading the newest clears the count.
    await chat.markRead(user, a.conversationId, c.id);
    const back = await chat.markRead(user, a.conversationId, a.id);
    expect(back.data?.markChatRead).toMatchObject({ readUpTo: c.cursor, unreadCount: 0 });
    expect(await chat.unread(user)).toBe(0);
    expect((await chat.conversations(user)).items[0]).toMatchObject({ unreadCount: 0 });
    expect(userLive.failures).toEqual([]);
    // Someone else's conversation cannot be marked, nor a message of another conversation.
    const stranger = await app.signIn(['user']);
    expect(errorCodes(await chat.markRead(stranger, a.conversationId, a.id))).toEqual(['NOT_FOUND']);
    const elsewhere = await chat.sent(stranger, streamer.userId, 'elsewhere');
    expect(errorCodes(await chat.markRead(user, a.conversationId, elsewhere.id))).toEqual(['NOT_FOUND']);
  });

  it('pages conversations by latest activity and history newest first, without duplicates', async () => {
    const user = await app.signIn(['user']);
    const streamers = await Promise.all([1, 2, 3].map(() => app.signIn(['user', 'streamer'])));
    for (const s of streamers) await chat.sent(user, s.userId, `to ${s.userId}`);
    // The first conversation gets new activity: it comes first now.
    const first = streamers[0] as AuthTokens;
    await chat.sent(first, user.userId, 'latest');
    const page1 = await chat.conversations(user, 2);
    expect(page1.items.map((c) => c.peerId)).toEqual([first.userId, streamers[2]?.userId]);
    expect(page1.items[0]?.lastMessage?.body).toBe('latest');
    const page2 = await chat.conversations(user, 2, page1.nextCursor ?? undefined);
    expect(page2.items.map((c) => c.peerId)).toEqual([streamers[1]?.userId]);
    expect(page2.nextCursor).toBeNull();

    const bodies = ['latest', `to ${first.userId}`];
    for (let i = 0; i < 7; i++) {
      const body = `m${i}`;
      await chat.sent(i % 2 ? first : user, i % 2 ? user.userId : first.userId, body);
      bodies.unshift(body);
    }
    const conversationId = page1.items[0]?.id as string;
    // Any page size walks the whole history once, newest first.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 }), async (size) => {
        const collected: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = (await chat.history(user, conversationId, size, before)).data?.chatMessages;
          if (!page) throw new Error('no page');
          collected.push(...page.items.map((m) => m.body));
          if (!page.nextCursor) break;
          before = page.nextCursor;
        }
        expect(collected).toEqual(bodies);
      }),
      { numRuns: 8 },
    );
    // A message arriving between two pages is not repeated in the older page.
    const newest = (await chat.history(user, conversationId, 3)).data?.chatMessages;
    await chat.sent(first, user.userId, 'while paging');
    const older = (await chat.history(user, conversationId, 3, newest?.nextCursor ?? undefined)).data
      ?.chatMessages;
    expect(older?.items.map((m) => m.body)).toEqual(bodies.slice(3, 6));
    expect(errorCodes(await chat.history(user, conversationId, 3, 'abc'))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await chat.history(user, conversationId, 101))).toEqual(['BAD_USER_INPUT']);
  });

  it('rate-limits each sender with retryAfterSeconds, storing nothing refused', async () => {
    await chat.setSetting(admin, 'chat.rate_limit', { messages: 3, windowSeconds: 60 });
    try {
      const user = await app.signIn(['user']);
      const streamer = await app.signIn(['user', 'streamer']);
      const sent: Msg[] = [];
      for (let i = 0; i < 3; i++) sent.push(await chat.sent(user, streamer.userId, `m${i}`, `rate-000${i}`));
      const refused = await chat.send(user, streamer.userId, 'one too many', 'refused-0001');
      expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
      const retryAfter = refused.errors?.[0]?.extensions?.retryAfterSeconds;
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // A retry of an earlier message is a replay, not a new send: the limit does not refuse it.
      const replay = await chat.send(user, streamer.userId, 'm0', 'rate-0000');
      expect(replay.data?.sendChatMessage).toMatchObject({ replayed: true, message: { id: sent[0]?.id } });
      // Another sender is not affected.
      await chat.sent(streamer, user.userId, 'still fine');
      const stored = await chat.allMessages(user, sent[0]?.conversationId as string);
      expect(stored.map((m) => m.body)).toEqual(['still fine', 'm2', 'm1', 'm0']);
    } finally {
      await chat.setSetting(admin, 'chat.rate_limit', DEFAULT_RATE);
    }
  });

  it('stores parallel sends once each and counts unread exactly', async () => {
    await chat.setSetting(admin, 'chat.rate_limit', { messages: 1000, windowSeconds: 10 });
    try {
      const streamer = await app.signIn(['user', 'streamer']);
      const users = await Promise.all([1, 2, 3, 4].map(() => app.signIn(['user'])));
      // Every user sends 10 messages, each twice in parallel with the same clientId.
      const results = await Promise.all(
        users.flatMap((u) =>
          Array.from({ length: 10 }, (_, i) => `${u.userId.slice(0, 8)}-msg-${i}`).flatMap((clientId) => [
            chat.send(u, streamer.userId, clientId, clientId),
            chat.send(u, streamer.userId, clientId, clientId),
          ]),
        ),
      );
      expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
      const ids = new Set(results.map((r) => r.data?.sendChatMessage.message.id));
      expect(ids.size).toBe(40);
      expect(results.filter((r) => r.data?.sendChatMessage.replayed).length).toBe(40);
      expect(await chat.unread(streamer)).toBe(40);
      const list = await chat.conversations(streamer);
      expect(list.items.length).toBe(4);
      expect(list.items.every((c) => c.unreadCount === 10)).toBe(true);
    } finally {
      await chat.setSetting(admin, 'chat.rate_limit', DEFAULT_RATE);
    }
  });

  it('holds the rate limit exactly under parallel sends', async () => {
    await chat.setSetting(admin, 'chat.rate_limit', { messages: 5, windowSeconds: 60 });
    try {
      const user = await app.signIn(['user']);
      const streamer = await app.signIn(['user', 'streamer']);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => chat.send(user, streamer.userId, `burst ${i}`)),
      );
      expect(results.filter((r) => r.data?.sendChatMessage).length).toBe(5);
      expect(results.flatMap(errorCodes).filter((c) => c === 'RATE_LIMITED').length).toBe(7);
    } finally {
      await chat.setSetting(admin, 'chat.rate_limit', DEFAULT_RATE);
    }
  });

  it('keeps any sequence of read marks monotonic and the unread count consistent (property)', async () => {
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const messages: Msg[] = [];
    for (let i = 0; i < 6; i++) messages.push(await chat.sent(streamer, user.userId, `p${i}`));
    const conversationId = messages[0]?.conversationId as string;
    let highest = -1;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
        async (marks) => {
          for (const index of marks) {
            const response = await chat.markRead(user, conversationId, messages[index]?.id);
            highest = Math.max(highest, index);
            expect(response.data?.markChatRead.unreadCount).toBe(5 - highest);
            expect(await chat.unread(user)).toBe(5 - highest);
          }
        },
      ),
      { numRuns: 10 },
    );
  });
});
