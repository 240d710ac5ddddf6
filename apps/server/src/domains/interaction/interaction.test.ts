import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { userBlocked } from '../blocklist/blocklist.events.ts';
import { messageSent } from '../chat/chat.events.ts';
import type { EventInput } from '../event_log/event-catalogue.ts';
import { favoriteAdded } from '../favorites/favorites.events.ts';
import { giftSent } from '../gift/gift.events.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { callEnded } from '../video/call.events.ts';
import { INTERACTION_CONSUMERS } from './interaction.consumers.ts';
import type { InteractionKind } from './interaction.tables.ts';

const VIEW = `mutation($id: ID!) { recordProfileView(userId: $id) }`;
const ADMIN = `query($userId: ID!, $otherId: ID, $kind: InteractionKind) {
  adminInteractions(userId: $userId, otherId: $otherId, kind: $kind) { userId otherId kind count }
}`;

type Row = { userId: string; otherId: string; kind: string; count: number };

const call = (callerId: string, calleeId: string, connected: boolean) =>
  callEnded.event({
    callId: randomUUID(),
    kind: 'direct',
    callerId,
    calleeId,
    payerId: callerId,
    earnerId: calleeId,
    provider: null,
    callerName: 'Caller',
    reason: 'hangup',
    endedBy: 'caller',
    answered: connected,
    connected,
    durationSeconds: connected ? 60 : 0,
    charged: '0',
    earned: '0',
  } as Parameters<typeof callEnded.event>[0]);
const gift = (senderId: string, streamerId: string) =>
  giftSent.event({
    sentId: randomUUID(),
    giftId: randomUUID(),
    senderId,
    streamerId,
    coins: 10,
    earned: 5,
    context: 'chat',
    callId: null,
  });
const favorite = (userId: string, favoriteId: string) => favoriteAdded.event({ userId, favoriteId });
const message = (senderId: string, recipientId: string) =>
  messageSent.event({
    messageId: randomUUID(),
    conversationId: randomUUID(),
    senderId,
    recipientId,
    kind: 'text',
  });

