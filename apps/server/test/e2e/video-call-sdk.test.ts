import {
  AcceptCallDocument,
  CallDocument,
  ConfirmCallMediaDocument,
  createOloClient,
  HangUpCallDocument,
  MarkCallRingingDocument,
  MyCallsDocument,
  MyCallUpdatesDocument,
  type MyCallUpdatesSubscription,
  memoryTokenStore,
  type OloClient,
  OloError,
  RequestCallDocument,
  SendCallSignalDocument,
  SetMyAvailabilityDocument,
} from '@olo/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/balance/balance.accounts.ts';
import type { AuthTokens } from '../../src/domains/user/session.service.ts';
import { VIDEO_TEST_ENV } from '../../src/domains/video/video.test-support.ts';
import { manualClock } from '../../src/platform/clock.ts';
import { startTestApp, type TestApp } from '../app.ts';

type Update = MyCallUpdatesSubscription['myCallUpdates'];

/** Collects a subscription's messages in the background; `next(match)` waits for the first that matches. */
function collect(client: OloClient) {
  const seen: Update[] = [];
  const waiters: Array<{ match: (u: Update) => boolean; resolve: (u: Update) => void }> = [];
  const stream = client.subscribe(MyCallUpdatesDocument);
  const ready = (async () => {
    for await (const message of stream) {
      seen.push(message.myCallUpdates);
      for (const waiter of [...waiters]) {
        if (waiter.match(message.myCallUpdates)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(message.myCallUpdates);
        }
      }
    }
  })();
  return {
    seen,
    next: (match: (u: Update) => boolean) =>
      new Promise<Update>((resolve, reject) => {
        const found = seen.find(match);
        if (found) return resolve(found);
        waiters.push({ match, resolve });
        setTimeout(() => reject(new Error('no matching call update within 10 s')), 10_000).unref();
      }),
    /** Settles once the client's socket is closed (client.close()). */
    done: ready.catch(() => {}),
  };
}

describe('a direct call end to end through the SDK', () => {
  // Injected time: billing checkpoints are run by moving this clock, not by waiting 65 s.
  const clock = manualClock(new Date('2031-10-01T12:00:00Z'));
  let app: TestApp;
  const clients: OloClient[] = [];
  const clientFor = (tokens: AuthTokens) => {
    const client = createOloClient({
      url: `${app.url}/graphql`,
      tokens: memoryTokenStore({
        ...tokens,
        accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString(),
        refreshTokenExpiresAt: tokens.refreshTokenExpiresAt.toISOString(),
      }),
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await app?.close();
  });

  it('rings, accepts, connects, bills 65 s by the direct tariff, hangs up, and the record matches', async () => {
    const userTokens = await app.signIn(['user']);
    const streamerTokens = await app.signIn(['streamer']);
    await app.services.ledger.execute({
      idempotencyKey: `e2e:fund:${userTokens.userId}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -500n },
        { account: accounts.walletPaid(userTokens.userId), amount: 500n },
      ],
    });
    const user = clientFor(userTokens);
    const streamer = clientFor(streamerTokens);
    // Both apps listen for their calls (the streamer's socket also makes them online).
    const streamerUpdates = collect(streamer);
    const userUpdates = collect(user);
    await expect
      .poll(() => app.services.presence.isOnline(streamerTokens.userId), { timeout: 10_000 })
      .toBe(true);
    await streamer.request(SetMyAvailabilityDocument, { availability: 'available' });

    const { requestCall } = await user.request(RequestCallDocument, { calleeId: streamerTokens.userId });
    expect(requestCall).toMatchObject({ state: 'REQUESTED', mySide: 'CALLER', kind: 'DIRECT' });
    const ring = await streamerUpdates.next((u) => u.call?.id === requestCall.id);
    expect(ring.call).toMatchObject({ state: 'REQUESTED', mySide: 'CALLEE', callerId: userTokens.userId });

    await streamer.request(MarkCallRingingDocument, { callId: requestCall.id });
    await userUpdates.next((u) => u.call?.state === 'RINGING');
    const { acceptCall } = await streamer.request(AcceptCallDocument, { callId: requestCall.id });
    expect(acceptCall).toMatchObject({ state: 'CONNECTING', provider: 'local' });
    await userUpdates.next((u) => u.call?.state === 'CONNECTING');

    // Each side gets its own connection; the local provider signals through our own subscription.
    const { call: asUser } = await user.request(CallDocument, { id: requestCall.id });
    expect(asUser?.connection).toMatchObject({ provider: 'local', room: requestCall.id, identity: 'caller' });
    await user.request(SendCallSignalDocument, {
      callId: requestCall.id,
      kind: 'OFFER',
      payload: '{"sdp":"v=0"}',
    });
    const offer = await streamerUpdates.next((u) => u.signal?.kind === 'OFFER');
    expect(offer.signal).toEqual({
      callId: requestCall.id,
      from: 'CALLER',
      kind: 'OFFER',
      payload: '{"sdp":"v=0"}',
    });

    await user.request(ConfirmCallMediaDocument, { callId: requestCall.id });
    const { confirmCallMedia } = await streamer.request(ConfirmCallMediaDocument, { callId: requestCall.id });
    expect(confirmCallMedia.state).toBe('CONNECTED');
    await userUpdates.next((u) => u.call?.state === 'CONNECTED');

    // 65 s of connected time on the server's clock: checkpoints at 0 s and 60 s are charged.
    clock.advance(65_000);
    await app.services.billing.runDue(requestCall.id);
    const { hangUpCall } = await user.request(HangUpCallDocument, { callId: requestCall.id });
    expect(hangUpCall).toMatchObject({
      state: 'ENDED',
      endReason: 'HANGUP',
      endedBy: 'CALLER',
      durationSeconds: 65,
      charged: '120',
      earned: null,
    });
    const ended = await streamerUpdates.next((u) => u.call?.state === 'ENDED');
    expect(ended.call).toMatchObject({ earned: '60', charged: null });

    expect((await app.services.ledger.wallet(userTokens.userId)).total).toBe(380n);
    expect((await app.services.ledger.earnings({ kind: 'user', id: streamerTokens.userId })).pending).toBe(
      60n,
    );
    const { myCalls } = await streamer.request(MyCallsDocument, { first: 10 });
    expect(myCalls.items).toHaveLength(1);
    expect(myCalls.items[0]).toMatchObject({ id: requestCall.id, durationSeconds: 65, earned: '60' });

    // A stranger cannot see or end the call.
    const stranger = clientFor(await app.signIn(['user']));
    const refused = await stranger.request(HangUpCallDocument, { callId: requestCall.id }).catch((e) => e);
    expect(refused).toBeInstanceOf(OloError);
    expect((refused as OloError).code).toBe('NOT_FOUND');
    for (const client of [user, streamer]) await client.close();
    await Promise.all([streamerUpdates.done, userUpdates.done]);
  });
});
