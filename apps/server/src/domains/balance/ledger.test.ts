import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts, type LedgerCommand } from './balance.accounts.ts';

const purchase = (userId: string, coins: bigint, key: string): LedgerCommand => ({
  idempotencyKey: key,
  kind: 'purchase',
  postings: [
    { account: accounts.storeClearing, amount: -coins },
    { account: accounts.walletPaid(userId), amount: coins },
  ],
});

const grantBonus = (userId: string, coins: bigint, key: string): LedgerCommand => ({
  idempotencyKey: key,
  kind: 'bonus_grant',
  postings: [
    { account: accounts.promotions, amount: -coins },
    { account: accounts.walletBonus(userId), amount: coins },
  ],
});

const CLI = path.join(import.meta.dirname, '..', '..', 'cli', 'ledger-check.ts');

describe('ledger', () => {
  let app: TestApp;
  const clock = manualClock(new Date('2026-03-01T12:00:00Z'));
  const newUser = async () => (await app.services.accounts.createOloAccount(['user'])).id;

  beforeAll(async () => {
    app = await startTestApp({ clock });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('credits a purchase, and a replay of the same key returns the first receipt and writes nothing', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    const first = await ledger.execute(purchase(user, 500n, `test:buy:${user}`));
    expect(first.replayed).toBe(false);
    const again = await ledger.execute(purchase(user, 500n, `test:buy:${user}`));
    expect(again).toMatchObject({ replayed: true, transactionId: first.transactionId });
    expect(again.postings).toHaveLength(2);
    expect((await ledger.wallet(user)).paid).toBe(500n);
    expect(await ledger.exportFor(user)).toMatchObject({
      wallet: { paid: '500', bonus: '0' },
      postings: [{ kind: 'purchase', account: 'wallet_paid', amount: '500', balanceAfter: '500' }],
    });
  });

  it('refuses the same key with a different body as CONFLICT', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    await ledger.execute(purchase(user, 100n, `test:conflict:${user}`));
    expect(await codeOf(ledger.execute(purchase(user, 200n, `test:conflict:${user}`)))).toBe('CONFLICT');
    expect((await ledger.wallet(user)).paid).toBe(100n);
  });

  it('refuses postings that do not sum to zero, and empty ones', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    const unbalanced: LedgerCommand = {
      idempotencyKey: `test:unbalanced:${user}`,
      kind: 'adjustment',
      postings: [{ account: accounts.walletPaid(user), amount: 10n }],
    };
    expect(await codeOf(ledger.execute(unbalanced))).toBe('BAD_USER_INPUT');
    expect(await codeOf(ledger.execute({ ...unbalanced, postings: [] }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(ledger.execute({ ...purchase(user, 1n, 'has space') }))).toBe('BAD_USER_INPUT');
    expect((await ledger.wallet(user)).paid).toBe(0n);
  });

  it('spends bonus coins first by default, paid first when configured, and never below zero', async () => {
    const { ledger } = app.services;
    const db = app.database.handle.db;
    const user = await newUser();
    const streamer = await newUser();
    await ledger.execute(purchase(user, 100n, `test:spend:buy:${user}`));
    await ledger.execute(grantBonus(user, 30n, `test:spend:bonus:${user}`));
    const spend = (key: string, amount: bigint): LedgerCommand => ({
      idempotencyKey: key,
      kind: 'gift',
      spend: { userId: user, amount },
      postings: [
        { account: accounts.earningsPending({ kind: 'user', id: streamer }), amount: amount / 2n },
        { account: accounts.platformRevenue, amount: amount - amount / 2n },
      ],
    });
    const first = await ledger.execute(spend(`test:spend:1:${user}`, 40n));
    expect(first.spent).toEqual({ bonus: 30n, paid: 10n });
    const before = await countTransactions(db);
    expect(await codeOf(ledger.execute(spend(`test:spend:2:${user}`, 91n)))).toBe('INSUFFICIENT_FUNDS');
    expect(await countTransactions(db)).toBe(before);
    await ledger.execute(grantBonus(user, 5n, `test:spend:bonus2:${user}`));
    await app.services.settings.set(
      { principal: null, requestId: null },
      'balance.spending_order',
      'paid_first',
      'test: paid coins first',
    );
    try {
      const second = await ledger.execute(spend(`test:spend:3:${user}`, 92n));
      expect(second.spent).toEqual({ paid: 90n, bonus: 2n });
    } finally {
      await app.services.settings.set(
        { principal: null, requestId: null },
        'balance.spending_order',
        'bonus_first',
        'test: back to the default',
      );
    }
    expect(await ledger.wallet(user)).toMatchObject({ paid: 0n, bonus: 3n, total: 3n, inDebt: false });
    expect((await ledger.earnings({ kind: 'user', id: streamer })).pending).toBe(66n);
  });

  it('lets a refund overdraw the paid wallet, which then cannot spend until it is positive', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    await ledger.execute(purchase(user, 100n, `test:debt:buy:${user}`));
    await ledger.execute({
      idempotencyKey: `test:debt:spend:${user}`,
      kind: 'call_charge',
      spend: { userId: user, amount: 80n },
      postings: [{ account: accounts.platformRevenue, amount: 80n }],
    });
    const refund: LedgerCommand = {
      idempotencyKey: `test:debt:refund:${user}`,
      kind: 'purchase_refund',
      postings: [
        { account: accounts.walletPaid(user), amount: -100n },
        { account: accounts.storeClearing, amount: 100n },
      ],
    };
    expect(await codeOf(ledger.execute(refund))).toBe('INSUFFICIENT_FUNDS');
    await ledger.execute({ ...refund, allowOverdraft: true });
    expect(await ledger.wallet(user)).toMatchObject({ paid: -80n, inDebt: true });
    await ledger.execute(grantBonus(user, 50n, `test:debt:bonus:${user}`));
    const spendOne: LedgerCommand = {
      idempotencyKey: `test:debt:spend2:${user}`,
      kind: 'gift',
      spend: { userId: user, amount: 1n },
      postings: [{ account: accounts.platformRevenue, amount: 1n }],
    };
    expect(await codeOf(ledger.execute(spendOne))).toBe('INSUFFICIENT_FUNDS');
    await ledger.execute(purchase(user, 100n, `test:debt:buy2:${user}`));
    expect((await ledger.execute(spendOne)).spent).toEqual({ bonus: 1n, paid: 0n });
  });

  it('lets concurrent spends from one wallet succeed exactly as far as the coins go', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    const streamer = { kind: 'user' as const, id: await newUser() };
    await ledger.execute(purchase(user, 100n, `test:race:buy:${user}`));
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        codeOf(
          ledger.execute({
            idempotencyKey: `test:race:${user}:${i}`,
            kind: 'call_charge',
            spend: { userId: user, amount: 9n },
            postings: [
              { account: accounts.earningsPending(streamer), amount: 4n },
              { account: accounts.platformRevenue, amount: 5n },
            ],
          }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(11);
    expect(outcomes.filter((o) => o === 'INSUFFICIENT_FUNDS')).toHaveLength(13);
    expect(await ledger.wallet(user)).toMatchObject({ paid: 1n, total: 1n });
    expect((await ledger.earnings(streamer)).pending).toBe(44n);
  });

  it('credits one streamer from many payers at once without losing a coin', async () => {
    const { ledger } = app.services;
    const streamer = { kind: 'user' as const, id: await newUser() };
    const payers = await Promise.all(Array.from({ length: 32 }, () => newUser()));
    await Promise.all(payers.map((p) => ledger.execute(purchase(p, 50n, `test:hot:buy:${p}`))));
    const revenueBefore = await ledger.balanceOf(accounts.platformRevenue);
    await Promise.all(
      payers.map((p) =>
        ledger.execute({
          idempotencyKey: `test:hot:gift:${p}`,
          kind: 'gift',
          spend: { userId: p, amount: 50n },
          postings: [
            { account: accounts.earningsPending(streamer), amount: 30n },
            { account: accounts.platformRevenue, amount: 20n },
          ],
        }),
      ),
    );
    expect((await ledger.earnings(streamer)).pending).toBe(32n * 30n);
    expect((await ledger.balanceOf(accounts.platformRevenue)) - revenueBefore).toBe(32n * 20n);
    expect((await ledger.verify()).mismatches).toEqual([]);
  });

  it('lets transactions that post several times run concurrently without deadlocks', async () => {
    const { ledger } = app.services;
    const users = await Promise.all(Array.from({ length: 32 }, () => newUser()));
    // No retries: a deadlock (two shards of one platform account locked in opposite orders) fails here.
    await Promise.all(
      users.map((user) =>
        withTransaction(
          app.database.handle.db,
          async (tx) => {
            for (let i = 0; i < 4; i++) {
              await ledger.post(tx, purchase(user, 10n, `test:multi:${user}:${i}`));
              await ledger.post(tx, grantBonus(user, 1n, `test:multi:bonus:${user}:${i}`));
            }
          },
          { maxAttempts: 1 },
        ),
      ),
    );
    for (const user of users) expect(await ledger.wallet(user)).toMatchObject({ paid: 40n, bonus: 4n });
  });

  it('holds earnings for the configured period, then makes them available', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    const streamer = { kind: 'user' as const, id: await newUser() };
    await ledger.execute(purchase(user, 100n, `test:hold:buy:${user}`));
    await ledger.execute({
      idempotencyKey: `test:hold:gift:${user}`,
      kind: 'gift',
      spend: { userId: user, amount: 100n },
      postings: [
        { account: accounts.earningsPending(streamer), amount: 60n },
        { account: accounts.platformRevenue, amount: 40n },
      ],
    });
    const holdHours = await app.services.settings.get('balance.earnings_hold_hours');
    clock.advance(holdHours * 3_600_000 - 1000);
    await ledger.releaseDueEarnings();
    expect(await ledger.earnings(streamer)).toMatchObject({ pending: 60n, available: 0n });
    clock.advance(1000);
    expect(await ledger.releaseDueEarnings()).toBeGreaterThanOrEqual(1);
    expect(await ledger.earnings(streamer)).toMatchObject({ pending: 0n, available: 60n });
  });

  it('keeps the projection equal to the postings, and refuses to update or delete postings', async () => {
    const report = await app.services.ledger.verify();
    expect(report.mismatches).toEqual([]);
    expect(report.unbalancedTransactions).toEqual([]);
    expect(report.total).toBe(0n);
    await expect(
      sql`update balance.postings set amount = amount + 1`.execute(app.database.handle.db),
    ).rejects.toThrow(/append-only/);
    await expect(sql`delete from balance.transactions`.execute(app.database.handle.db)).rejects.toThrow(
      /append-only/,
    );
  });

  it('finds a projection that drifted from the postings and rebuilds it', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    await ledger.execute(purchase(user, 70n, `test:drift:${user}`));
    await sql`
      update balance.balances set balance = balance + 5
      where account_id = (select id from balance.accounts where owner_id = ${user}::uuid and kind = 'wallet_paid')
    `.execute(app.database.handle.db);
    const drifted = await ledger.verify();
    expect(drifted.mismatches).toHaveLength(1);
    expect(drifted.mismatches[0]).toMatchObject({ balance: 75n, fromPostings: 70n });
    expect(await ledger.rebuildProjection()).toBe(1);
    expect((await ledger.verify()).mismatches).toEqual([]);
    expect((await ledger.wallet(user)).paid).toBe(70n);
  });

  it('has a command that checks the projection (exit 1 on drift) and repairs it', async () => {
    const { ledger } = app.services;
    const user = await newUser();
    await ledger.execute(purchase(user, 40n, `test:cli:${user}`));
    await sql`
      update balance.balances set balance = balance - 3
      where account_id = (select id from balance.accounts where owner_id = ${user}::uuid and kind = 'wallet_paid')
    `.execute(app.database.handle.db);
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, ...args], {
        env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: app.database.url },
      }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    const check = await run();
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/mismatch account .* balance 37 .* postings say 40/);
    const repaired = await run('--repair');
    expect(repaired).toMatchObject({ code: 0 });
    expect(repaired.stdout).toContain('ledger OK');
    expect((await ledger.wallet(user)).paid).toBe(40n);
  });
});

async function countTransactions(db: TestApp['database']['handle']['db']): Promise<bigint> {
  const result = await sql<{ n: bigint }>`select count(*)::bigint as n from balance.transactions`.execute(db);
  return result.rows[0]?.n ?? 0n;
}