describe('interaction read model', () => {
  const clock = manualClock(new Date());
  let app: TestApp;
  let viewer: AuthTokens;
  let moderator: AuthTokens;

  const emit = (...events: EventInput[]) =>
    withTransaction(app.database.handle.db, async (tx) => {
      for (const event of events) await app.services.eventLog.emit(tx, event);
    });
  const pairs = (userId: string, otherId?: string, kind?: InteractionKind) =>
    app.services.interactions.adminInteractions(userId, otherId ?? null, kind ?? null);
  const countOf = async (userId: string, otherId: string, kind: InteractionKind) =>
    Number((await pairs(userId, otherId, kind)).find((r) => r.userId === userId)?.count ?? 0);
  /** A cursor reset: the consumer is handed every retained event of its type again. */
  const rewind = (consumer: string) =>
    sql`update event_log.consumers set cursor = 0 where name = ${consumer}`.execute(app.database.handle.db);

  beforeAll(async () => {
    app = await startTestApp({ clock });
    viewer = await app.signIn(['user']);
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('counts connected calls for both sides, and not missed ones', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await emit(call(a, b, false), call(a, b, true), call(b, a, true));
    await waitFor('two calls each way', async () => (await countOf(b, a, 'call')) === 2);
    expect(await countOf(a, b, 'call')).toBe(2);
    expect(
      await app.services.interactions.recentPartners(a, new Date(clock.now().getTime() - 60_000)),
    ).toEqual([b]);
    expect([...(await app.services.interactions.seenBy(a, [b, randomUUID()]))]).toEqual([b]);
  });

  it('counts gifts, favourites, blocks and text messages one way', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await emit(
      gift(a, b),
      favorite(a, b),
      message(a, b),
      message(b, a),
      userBlocked.event({ blockId: randomUUID(), blockerId: b, blockedId: a, reason: 'spam', text: null }),
    );
    await waitFor('all five', async () => (await pairs(a)).length === 5);
    const rows = (await pairs(a)).map((r) => `${r.userId === a ? 'a' : 'b'}:${r.kind}:${r.count}`).sort();
    expect(rows).toEqual(['a:favorite:1', 'a:gift:1', 'a:message:1', 'b:block:1', 'b:message:1']);
  });

  it('counts a block made through the blocklist service', async () => {
    const target = await app.signIn(['user']);
    await app.services.blocklist.block(viewer.userId, target.userId, 'harassment', null);
    await waitFor('the block', async () => (await countOf(viewer.userId, target.userId, 'block')) === 1);
    expect(await countOf(target.userId, viewer.userId, 'block')).toBe(0);
  });

  it('counts an event delivered twice once', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await emit(gift(a, b), gift(a, b));
    await waitFor('two gifts', async () => (await countOf(a, b, 'gift')) === 2);
    await rewind(INTERACTION_CONSUMERS.gifts);
    // The marker is handed over after every replayed event: once it counts, the replay is done.
    const marker = randomUUID();
    await emit(gift(marker, b));
    await waitFor('the replay', async () => (await countOf(marker, b, 'gift')) === 1);
    expect(await countOf(a, b, 'gift')).toBe(2);
  });

  it('counters equal the number of distinct events, however often they are delivered', async () => {
    const users: string[] = [randomUUID(), randomUUID(), randomUUID()];
    const expected = new Map<string, number>();
    const make = { call: (x: string, y: string) => call(x, y, true), gift, favorite, message } as const;
    const step = fc.record({
      kind: fc.constantFrom('call', 'gift', 'favorite', 'message'),
      from: fc.integer({ min: 0, max: 2 }),
      to: fc.integer({ min: 0, max: 2 }),
      replay: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        for (const s of steps) {
          if (s.from === s.to) continue;
          const [x, y] = [users[s.from] ?? '', users[s.to] ?? ''];
          await emit(make[s.kind](x, y));
          const key = (u: string, o: string) => `${u}|${o}|${s.kind}`;
          expected.set(key(x, y), (expected.get(key(x, y)) ?? 0) + 1);
          if (s.kind === 'call') expected.set(key(y, x), (expected.get(key(y, x)) ?? 0) + 1);
          if (s.replay) {
            const consumer = {
              call: 'calls',
              gift: 'gifts',
              favorite: 'favorites',
              message: 'messages',
            } as const;
            await rewind(INTERACTION_CONSUMERS[consumer[s.kind]]);
          }
        }
        const total = [...expected.values()].reduce((sum, n) => sum + n, 0);
        const read = async () => {
          const rows = (await Promise.all(users.map((u) => pairs(u))))
            .flat()
            .filter((r) => users.includes(r.userId));
          const unique = new Map(rows.map((r) => [`${r.userId}|${r.otherId}|${r.kind}`, Number(r.count)]));
          return unique;
        };
        // Replays can only add (if counted twice): wait for the expected total, then compare exactly.
        const actual = await waitFor('every event counted', async () => {
          const now = await read();
          const sum = [...now.values()].reduce((s, n) => s + n, 0);
          return sum >= total && now;
        });
        // Let any replay still running finish before comparing (a marker event per consumer).
        const [marker, sink] = [randomUUID(), randomUUID()];
        await emit(
          call(marker, sink, true),
          gift(marker, sink),
          favorite(marker, sink),
          message(marker, sink),
        );
        await waitFor(
          'the markers',
          async () => (await pairs(marker)).filter((r) => r.userId === marker).length === 4,
        );
        expect(Object.fromEntries(await read())).toEqual(Object.fromEntries(expected));
        expect(actual.size).toBe(expected.size);
      }),
      { numRuns: 6 },
    );
  });

  it('records a profile view at most once per 10 minutes per pair', async () => {
    const viewed = await app.signIn(['user', 'streamer']);
    const first = await gql(app.url, VIEW, { id: viewed.userId }, { token: viewer.accessToken });
    expect(first.data).toEqual({ recordProfileView: true });
    await waitFor(
      'the view',
      async () => (await countOf(viewer.userId, viewed.userId, 'profile_view')) === 1,
    );
    const again = await gql(app.url, VIEW, { id: viewed.userId }, { token: viewer.accessToken });
    expect(again.data).toEqual({ recordProfileView: false });
    clock.advance(11 * 60 * 1000);
    expect((await gql(app.url, VIEW, { id: viewed.userId }, { token: viewer.accessToken })).data).toEqual({
      recordProfileView: true,
    });
    const response = await gql<{ adminInteractions: Row[] }>(
      app.url,
      ADMIN,
      { userId: viewed.userId, kind: 'PROFILE_VIEW' },
      { token: moderator.accessToken },
    );
    await waitFor(
      'the second view',
      async () => (await countOf(viewer.userId, viewed.userId, 'profile_view')) === 2,
    );
    expect(response.errors).toBeUndefined();
    expect(
      errorCodes(await gql(app.url, VIEW, { id: viewer.userId }, { token: viewer.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(app.url, VIEW, { id: randomUUID() }, { token: viewer.accessToken }))).toEqual(
      ['NOT_FOUND'],
    );
  });

  it('lets staff, and only staff, query pairs', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await emit(gift(a, b), gift(b, a));
    await waitFor('both gifts', async () => (await pairs(a)).length === 2);
    const response = await gql<{ adminInteractions: Row[] }>(
      app.url,
      ADMIN,
      { userId: a, otherId: b },
      { token: moderator.accessToken },
    );
    expect(
      response.data?.adminInteractions.map((r) => `${r.userId === a}:${r.kind}:${r.count}`).sort(),
    ).toEqual(['false:GIFT:1', 'true:GIFT:1']);
    expect(errorCodes(await gql(app.url, ADMIN, { userId: a }, { token: viewer.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
  });
});
