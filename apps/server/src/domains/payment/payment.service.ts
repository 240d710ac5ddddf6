import { sql } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, forbidden } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerPosting, type LedgerReceipt } from '../balance/balance.accounts.ts';
import type { LedgerService } from '../balance/ledger.service.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import { purchaseCompleted, purchaseRefunded } from './payment.events.ts';
import type { PaymentRepository, Purchase } from './payment.repository.ts';
import type { PurchaseState, Store } from './payment.tables.ts';
import type { PaymentReportsRepository, RevenueRow } from './payment-reports.repository.ts';
import type { Product, ProductRepository } from './product.repository.ts';

/** One store transaction as a store reported it, after its signature or token was verified. */
export type StoreTransaction = {
  store: Store;
  /** Apple/sandbox transactionId; Google orderId (purchaseToken when there is none). */
  storeTransactionId: string;
  /** What serialises work on this transaction: Apple transactionId, Google purchaseToken. */
  lockKey: string;
  originalTransactionId: string | null;
  purchaseToken: string | null;
  environment: string | null;
  userId: string;
  sku: string;
  priceAmountMinor: bigint | null;
  currency: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string | null;
  purchasedAt: Date;
  /** Google: pending (not paid yet) and canceled purchases are recorded, never credited. */
  status: 'purchased' | 'pending' | 'canceled';
  /** The store already reports it refunded or revoked (Apple's revocationDate). */
  revoked: 'refunded' | 'revoked' | null;
};

export type CreditOutcome = 'credited' | 'already_recorded' | 'recorded_refunded' | 'pending' | 'failed';

export type RefundOutcome = 'refunded' | 'already_refunded' | 'recorded_early' | 'refunded_uncredited';

const FINAL: readonly PurchaseState[] = ['credited', 'refunded', 'revoked'];

const str = (n: bigint | null) => (n === null ? null : n.toString());

/**
 * The rules every store shares. A store transaction is credited exactly once: all work on it takes a
 * transaction-scoped advisory lock on its id, the purchase row is unique per (store, transaction) and
 * the ledger transaction carries `{store}:{transactionId}` as its idempotency key. A refund takes the
 * paid coins back even when they were spent (the wallet goes into debt) and what is left of the
 * pack's bonus coins (never below zero). A refund that arrives before its purchase is kept; the
 * purchase is then recorded as refunded and credits nothing.
 */
export class PaymentService {
  private readonly deps: {
    db: Db;
    repo: PaymentRepository;
    reports: PaymentReportsRepository;
    products: ProductRepository;
    ledger: LedgerService;
    settings: SettingsService;
    eventLog: EventLog;
    clock: Clock;
  };

  constructor(deps: PaymentService['deps']) {
    this.deps = deps;
  }

  get repo(): PaymentRepository {
    return this.deps.repo;
  }

  async subscriptionsEnabled(): Promise<boolean> {
    return this.deps.settings.get('feature.subscriptions_enabled');
  }

  /** Records and (when paid) credits a verified store transaction. Call inside a transaction. */
  async creditIn(tx: Tx, t: StoreTransaction): Promise<{ purchase: Purchase; outcome: CreditOutcome }> {
    const { repo, clock } = this.deps;
    await repo.lockTransaction(tx, t.store, t.lockKey);
    const existing = await this.find(tx, t.store, t.lockKey);
    if (existing && existing.userId !== t.userId) throw forbidden('This purchase belongs to another account');
    if (existing && (FINAL.includes(existing.state) || t.status !== 'purchased')) {
      return { purchase: existing, outcome: 'already_recorded' };
    }
    const product = await this.deps.products.bySku(t.sku, tx);
    if (!product) throw badInput(`Unknown product ${t.sku}`, { field: 'productId' });
    if (product.type === 'subscription' && !(await this.subscriptionsEnabled())) {
      throw badInput('Subscriptions are not offered', { field: 'productId' });
    }
    const now = clock.now();
    const early = await repo.earlyRefund(tx, t.store, t.lockKey);
    const revoked = t.revoked ?? early?.kind ?? null;
    let price = { amount: t.priceAmountMinor, currency: t.currency };
    if (price.amount === null) {
      const listed = await this.deps.products.priceFor(product.id, t.store, t.country, tx);
      if (listed) price = { amount: listed.amountMinor, currency: listed.currency };
    }
    const state: PurchaseState = revoked
      ? revoked
      : t.status === 'pending'
        ? 'pending'
        : t.status === 'canceled'
          ? 'failed'
          : 'verified';
    const purchase =
      existing ??
      (await repo.insert(
        tx,
        {
          userId: t.userId,
          productId: product.id,
          store: t.store,
          storeTransactionId: t.storeTransactionId,
          originalTransactionId: t.originalTransactionId,
          purchaseToken: t.purchaseToken,
          environment: t.environment,
          state,
          coins: product.coins,
          bonusCoins: product.bonusCoins,
          priceAmountMinor: price.amount,
          currency: price.currency,
          country: t.country,
          failureReason: t.status === 'canceled' ? 'canceled by the store' : null,
          purchasedAt: t.purchasedAt,
          refundedAt: revoked ? now : null,
        },
        now,
      ));
    if (revoked) {
      // Refunded before we credited it (out of order, or the client verified late): no coins at all.
      const recorded = existing
        ? await repo.update(tx, existing.id, { state: revoked, refundedAt: now }, now)
        : purchase;
      return { purchase: recorded, outcome: 'recorded_refunded' };
    }
    if (state === 'pending') return { purchase, outcome: 'pending' };
    if (state === 'failed') return { purchase, outcome: 'failed' };
    return { purchase: await this.credit(tx, purchase, product), outcome: 'credited' };
  }

