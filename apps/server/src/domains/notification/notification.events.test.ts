import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { kycReviewed } from '../kyc/kyc.events.ts';
import {
  adminActor,
  approveKyc,
  buyCoins,
  creditAvailable,
} from '../mission_control/money-report.testing.ts';
import { createProduct } from '../payment/payment.test-support.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { notificationFor } from './notification.consumers.ts';

/** The smallest MP4 the upload sniffer accepts: an `ftyp` box, then padding (videos are stored as is). */
const tinyMp4 = () =>
  Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isommp41'),
    Buffer.alloc(1000),
  ]);
const png = () =>
  sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 20, g: 90, b: 200 } } })
    .png()
    .toBuffer();

/**
 * Each event comes from the real producing service (a gift sent, a photo moderated, a payout decided,
 * a purchase credited and refunded, a call billed until the coins run out) and reaches the consumer
 * through the event log, as in production.
 */
describe("other domains' events become the right account's notifications", () => {
  // Moved forward by hand for the billing checkpoints; starts at the real time so that store
  // signatures and sessions are valid as they are elsewhere.
  const clock = manualClock(new Date());
  let app: TestApp;
  let admin: AuthTokens;

  const centre = async (userId: string) =>
    (await app.services.notifications.service.list(userId, 100)).items.map((n) => [n.kind, n.title, n.body]);
  /** Waits until the account's centre holds `count` notifications, and returns them oldest first. */
  const received = async (userId: string, count: number) => {
    await waitFor(`${count} notifications`, async () => (await centre(userId)).length >= count);
    return (await centre(userId)).reverse();
  };

  beforeAll(async () => {
    app = await startTestApp({ clock, env: { PAYMENTS_SANDBOX: 'true' } });
    admin = await app.signIn(['user', 'admin']);
    await app.services.jobs.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a gift sent tells the streamer, not the sender', async () => {
    const created = await gql<{ createGift: { id: string } }>(
      app.url,
      'mutation($input: GiftCreateInput!) { createGift(input: $input) { id } }',
      {
        input: {
          name: `Rose ${randomUUID().slice(0, 8)}`,
          imageUrl: 'https://cdn.example/rose.png',
          price: 120,
          shareBps: 5000,
        },
      },
      { token: admin.accessToken },
    );
    const giftId = created.data?.createGift.id;
    if (!giftId) throw new Error(JSON.stringify(created.errors));
    const [sender, streamer] = [await app.signIn(['user']), await app.signIn(['user', 'streamer'])];
    await buyCoins(app, sender.userId, 500n);
    await app.services.gifts.send(sender.userId, {
      giftId,
      streamerId: streamer.userId,
      clientId: randomUUID(),
      context: 'chat',
      callId: null,
    });
    expect(await received(streamer.userId, 1)).toEqual([
      ['gift_received', 'You received a gift', 'A gift worth 120 coins'],
    ]);
    expect(await centre(sender.userId)).toEqual([]);
  });

  it('a moderated photo or video tells its owner the decision', async () => {
    const owner = await app.signIn(['user', 'streamer']);
    const photo = await app.services.media.upload(owner.userId, 'photo', await png());
    const video = await app.services.media.upload(owner.userId, 'video', tinyMp4());
    const moderator = adminActor(admin.userId);
    await app.services.media.moderate(moderator, [photo.id], 'reject', 'Blurry.');
    expect(await received(owner.userId, 1)).toEqual([
      ['photo_moderated', 'Photo rejected', 'Your photo was rejected. Blurry.'],
    ]);
    await app.services.media.moderate(moderator, [video.id], 'approve', null);
    expect((await received(owner.userId, 2))[1]).toEqual([
      'video_moderated',
      'Video approved',
      'Your video was approved.',
    ]);
  });

  it('a payout tells its requester when it is requested, approved and paid', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    await approveKyc(app, streamer.userId);
    await creditAvailable(app, { kind: 'user', id: streamer.userId }, 5000n);
    const payout = await app.services.payouts.requestForStreamer(streamer.userId, 3000n);
    const staff = adminActor(admin.userId);
    await app.services.payouts.approve(staff, payout.id);
    await app.services.payouts.markPaid(staff, payout.id, 'bank-ref-1');
    expect(await received(streamer.userId, 3)).toEqual([
      ['payout_requested', 'Payout requested', 'Your payout of 3000 coins is waiting for review'],
      ['payout_status_changed', 'Payout approved', 'Your payout of 3000 coins is approved'],
      ['payout_status_changed', 'Payout paid', 'Your payout of 3000 coins is paid'],
    ]);
    expect(await centre(admin.userId)).toEqual([]);
  });

  it('a store purchase tells the buyer the coins arrived, and again when the store refunds it', async () => {
    const sku = `pack_${randomUUID().slice(0, 8)}`;
    await createProduct(app, admin.accessToken, { sku, coins: 100, bonusCoins: 20 });
    const buyer = await app.signIn(['user']);
    const bought = await gql<{ sandboxPurchase: { storeTransactionId: string } }>(
      app.url,
      'mutation($sku: String!) { sandboxPurchase(productId: $sku) { storeTransactionId } }',
      { sku },
      { token: buyer.accessToken },
    );
    const transactionId = bought.data?.sandboxPurchase.storeTransactionId;
    if (!transactionId) throw new Error(JSON.stringify(bought.errors));
    expect(await received(buyer.userId, 1)).toEqual([
      ['purchase_completed', 'Coins added', '120 coins were added to your balance'],
    ]);
    const sandbox = app.services.payments.sandbox;
    if (!sandbox) throw new Error('sandbox store disabled');
    await app.services.payments.apple.handleNotification(
      await sandbox.signNotification({
        notificationType: 'REFUND',
        transaction: {
          productId: sku,
          appAccountToken: buyer.userId,
          type: 'Consumable',
          price: 1990,
          currency: 'USD',
          storefront: 'USA',
          transactionId,
          revocationDate: clock.now(),
        },
      }),
    );
    expect((await received(buyer.userId, 2))[1]).toEqual([
      'purchase_refunded',
      'Purchase refunded',
      'The store refunded a purchase: 120 coins were taken back',
    ]);
  });

  it('an identity check reviewed tells the streamer, once per event', async () => {
    const user = await app.signIn(['streamer']);
    const payload = {
      submissionId: '7a1f0e56-2f6c-4e63-9d6f-3b0f8a9e1c22',
      userId: user.userId,
      decision: 'approved' as const,
      reason: null,
    };
    const emitted = await withTransaction(app.database.handle.db, (tx) =>
      app.services.eventLog.emit(tx, kycReviewed.event(payload, { userId: user.userId })),
    );
    expect((await received(user.userId, 1)).map(([kind, title]) => [kind, title])).toEqual([
      ['kyc_reviewed', 'Identity check: approved'],
    ]);
    // The same event again (a redelivery) makes no second notification.
    const again = notificationFor({
      id: emitted.id,
      position: 0n,
      type: 'kyc_reviewed',
      version: 1,
      payload,
      userId: user.userId,
      occurredAt: new Date(),
    });
    if (!again) throw new Error('no mapping');
    await app.services.notifications.service.notifyNow(app.database.handle.db, {
      ...again,
      dedupeKey: `event:${emitted.id}`,
    });
    expect(await centre(user.userId)).toHaveLength(1);
  });

  // Last: it moves the clock through a call.
  it('a call running out of coins warns the payer, then tells them why it ended; the earner hears nothing', async () => {
    const [payer, earner] = [await app.signIn(['user']), await app.signIn(['user', 'streamer'])];
    await buyCoins(app, payer.userId, 200n); // the roulette seed tariff covers 0..120 s, not 180 s
    const callId = randomUUID();
    const t0 = clock.now();
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    await withTransaction(app.database.handle.db, (tx) =>
      app.services.billing.start(tx, {
        callId,
        kind: 'roulette',
        payerId: payer.userId,
        earnerId: earner.userId,
        connectedAt: t0,
      }),
    );
    // Each checkpoint driven through runDue, the job's own path, as the billing tests do.
    for (const second of [20, 60, 120, 150]) {
      clock.set(at(second));
      await app.services.billing.runDue(callId);
    }
    expect(await received(payer.userId, 1)).toEqual([
      ['balance_running_low', 'Balance running low', 'Top up within 30 s or the call ends'],
    ]);
    clock.set(at(180));
    expect((await app.services.billing.runDue(callId))?.status).toBe('cut_off');
    expect((await received(payer.userId, 2))[1]).toEqual([
      'call_cut_off',
      'Call ended',
      'Your coins ran out. Top up to keep talking',
    ]);
    expect(await centre(earner.userId)).toEqual([]);
  });
});
