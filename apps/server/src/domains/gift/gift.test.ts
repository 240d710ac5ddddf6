import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { adminActor, buyCoins } from '../mission_control/money-report.testing.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { callPeople, VIDEO_TEST_ENV } from '../video/video.test-support.ts';
import { streamerShare } from './gift.service.ts';

const CREATE = `mutation($input: GiftCreateInput!) {
  createGift(input: $input) { id name price imageUrl available sortOrder shareBps shareCoins }
}`;
const UPDATE = `mutation($id: ID!, $input: GiftUpdateInput!) { updateGift(id: $id, input: $input) { id available } }`;
const CATALOGUE = `query { giftCatalogue { id name price sortOrder } }`;
const SEND = `mutation($giftId: ID!, $streamerId: ID!, $clientId: String!, $context: GiftContext!, $callId: ID) {
  sendGift(giftId: $giftId, streamerId: $streamerId, clientId: $clientId, context: $context, callId: $callId) {
    id giftId senderId streamerId coins context callId replayed
  }
}`;

type Sent = { id: string; coins: string; replayed: boolean; context: string; callId: string | null };

describe('gifts', () => {
  let app: TestApp;
  let admin: AuthTokens;

  const createGift = async (input: Record<string, unknown>) => {
    const response = await gql<{ createGift: { id: string } }>(
      app.url,
      CREATE,
      {
        input: {
          name: `Gift ${randomUUID().slice(0, 8)}`,
          imageUrl: 'https://cdn.example/rose.png',
          ...input,
        },
      },
      { token: admin.accessToken },
    );
    const id = response.data?.createGift.id;
    if (!id) throw new Error(JSON.stringify(response.errors));
    return id;
  };
  const send = (sender: AuthTokens, vars: Record<string, unknown>) =>
    gql<{ sendGift: Sent }>(app.url, SEND, { context: 'CHAT', ...vars }, { token: sender.accessToken });
  const wallet = (userId: string) => app.services.ledger.wallet(userId);
  const pending = async (owner: { kind: 'user' | 'agency'; id: string }) =>
    (await app.services.ledger.earnings(owner)).pending;
  /** A connected direct call between the two, through the video domain (the local provider's joins). */
  const liveCall = async (userId: string, streamerId: string) => {
    const people = callPeople(app);
    await people.online(userId);
    await people.online(streamerId);
    await app.services.presence.setAvailability(streamerId, 'available');
    const call = await app.services.calls.request(userId, streamerId);
    await app.services.calls.accept(streamerId, call.id);
    const live = await people.connect(call.id, userId, streamerId);
    expect(live.state).toBe('connected');
    return call.id;
  };

  beforeAll(async () => {
    app = await startTestApp({ env: VIDEO_TEST_ENV });
    // Calls schedule their timers and billing as jobs.
    await app.services.jobs.start();
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('computes the streamer share in coins or basis points, rounded down', () => {
    expect(streamerShare({ price: 99n, shareBps: 5000, shareCoins: null })).toBe(49n);
    expect(streamerShare({ price: 100n, shareBps: null, shareCoins: 30n })).toBe(30n);
  });

  it('has a catalogue admins manage (audited), showing available gifts in order', async () => {
    const second = await createGift({ price: 50, shareBps: 5000, sortOrder: 2 });
    const first = await createGift({ price: 10, shareCoins: 4, sortOrder: 1 });
    const hidden = await createGift({ price: 10, shareBps: 0, sortOrder: 0, available: false });
    const catalogue = await gql<{ giftCatalogue: Array<{ id: string }> }>(app.url, CATALOGUE);
    const ids = catalogue.data?.giftCatalogue.map((g) => g.id) ?? [];
    expect(ids.indexOf(first)).toBeLessThan(ids.indexOf(second));
    expect(ids).not.toContain(hidden);
    const share = await gql(app.url, '{ giftCatalogue { shareBps } }');
    expect(errorCodes(share)).toContain('UNAUTHENTICATED');

    const user = await app.signIn(['user']);
    const refused = await gql(
      app.url,
      CREATE,
      { input: { name: 'x', imageUrl: 'https://a.b/c.png', price: 1, shareBps: 1 } },
      { token: user.accessToken },
    );
    expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    const both = await gql(
      app.url,
      CREATE,
      { input: { name: 'x', imageUrl: 'https://a.b/c.png', price: 10, shareBps: 1, shareCoins: 1 } },
      { token: admin.accessToken },
    );
    expect(errorCodes(both)).toEqual(['BAD_USER_INPUT']);
    const tooMuch = await gql(
      app.url,
      CREATE,
      { input: { name: 'x', imageUrl: 'https://a.b/c.png', price: 10, shareCoins: 11 } },
      { token: admin.accessToken },
    );
    expect(errorCodes(tooMuch)).toEqual(['BAD_USER_INPUT']);

    await gql(app.url, UPDATE, { id: second, input: { available: false } }, { token: admin.accessToken });
    const after = await gql<{ giftCatalogue: Array<{ id: string }> }>(app.url, CATALOGUE);
    expect(after.data?.giftCatalogue.map((g) => g.id)).not.toContain(second);
    const audit = await app.services.audit.list({ targetType: 'gift', targetId: second }, 10, undefined);
    expect(audit.map((a) => a.action)).toEqual(['gift.updated', 'gift.created']);
  });

  it('charges the sender, splits with the streamer’s agency and the platform, and tells the streamer', async () => {
    const giftId = await createGift({ price: 100, shareBps: 7000 });
    const streamer = await app.signIn(['user', 'streamer']);
    const agency = await app.services.agencies.create(adminActor(admin.userId), {
      name: `Gift agency ${randomUUID()}`,
      shareBps: 1550,
    });
    await app.services.agencies.assignStreamer(adminActor(admin.userId), agency.id, streamer.userId);
    const sender = await app.signIn(['user']);
    await buyCoins(app, sender.userId, 250n);
    const callId = await liveCall(sender.userId, streamer.userId);
    // The call bills too: the gift's postings are measured from here.
    const [walletBefore, streamerBefore, agencyBefore] = [
      (await wallet(sender.userId)).total,
      await pending({ kind: 'user', id: streamer.userId }),
      await pending({ kind: 'agency', id: agency.id }),
    ];
    const revenueBefore = await app.services.ledger.balanceOf(accounts.platformRevenue);
    const sent = await send(sender, {
      giftId,
      streamerId: streamer.userId,
      clientId: randomUUID(),
      context: 'CALL',
      callId,
    });
    expect(sent.data?.sendGift).toMatchObject({ coins: '100', replayed: false, context: 'CALL', callId });
    expect((await wallet(sender.userId)).total).toBe(walletBefore - 100n);
    // earned 70: agency floor(70 × 15.5%) = 10, streamer 60; platform 30.
    expect(await pending({ kind: 'user', id: streamer.userId })).toBe(streamerBefore + 60n);
    expect(await pending({ kind: 'agency', id: agency.id })).toBe(agencyBefore + 10n);
    expect(await app.services.ledger.balanceOf(accounts.platformRevenue)).toBe(revenueBefore + 30n);
    const event = await waitFor('gift_sent', async () => {
      const page = await app.services.eventLog.listEvents({ type: 'gift_sent', userId: streamer.userId }, 10);
      return page.items[0];
    });
    expect(event.payload).toEqual({
      sentId: sent.data?.sendGift.id,
      giftId,
      senderId: sender.userId,
      streamerId: streamer.userId,
      coins: 100,
      earned: 70,
      context: 'call',
      callId,
    });
  });

  it('is idempotent by client id: a replay charges nothing, a different gift with it is a conflict', async () => {
    const giftId = await createGift({ price: 40, shareCoins: 10 });
    const other = await createGift({ price: 5, shareCoins: 1 });
    const streamer = await app.signIn(['user', 'streamer']);
    const sender = await app.signIn(['user']);
    await buyCoins(app, sender.userId, 100n);
    const clientId = randomUUID();
    const [a, b] = await Promise.all([
      send(sender, { giftId, streamerId: streamer.userId, clientId }),
      send(sender, { giftId, streamerId: streamer.userId, clientId }),
    ]);
    expect([a.data?.sendGift.replayed, b.data?.sendGift.replayed].sort()).toEqual([false, true]);
    expect(a.data?.sendGift.id).toBe(b.data?.sendGift.id);
    const again = await send(sender, { giftId, streamerId: streamer.userId, clientId });
    expect(again.data?.sendGift).toMatchObject({ id: a.data?.sendGift.id, replayed: true });
    expect((await wallet(sender.userId)).total).toBe(60n);
    expect(await pending({ kind: 'user', id: streamer.userId })).toBe(10n);
    expect(errorCodes(await send(sender, { giftId: other, streamerId: streamer.userId, clientId }))).toEqual([
      'CONFLICT',
    ]);
    // The data export of both accounts shows the one gift.
    const exported = await app.services.gifts.exportFor(sender.userId);
    expect(exported).toMatchObject({ sent: [{ id: a.data?.sendGift.id, coins: '40' }], received: [] });
    expect(await app.services.gifts.exportFor(streamer.userId)).toMatchObject({
      sent: [],
      received: [{ giftId }],
    });
    expect((await wallet(sender.userId)).total).toBe(60n);
  });

  it('changes nothing when refused: insufficient funds, yourself, a non-streamer, gifts turned off', async () => {
    const giftId = await createGift({ price: 500, shareBps: 5000 });
    const streamer = await app.signIn(['user', 'streamer']);
    const sender = await app.signIn(['user']);
    await buyCoins(app, sender.userId, 499n);
    const clientId = randomUUID();
    expect(errorCodes(await send(sender, { giftId, streamerId: streamer.userId, clientId }))).toEqual([
      'INSUFFICIENT_FUNDS',
    ]);
    expect((await wallet(sender.userId)).total).toBe(499n);
    expect(await pending({ kind: 'user', id: streamer.userId })).toBe(0n);
    expect(await app.services.gifts.sentBy(sender.userId, 10, undefined)).toEqual([]);
    // The same client id works once the sender can pay.
    await buyCoins(app, sender.userId, 1n);
    expect(
      (await send(sender, { giftId, streamerId: streamer.userId, clientId })).data?.sendGift.replayed,
    ).toBe(false);

    expect(
      errorCodes(await send(streamer, { giftId, streamerId: streamer.userId, clientId: randomUUID() })),
    ).toEqual(['BAD_USER_INPUT']);
    const user = await app.signIn(['user']);
    expect(
      errorCodes(await send(sender, { giftId, streamerId: user.userId, clientId: randomUUID() })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(await send(sender, { giftId, streamerId: randomUUID(), clientId: randomUUID() })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(
        await send(sender, { giftId, streamerId: streamer.userId, clientId: randomUUID(), context: 'CALL' }),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(await send(sender, { giftId, streamerId: streamer.userId, clientId: 'short' })),
    ).toEqual(['BAD_USER_INPUT']);

    const actor = adminActor(admin.userId);
    await app.services.settings.set(actor, 'feature.gifts_enabled', false, 'test: gifts off');
    try {
      expect(
        errorCodes(await send(sender, { giftId, streamerId: streamer.userId, clientId: randomUUID() })),
      ).toEqual(['FORBIDDEN']);
    } finally {
      await app.services.settings.set(actor, 'feature.gifts_enabled', true, 'test: gifts on');
    }
  });
  it('refuses a gift between a blocked pair, either way, and charges nothing; unblocking allows it', async () => {
    const giftId = await createGift({ price: 20, shareBps: 5000 });
    const streamer = await app.signIn(['user', 'streamer']);
    const sender = await app.signIn(['user']);
    await buyCoins(app, sender.userId, 100n);
    const reasonOf = (result: Awaited<ReturnType<typeof send>>) =>
      result.errors?.map((e) => [e.extensions?.code, e.extensions?.reason]);

    await app.services.blocklist.block(streamer.userId, sender.userId, 'spam', null);
    const refused = await send(sender, { giftId, streamerId: streamer.userId, clientId: randomUUID() });
    expect(reasonOf(refused)).toEqual([['FORBIDDEN', 'BLOCKED']]);
    await app.services.blocklist.unblock(streamer.userId, sender.userId);

    await app.services.blocklist.block(sender.userId, streamer.userId, 'other', 'changed my mind');
    expect(
      reasonOf(await send(sender, { giftId, streamerId: streamer.userId, clientId: randomUUID() })),
    ).toEqual([['FORBIDDEN', 'BLOCKED']]);
    expect((await wallet(sender.userId)).total).toBe(100n);
    expect(await app.services.gifts.sentBy(sender.userId, 10, undefined)).toEqual([]);

    await app.services.blocklist.unblock(sender.userId, streamer.userId);
    const sent = await send(sender, { giftId, streamerId: streamer.userId, clientId: randomUUID() });
    expect(sent.errors).toBeUndefined();
    expect((await wallet(sender.userId)).total).toBe(80n);
  });
  it('takes a gift in a call only during a connected call between the two, and charges nothing otherwise', async () => {
    const giftId = await createGift({ price: 10, shareBps: 5000 });
    const streamer = await app.signIn(['user', 'streamer']);
    const sender = await app.signIn(['user']);
    const other = await app.signIn(['user']);
    await buyCoins(app, sender.userId, 500n);
    await buyCoins(app, other.userId, 500n);
    const callId = await liveCall(sender.userId, streamer.userId);
    const inCall = (who: AuthTokens, id: string) =>
      send(who, { giftId, streamerId: streamer.userId, clientId: randomUUID(), context: 'CALL', callId: id });

    const before = (await wallet(other.userId)).total;
    // Someone else's call, and a call that does not exist.
    expect(errorCodes(await inCall(other, callId))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await inCall(sender, randomUUID()))).toEqual(['BAD_USER_INPUT']);
    expect((await wallet(other.userId)).total).toBe(before);

    const first = await inCall(sender, callId);
    expect(first.data?.sendGift).toMatchObject({ context: 'CALL', callId, replayed: false });

    await app.services.calls.hangUp(sender.userId, callId);
    const afterCall = (await wallet(sender.userId)).total;
    expect(errorCodes(await inCall(sender, callId))).toEqual(['BAD_USER_INPUT']);
    expect((await wallet(sender.userId)).total).toBe(afterCall);
    expect(await app.services.gifts.sentBy(other.userId, 10, undefined)).toEqual([]);
  });
});