  private async credit(tx: Tx, purchase: Purchase, product: Product): Promise<Purchase> {
    const { userId, coins, bonusCoins } = purchase;
    const postings: LedgerPosting[] = [
      { account: accounts.storeClearing, amount: -coins },
      { account: accounts.walletPaid(userId), amount: coins },
    ];
    if (bonusCoins > 0n) {
      postings.push(
        { account: accounts.promotions, amount: -bonusCoins },
        { account: accounts.walletBonus(userId), amount: bonusCoins },
      );
    }
    const receipt = await this.deps.ledger.post(tx, {
      idempotencyKey: `${purchase.store}:${purchase.storeTransactionId}`,
      kind: 'purchase',
      postings,
      metadata: { store: purchase.store, storeTransactionId: purchase.storeTransactionId, sku: product.sku },
    });
    const now = this.deps.clock.now();
    const credited = await this.deps.repo.update(
      tx,
      purchase.id,
      { state: 'credited', ledgerTransactionId: receipt.transactionId, creditedAt: now },
      now,
    );
    await this.deps.eventLog.emit(
      tx,
      purchaseCompleted.event(
        {
          purchaseId: credited.id,
          userId,
          store: credited.store,
          productId: product.id,
          sku: product.sku,
          coins: coins.toString(),
          bonusCoins: bonusCoins.toString(),
          priceAmountMinor: str(credited.priceAmountMinor),
          currency: credited.currency,
        },
        { userId },
      ),
    );
    return credited;
  }

  /** Takes a refunded or revoked purchase's coins back, once. Call inside a transaction. */
  async refundIn(
    tx: Tx,
    input: { store: Store; lockKey: string; kind: 'refunded' | 'revoked' },
  ): Promise<{ purchase: Purchase | null; outcome: RefundOutcome }> {
    const { repo, clock } = this.deps;
    await repo.lockTransaction(tx, input.store, input.lockKey);
    const purchase = await this.find(tx, input.store, input.lockKey);
    const now = clock.now();
    if (!purchase) {
      await repo.recordEarlyRefund(tx, input.store, input.lockKey, input.kind, now);
      return { purchase: null, outcome: 'recorded_early' };
    }
    if (purchase.state === 'refunded' || purchase.state === 'revoked') {
      return { purchase, outcome: 'already_refunded' };
    }
    if (purchase.state !== 'credited') {
      const updated = await repo.update(
        tx,
        purchase.id,
        { state: input.kind, refundedAt: now, refundedCoins: 0n, refundedBonusCoins: 0n },
        now,
      );
      return { purchase: updated, outcome: 'refunded_uncredited' };
    }
    const { receipt, bonus } = await this.clawBack(tx, purchase);
    // Coins already spent: the earnings they paid for are taken back while still held.
    const paidAfter = receipt.postings.find((p) => p.kind === 'wallet_paid')?.balanceAfter ?? 0n;
    if (!receipt.replayed && paidAfter < 0n) {
      const debt = -paidAfter < purchase.coins ? -paidAfter : purchase.coins;
      await this.deps.ledger.clawBackHeldEarnings(tx, {
        payerId: purchase.userId,
        debt,
        since: purchase.creditedAt ?? purchase.createdAt,
        refundTransactionId: receipt.transactionId,
      });
    }
    const updated = await repo.update(
      tx,
      purchase.id,
      {
        state: input.kind,
        refundLedgerTransactionId: receipt.transactionId,
        refundedCoins: purchase.coins,
        refundedBonusCoins: bonus,
        refundedAt: now,
      },
      now,
    );
    const product = await this.deps.products.byId(purchase.productId, tx);
    await this.deps.eventLog.emit(
      tx,
      purchaseRefunded.event(
        {
          purchaseId: purchase.id,
          userId: purchase.userId,
          store: purchase.store,
          productId: purchase.productId,
          sku: product?.sku ?? '',
          kind: input.kind,
          coins: purchase.coins.toString(),
          bonusCoins: bonus.toString(),
          priceAmountMinor: str(purchase.priceAmountMinor),
          currency: purchase.currency,
        },
        { userId: purchase.userId },
      ),
    );
    return { purchase: updated, outcome: 'refunded' };
  }

