import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerCommand, type LedgerReceipt } from './balance.accounts.ts';

/**
 * Random interleavings of every kind of money movement, run by concurrent workers on a few shared
 * accounts (so they collide), including replays of earlier commands. Whatever the order, the
 * ledger must balance, the projection must equal the postings, no wallet may go below zero except
 * through a refund, and each idempotency key is used once.
 */

type Op =
  | { type: 'purchase'; user: number; coins: number }
  | { type: 'bonus'; user: number; coins: number }
  | { type: 'gift'; user: number; streamer: number; coins: number; share: number }
  | { type: 'checkpoint'; user: number; streamer: number; pay: number; earn: number }
  | { type: 'refund'; purchase: number }
  | { type: 'adjust'; user: number; coins: number }
  | { type: 'payout'; streamer: number; coins: number; outcome: 'settle' | 'return' }
  | { type: 'release' }
  | { type: 'replay'; of: number };

const USERS = 3;
const STREAMERS = 2;

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    type: fc.constant('purchase' as const),
    user: fc.nat(USERS - 1),
    coins: fc.integer({ min: 1, max: 500 }),
  }),
  fc.record({
    type: fc.constant('bonus' as const),
    user: fc.nat(USERS - 1),
    coins: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({
    type: fc.constant('gift' as const),
    user: fc.nat(USERS - 1),
    streamer: fc.nat(STREAMERS - 1),
    coins: fc.integer({ min: 1, max: 300 }),
    share: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({
    type: fc.constant('checkpoint' as const),
    user: fc.nat(USERS - 1),
    streamer: fc.nat(STREAMERS - 1),
    pay: fc.integer({ min: 1, max: 120 }),
    earn: fc.integer({ min: 0, max: 120 }),
  }),
  fc.record({ type: fc.constant('refund' as const), purchase: fc.nat(30) }),
  fc.record({
    type: fc.constant('adjust' as const),
    user: fc.nat(USERS - 1),
    coins: fc.integer({ min: -200, max: 200 }),
  }),
  fc.record({
    type: fc.constant('payout' as const),
    streamer: fc.nat(STREAMERS - 1),
    coins: fc.integer({ min: 1, max: 200 }),
    outcome: fc.constantFrom('settle' as const, 'return' as const),
  }),
  fc.constant({ type: 'release' as const }),
  fc.record({ type: fc.constant('replay' as const), of: fc.nat(40) }),
);

describe('ledger invariants under concurrency (property-based)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
    // Earnings become payable at once, so payouts take part in the interleavings.
    await app.services.settings.set(
      { principal: null, requestId: null },
      'balance.earnings_hold_hours',
      0,
      'test',
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  it('keeps every invariant for random concurrent operations', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArbitrary, { minLength: 10, maxLength: 45 }),
        fc.integer({ min: 2, max: 8 }),
        async (ops, workers) => {
          run++;
          const { ledger } = app.services;
          const users = await Promise.all(
            Array.from(
              { length: USERS },
              async () => (await app.services.accounts.createOloAccount(['user'])).id,
            ),
          );
          const streamers = await Promise.all(
            Array.from(
              { length: STREAMERS },
              async () => (await app.services.accounts.createOloAccount(['user', 'streamer'])).id,
            ),
          );
          const prefix = `prop:${run}:${users[0]}`;
          const at = <T>(list: T[], i: number) => list[i % list.length] as T;
          const commands: Array<LedgerCommand[]> = ops.map((op, i) => commandsFor(op, i));
          const refunded = new Set<string>();
          const receipts: Array<{ key: string; receipt: LedgerReceipt }> = [];
          const failures: string[] = [];

          function commandsFor(op: Op, i: number): LedgerCommand[] {
            const key = `${prefix}:${i}`;
            switch (op.type) {
              case 'purchase':
                return [
                  {
                    idempotencyKey: key,
                    kind: 'purchase',
                    postings: [
                      { account: accounts.storeClearing, amount: -BigInt(op.coins) },
                      { account: accounts.walletPaid(at(users, op.user)), amount: BigInt(op.coins) },
                    ],
                    metadata: { user: op.user },
                  },
                ];
              case 'bonus':
                return [
                  {
                    idempotencyKey: key,
                    kind: 'bonus_grant',
                    postings: [
                      { account: accounts.promotions, amount: -BigInt(op.coins) },
                      { account: accounts.walletBonus(at(users, op.user)), amount: BigInt(op.coins) },
                    ],
                  },
                ];
              case 'gift': {
                const earned = (BigInt(op.coins) * BigInt(op.share)) / 100n;
                return [
                  {
                    idempotencyKey: key,
                    kind: 'gift',
                    spend: { userId: at(users, op.user), amount: BigInt(op.coins) },
                    postings: [
                      {
                        account: accounts.earningsPending({ kind: 'user', id: at(streamers, op.streamer) }),
                        amount: earned,
                      },
                      { account: accounts.platformRevenue, amount: BigInt(op.coins) - earned },
                    ],
                  },
                ];
              }
              case 'checkpoint':
                return [
                  {
                    idempotencyKey: key,
                    kind: 'call_charge',
                    spend: { userId: at(users, op.user), amount: BigInt(op.pay) },
                    postings: [
                      {
                        account: accounts.earningsPending({ kind: 'user', id: at(streamers, op.streamer) }),
                        amount: BigInt(op.earn),
                      },
                      { account: accounts.platformRevenue, amount: BigInt(op.pay - op.earn) },
                    ],
                  },
                ];
              case 'refund': {
                const target = ops[op.purchase % ops.length];
                const targetIndex = op.purchase % ops.length;
                if (target?.type !== 'purchase') return [];
                // The same refund key for the same purchase: two refunds of one purchase collapse to one.
                return [
                  {
                    idempotencyKey: `${prefix}:refund:${targetIndex}`,
                    kind: 'purchase_refund',
                    allowOverdraft: true,
                    postings: [
                      { account: accounts.walletPaid(at(users, target.user)), amount: -BigInt(target.coins) },
                      { account: accounts.storeClearing, amount: BigInt(target.coins) },
                    ],
                  },
                ];
              }
              case 'adjust':
                return op.coins === 0
                  ? []
                  : [
                      {
                        idempotencyKey: key,
                        kind: 'adjustment',
                        postings: [
                          { account: accounts.walletPaid(at(users, op.user)), amount: BigInt(op.coins) },
                          { account: accounts.adjustments, amount: -BigInt(op.coins) },
                        ],
                      },
                    ];
              case 'payout': {
                const owner = { kind: 'user' as const, id: at(streamers, op.streamer) };
                const amount = BigInt(op.coins);
                const hold: LedgerCommand = {
                  idempotencyKey: `${key}:hold`,
                  kind: 'payout_hold',
                  postings: [
                    { account: accounts.earningsAvailable(owner), amount: -amount },
                    { account: accounts.payoutsInFlight, amount },
                  ],
                };
                const end: LedgerCommand =
                  op.outcome === 'settle'
                    ? {
                        idempotencyKey: `${key}:settle`,
                        kind: 'payout_settle',
                        postings: [
                          { account: accounts.payoutsInFlight, amount: -amount },
                          { account: accounts.payoutsSettled, amount },
                        ],
                      }
                    : {
                        idempotencyKey: `${key}:return`,
                        kind: 'payout_return',
                        postings: [
                          { account: accounts.payoutsInFlight, amount: -amount },
                          { account: accounts.earningsAvailable(owner), amount },
                        ],
                      };
                return [hold, end];
              }
              case 'release':
              case 'replay':
                return [];
            }
          }

          const runOne = async (i: number) => {
            const op = ops[i] as Op;
            if (op.type === 'release') {
              await ledger.releaseDueEarnings(20);
              return;
            }
            const sequence =
              op.type === 'replay' ? (commands[op.of % ops.length] ?? []) : (commands[i] ?? []);
            for (const command of sequence) {
              try {
                const receipt = await ledger.execute(command);
                receipts.push({ key: command.idempotencyKey, receipt });
                if (command.kind === 'purchase_refund' && !receipt.replayed)
                  refunded.add(
                    command.postings[0]?.account.owner.kind === 'user'
                      ? (command.postings[0].account.owner as { id: string }).id
                      : '',
                  );
              } catch (error) {
                if (error instanceof AppError && error.code === 'INSUFFICIENT_FUNDS') return; // a payout not held is not settled
                failures.push(error instanceof Error ? error.message : String(error));
                return;
              }
            }
          };
          let next = 0;
          await Promise.all(
            Array.from({ length: workers }, async () => {
              while (next < ops.length) await runOne(next++);
            }),
          );
          expect(failures).toEqual([]);

          // 1. The ledger balances and the projection equals the postings.
          const report = await ledger.verify();
          expect(report.mismatches).toEqual([]);
          expect(report.unbalancedTransactions).toEqual([]);
          expect(report.total).toBe(0n);

          // 2. Each key was written once; every receipt for a key names the same transaction.
          const byKey = new Map<string, Set<string>>();
          for (const { key, receipt } of receipts)
            byKey.set(key, (byKey.get(key) ?? new Set()).add(receipt.transactionId));
          for (const ids of byKey.values()) expect(ids.size).toBe(1);
          const stored = await sql<{ key: string; n: bigint }>`
          select idempotency_key as key, count(*)::bigint as n from balance.transactions
          where idempotency_key like ${`${prefix}:%`} group by idempotency_key
        `.execute(app.database.handle.db);
          expect(stored.rows.every((r) => r.n === 1n)).toBe(true);
          expect(new Set(stored.rows.map((r) => r.key))).toEqual(new Set(byKey.keys()));

          // 3. What the callers were told explains every balance exactly (nothing lost or counted twice).
          const firstReceipts = [
            ...new Map(receipts.filter((r) => !r.receipt.replayed).map((r) => [r.key, r.receipt])).values(),
          ];
          for (const userId of [...users, ...streamers]) {
            const told = new Map<string, bigint>();
            for (const receipt of firstReceipts) {
              for (const p of receipt.postings)
                if (p.ownerId === userId) told.set(p.kind, (told.get(p.kind) ?? 0n) + p.amount);
            }
            const wallet = await ledger.wallet(userId);
            const earnings = await ledger.earnings({ kind: 'user', id: userId });
            expect(wallet.paid).toBe(told.get('wallet_paid') ?? 0n);
            expect(wallet.bonus).toBe(told.get('wallet_bonus') ?? 0n);
            // Releases move earnings from pending to available on their own schedule: compare the sum.
            expect(earnings.pending + earnings.available).toBe(
              (told.get('earnings_pending') ?? 0n) + (told.get('earnings_available') ?? 0n),
            );
            // 4. Never below zero, except a paid wallet through a refund.
            expect(wallet.bonus >= 0n).toBe(true);
            expect(earnings.pending >= 0n && earnings.available >= 0n).toBe(true);
            if (!refunded.has(userId)) expect(wallet.paid >= 0n).toBe(true);
          }
        },
      ),
      { numRuns: 25 },
    );
    // Each run is a few hundred ledger transactions; shrinking a failure takes longer still.
  }, 180_000);
});
