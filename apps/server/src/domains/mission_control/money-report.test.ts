import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { createProduct } from '../payment/payment.test-support.ts';
import { adminActor, approveKyc, buyCoins, creditAvailable } from './money-report.testing.ts';

const REPORT = `query($from: DateTime!, $to: DateTime!) {
  moneyReport(from: $from, to: $to) {
    day coinsBought bonusCoinsGranted coinsRefunded coinsSpentOnCalls coinsSpentOnGifts platformRevenue
    streamerEarnings agencyEarnings earningsClawedBack payoutsRequested payoutsReturned payoutsPaid
    purchases refunds gifts payoutRequests payoutsPaidCount
    revenue { store currency purchases coins amountMinor refunds refundedCoins refundedAmountMinor }
  }
}`;

const zeroDay = (day: string) => ({
  day,
  coinsBought: '0',
  bonusCoinsGranted: '0',
  coinsRefunded: '0',
  coinsSpentOnCalls: '0',
  coinsSpentOnGifts: '0',
  platformRevenue: '0',
  streamerEarnings: '0',
  agencyEarnings: '0',
  earningsClawedBack: '0',
  payoutsRequested: '0',
  payoutsReturned: '0',
  payoutsPaid: '0',
  purchases: 0,
  refunds: 0,
  gifts: 0,
  payoutRequests: 0,
  payoutsPaidCount: 0,
  revenue: [],
});

describe('money report', () => {
  const clock = manualClock(new Date('2026-03-01T09:00:00Z'));
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ clock, env: { PAYMENTS_SANDBOX: 'true' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sums a known sequence per day, from the ledger', async () => {
    const admin = await app.signIn(['user', 'admin']);
    const actor = adminActor(admin.userId);
    const payer = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    const agency = await app.services.agencies.create(actor, { name: 'Report agency', shareBps: 1000 });
    await app.services.agencies.assignStreamer(actor, agency.id, streamer.userId);
    const gift = await app.services.gifts.create(actor, {
      name: 'Rose',
      imageMediaId: null,
      imageUrl: 'https://cdn.example/rose.png',
      price: 100n,
      shareBps: 7000,
      shareCoins: null,
      available: true,
      sortOrder: 0,
    });

    // Day 1: 1000 coins bought directly plus a sandbox store pack (100 + 20 bonus for 1.99 USD), a gift (100: streamer 63, agency 7, platform 30) and a call charge
    // (50: streamer 18, agency 2, platform 30).
    clock.set(new Date('2026-03-01T10:00:00Z'));
    await buyCoins(app, payer.userId, 1000n);
    const sku = `pack_${randomUUID().slice(0, 8)}`;
    const dayOneAdmin = await app.signIn(['user', 'admin']);
    await createProduct(app, dayOneAdmin.accessToken, { sku, coins: 100, bonusCoins: 20 });
    const buyer = await app.signIn(['user']);
    const bought = await gql(
      app.url,
      'mutation($sku: String!) { sandboxPurchase(productId: $sku) { state } }',
      { sku },
      { token: buyer.accessToken },
    );
    expect(bought.errors).toBeUndefined();
    await app.services.gifts.send(payer.userId, {
      giftId: gift.id,
      streamerId: streamer.userId,
      clientId: randomUUID(),
      context: 'chat',
      callId: null,
    });
    await withTransaction(app.database.handle.db, async (tx) => {
      const split = await app.services.earningsSplit(tx, streamer.userId, 20n);
      await app.services.ledger.post(tx, {
        idempotencyKey: `test-call:${randomUUID()}`,
        kind: 'call_charge',
        spend: { userId: payer.userId, amount: 50n },
        postings: [...split, { account: accounts.platformRevenue, amount: 30n }],
      });
    });

    // Day 2: a refund of 200 paid coins; a payout of 2000 requested and paid, one of 1500 rejected.
    clock.set(new Date('2026-03-02T23:59:00Z'));
    await app.services.ledger.execute({
      idempotencyKey: `test-refund:${randomUUID()}`,
      kind: 'purchase_refund',
      allowOverdraft: true,
      postings: [
        { account: accounts.walletPaid(payer.userId), amount: -200n },
        { account: accounts.storeClearing, amount: 200n },
      ],
    });
    await approveKyc(app, streamer.userId);
    await creditAvailable(app, { kind: 'user', id: streamer.userId }, 5000n);
    const paid = await app.services.payouts.requestForStreamer(streamer.userId, 2000n);
    await app.services.payouts.approve(actor, paid.id);
    await app.services.payouts.markPaid(actor, paid.id, 'SEPA-42');
    const rejected = await app.services.payouts.requestForStreamer(streamer.userId, 1500n);
    await app.services.payouts.reject(actor, rejected.id, 'Wrong account');

    // Signed in now: the clock moved past the first token's lifetime.
    const viewer = await app.signIn(['user', 'admin']);
    const response = await gql<{ moneyReport: unknown[] }>(
      app.url,
      REPORT,
      { from: '2026-03-01T00:00:00Z', to: '2026-03-04T00:00:00Z' },
      { token: viewer.accessToken },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.moneyReport).toEqual([
      {
        ...zeroDay('2026-03-01'),
        coinsBought: '1100',
        bonusCoinsGranted: '20',
        coinsSpentOnCalls: '50',
        coinsSpentOnGifts: '100',
        platformRevenue: '60',
        streamerEarnings: '81',
        agencyEarnings: '9',
        purchases: 2,
        gifts: 1,
        revenue: [
          {
            store: 'sandbox',
            currency: 'USD',
            purchases: 1,
            coins: '120',
            amountMinor: '199',
            refunds: 0,
            refundedCoins: '0',
            refundedAmountMinor: '0',
          },
        ],
      },
      {
        ...zeroDay('2026-03-02'),
        coinsRefunded: '200',
        payoutsRequested: '3500',
        payoutsReturned: '1500',
        payoutsPaid: '2000',
        refunds: 1,
        payoutRequests: 2,
        payoutsPaidCount: 1,
      },
      zeroDay('2026-03-03'),
    ]);

    // The second day alone, and the windows of the agency report, agree with the same postings.
    const second = await app.services.moneyReport.daily(
      new Date('2026-03-02T00:00:00Z'),
      new Date('2026-03-03T00:00:00Z'),
    );
    expect(second.map((d) => d.day)).toEqual(['2026-03-02']);
    expect(
      await app.services.ledgerReports.earnedBetween([
        {
          owner: { kind: 'user', id: streamer.userId },
          from: new Date('2026-03-01T00:00:00Z'),
          to: new Date('2026-03-02T00:00:00Z'),
        },
        {
          owner: { kind: 'agency', id: agency.id },
          from: new Date('2026-03-01T00:00:00Z'),
          to: new Date('2026-03-02T00:00:00Z'),
        },
        {
          owner: { kind: 'user', id: streamer.userId },
          from: new Date('2026-03-02T00:00:00Z'),
          to: new Date('2026-03-03T00:00:00Z'),
        },
      ]),
    ).toEqual([81n, 9n, 0n]);
  });

  it('is for admins, over a valid period', async () => {
    const moderator = await app.signIn(['user', 'moderator']);
    const period = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };
    expect(errorCodes(await gql(app.url, REPORT, period, { token: moderator.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
    const admin = await app.signIn(['user', 'admin']);
    const backwards = { from: period.to, to: period.from };
    expect(errorCodes(await gql(app.url, REPORT, backwards, { token: admin.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    const tooLong = { from: '2025-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' };
    expect(errorCodes(await gql(app.url, REPORT, tooLong, { token: admin.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});