  /**
   * Paid coins come back in full, even into debt (allowOverdraft). Bonus coins of the pack come back
   * only as far as the bonus wallet still holds them: bonus coins were free, so a debt in them would
   * punish the user for a promotion; the ledger never lets the bonus wallet go negative anyway.
   */
  private async clawBack(tx: Tx, purchase: Purchase): Promise<{ receipt: LedgerReceipt; bonus: bigint }> {
    const { ledger } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const wallet = await ledger.wallet(purchase.userId, tx);
      const held = wallet.bonus > 0n ? wallet.bonus : 0n;
      const bonus = purchase.bonusCoins < held ? purchase.bonusCoins : held;
      const postings: LedgerPosting[] = [
        { account: accounts.walletPaid(purchase.userId), amount: -purchase.coins },
        { account: accounts.storeClearing, amount: purchase.coins },
      ];
      if (bonus > 0n) {
        postings.push(
          { account: accounts.walletBonus(purchase.userId), amount: -bonus },
          { account: accounts.promotions, amount: bonus },
        );
      }
      try {
        const receipt = await ledger.post(tx, {
          idempotencyKey: `${purchase.store}-refund:${purchase.storeTransactionId}`,
          kind: 'purchase_refund',
          postings,
          allowOverdraft: true,
          metadata: { store: purchase.store, storeTransactionId: purchase.storeTransactionId },
        });
        return { receipt, bonus };
      } catch (error) {
        // The bonus wallet was spent between our read and the ledger's lock: read it again.
        if (error instanceof AppError && error.code === 'INSUFFICIENT_FUNDS' && attempt < 3) continue;
        throw error;
      }
    }
  }

  /**
   * Records a store notification and applies it in the same transaction, once: a replay (same
   * notification id) changes nothing and answers 'duplicate'. A refusal by our rules (AppError:
   * unknown product, another account's purchase) is rolled back to a savepoint and recorded as the
   * outcome, so the store stops re-sending something that will never succeed; any other error rolls
   * everything back and the store sends it again later.
   */
  async withNotification(
    notification: {
      store: Store;
      notificationId: string;
      type: string;
      subtype: string | null;
      storeTransactionId: string | null;
      payload: Record<string, unknown>;
    },
    apply: (tx: Tx) => Promise<string>,
  ): Promise<string> {
    return withTransaction(this.deps.db, async (tx) => {
      const fresh = await this.deps.repo.recordNotification(tx, {
        ...notification,
        outcome: 'processing',
        at: this.deps.clock.now(),
      });
      if (!fresh) return 'duplicate';
      await sql`savepoint payment_notification`.execute(tx);
      let outcome: string;
      try {
        outcome = await apply(tx);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        await sql`rollback to savepoint payment_notification`.execute(tx);
        outcome = `rejected:${error.code}:${error.message}`.slice(0, 300);
      }
      await this.deps.repo.setNotificationOutcome(
        tx,
        notification.store,
        notification.notificationId,
        outcome,
      );
      return outcome;
    });
  }

  private async find(tx: Tx, store: Store, lockKey: string): Promise<Purchase | undefined> {
    return store === 'google'
      ? this.deps.repo.findByPurchaseToken(tx, lockKey)
      : this.deps.repo.findByStoreTransaction(tx, store, lockKey);
  }

  async purchase(id: string): Promise<Purchase | undefined> {
    return this.deps.repo.byId(id);
  }

  async list(filter: { userId?: string; state?: PurchaseState }, limit: number, before: bigint | undefined) {
    return this.deps.repo.list(filter, limit, before);
  }

  /** The payment part of the account's data export: every purchase, newest first. */
  async exportFor(userId: string): Promise<Array<Record<string, unknown>>> {
    const purchases = await this.deps.repo.list({ userId }, 10_000, undefined);
    return purchases.map((p) => ({
      id: p.id,
      store: p.store,
      storeTransactionId: p.storeTransactionId,
      productId: p.productId,
      state: p.state,
      coins: p.coins.toString(),
      bonusCoins: p.bonusCoins.toString(),
      priceAmountMinor: str(p.priceAmountMinor),
      currency: p.currency,
      purchasedAt: p.purchasedAt.toISOString(),
      creditedAt: p.creditedAt?.toISOString() ?? null,
      refundedAt: p.refundedAt?.toISOString() ?? null,
    }));
  }

  async subscriptionsOf(userId: string) {
    return this.deps.repo.subscriptionsOf(userId);
  }

  /**
   * For reports: per UTC day (`YYYY-MM-DD`), store and currency, purchases credited that day (count,
   * coins incl. bonus, money in minor units) and refunds made that day. `to` is exclusive.
   */
  async dailyRevenue(from: Date, to: Date): Promise<RevenueRow[]> {
    if (!(from < to)) throw badInput('from must be before to', { field: 'from' });
    return this.deps.reports.dailyRevenue(from, to);
  }
}
