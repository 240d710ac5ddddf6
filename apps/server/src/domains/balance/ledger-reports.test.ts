import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { manualClock } from '../../platform/clock.ts';
import { buyCoins } from '../mission_control/money-report.testing.ts';
import { accounts } from './balance.accounts.ts';

const HOUR = 3_600_000;

describe('ledger reports', () => {
  const clock = manualClock(new Date('2026-05-10T12:00:00Z'));
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ clock });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('counts earnings credited in a window, not their release; sums cells per day and kind', async () => {
    const payer = (await app.signIn(['user'])).userId;
    const streamer = (await app.signIn(['user', 'streamer'])).userId;
    const owner = { kind: 'user' as const, id: streamer };
    await buyCoins(app, payer, 100n);
    const charge = (amount: bigint, earned: bigint) =>
      app.services.ledger.execute({
        idempotencyKey: `test-charge:${randomUUID()}`,
        kind: 'call_charge',
        spend: { userId: payer, amount },
        postings: [
          { account: accounts.earningsPending(owner), amount: earned },
          { account: accounts.platformRevenue, amount: amount - earned },
        ],
      });
    await charge(30n, 12n);
    clock.advance(HOUR);
    await charge(20n, 8n);
    // Past the hold period: the release moves pending to available, which is not new earnings.
    clock.advance(100 * HOUR);
    expect(await app.services.ledger.releaseDueEarnings()).toBe(2);
    expect(await app.services.ledger.earnings(owner)).toMatchObject({ pending: 0n, available: 20n });

    const t0 = new Date('2026-05-10T12:00:00Z');
    const [all, first, second, none] = await app.services.ledgerReports.earnedBetween([
      { owner, from: t0, to: clock.now() },
      { owner, from: t0, to: new Date(t0.getTime() + HOUR) },
      { owner, from: new Date(t0.getTime() + HOUR), to: clock.now() },
      { owner, from: clock.now(), to: t0 },
    ]);
    expect([all, first, second, none]).toEqual([20n, 12n, 8n, 0n]);

    // The release was posted at this very instant: the end of a period is exclusive.
    const end = new Date(clock.now().getTime() + 1);
    const cells = await app.services.ledgerReports.dailyCells(t0, end);
    const cell = (day: string, kind: string, account: string) =>
      cells.find((c) => c.day === day && c.transactionKind === kind && c.accountKind === account);
    expect(cell('2026-05-10', 'purchase', 'wallet_paid')).toMatchObject({ credits: 100n, debits: 0n });
    expect(cell('2026-05-10', 'call_charge', 'wallet_paid')).toMatchObject({ credits: 0n, debits: 50n });
    expect(cell('2026-05-10', 'call_charge', 'platform_revenue')).toMatchObject({ credits: 30n, debits: 0n });
    expect(cell('2026-05-14', 'earnings_release', 'earnings_pending')).toMatchObject({ debits: 20n });
    const counts = await app.services.ledgerReports.dailyCounts(t0, end);
    expect(counts.filter((c) => c.transactionKind === 'call_charge')).toEqual([
      { day: '2026-05-10', transactionKind: 'call_charge', transactions: 2n },
    ]);
  });
});
