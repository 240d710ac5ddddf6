import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { PurchaseState, Store, SubscriptionStatus } from './payment.tables.ts';

type Executor = Db | Tx;

export type Purchase = {
  id: string;
  seq: bigint;
  userId: string;
  productId: string;
  store: Store;
  storeTransactionId: string;
  originalTransactionId: string | null;
  purchaseToken: string | null;
  environment: string | null;
  state: PurchaseState;
  coins: bigint;
  bonusCoins: bigint;
  priceAmountMinor: bigint | null;
  currency: string | null;
  country: string | null;
  ledgerTransactionId: string | null;
  refundLedgerTransactionId: string | null;
  refundedCoins: bigint | null;
  refundedBonusCoins: bigint | null;
  failureReason: string | null;
  purchasedAt: Date;
  creditedAt: Date | null;
  refundedAt: Date | null;
  consumedAt: Date | null;
  createdAt: Date;
};

export type NewPurchase = Omit<
  Purchase,
  | 'id'
  | 'seq'
  | 'createdAt'
  | 'ledgerTransactionId'
  | 'refundLedgerTransactionId'
  | 'refundedCoins'
  | 'refundedBonusCoins'
  | 'creditedAt'
  | 'refundedAt'
  | 'consumedAt'
> & { refundedAt?: Date | null };

export type PurchaseChange = Partial<
  Pick<
    Purchase,
    | 'state'
    | 'ledgerTransactionId'
    | 'refundLedgerTransactionId'
    | 'refundedCoins'
    | 'refundedBonusCoins'
    | 'failureReason'
    | 'creditedAt'
    | 'refundedAt'
  >
>;

export type Subscription = {
  id: string;
  userId: string;
  productId: string;
  store: Store;
  originalTransactionId: string;
  status: SubscriptionStatus;
  autoRenew: boolean;
  expiresAt: Date | null;
  updatedAt: Date;
};

type PurchaseRow = {
  id: string;
  seq: bigint;
  user_id: string;
  product_id: string;
  store: Store;
  store_transaction_id: string;
  original_transaction_id: string | null;
  purchase_token: string | null;
  environment: string | null;
  state: PurchaseState;
  coins: bigint;
  bonus_coins: bigint;
  price_amount_minor: bigint | null;
  currency: string | null;
  country: string | null;
  ledger_transaction_id: string | null;
  refund_ledger_transaction_id: string | null;
  refunded_coins: bigint | null;
  refunded_bonus_coins: bigint | null;
  failure_reason: string | null;
  purchased_at: Date;
  credited_at: Date | null;
  refunded_at: Date | null;
  consumed_at: Date | null;
  created_at: Date;
};

const toPurchase = (r: PurchaseRow): Purchase => ({
  id: r.id,
  seq: r.seq,
  userId: r.user_id,
  productId: r.product_id,
  store: r.store,
  storeTransactionId: r.store_transaction_id,
  originalTransactionId: r.original_transaction_id,
  purchaseToken: r.purchase_token,
  environment: r.environment,
  state: r.state,
  coins: r.coins,
  bonusCoins: r.bonus_coins,
  priceAmountMinor: r.price_amount_minor,
  currency: r.currency,
  country: r.country,
  ledgerTransactionId: r.ledger_transaction_id,
  refundLedgerTransactionId: r.refund_ledger_transaction_id,
  refundedCoins: r.refunded_coins,
  refundedBonusCoins: r.refunded_bonus_coins,
  failureReason: r.failure_reason,
  purchasedAt: r.purchased_at,
  creditedAt: r.credited_at,
  refundedAt: r.refunded_at,
  consumedAt: r.consumed_at,
  createdAt: r.created_at,
});

const snake = (change: PurchaseChange) => ({
  ...(change.state !== undefined ? { state: change.state } : {}),
  ...(change.ledgerTransactionId !== undefined ? { ledger_transaction_id: change.ledgerTransactionId } : {}),
  ...(change.refundLedgerTransactionId !== undefined
    ? { refund_ledger_transaction_id: change.refundLedgerTransactionId }
    : {}),
  ...(change.refundedCoins !== undefined ? { refunded_coins: change.refundedCoins } : {}),
  ...(change.refundedBonusCoins !== undefined ? { refunded_bonus_coins: change.refundedBonusCoins } : {}),
  ...(change.failureReason !== undefined ? { failure_reason: change.failureReason } : {}),
  ...(change.creditedAt !== undefined ? { credited_at: change.creditedAt } : {}),
  ...(change.refundedAt !== undefined ? { refunded_at: change.refundedAt } : {}),
});

/** The only code that reads or writes purchases, notifications, early refunds, subscriptions and the sandbox chain. */
export class PaymentRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Serialises everything about one store transaction (client verify, notifications, refunds) for
   * the rest of the database transaction, whichever arrives first.
   */
  async lockTransaction(tx: Tx, store: Store, key: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`payment:${store}:${key}`}, 0))`.execute(tx);
  }

  async findByStoreTransaction(
    ex: Executor,
    store: Store,
    storeTransactionId: string,
  ): Promise<Purchase | undefined> {
    const row = await ex
      .selectFrom('payment.purchases')
      .selectAll()
      .where('store', '=', store)
      .where('store_transaction_id', '=', storeTransactionId)
      .executeTakeFirst();
    return row && toPurchase(row);
  }

  async findByPurchaseToken(ex: Executor, purchaseToken: string): Promise<Purchase | undefined> {
    const row = await ex
      .selectFrom('payment.purchases')
      .selectAll()
      .where('store', '=', 'google')
      .where('purchase_token', '=', purchaseToken)
      .executeTakeFirst();
    return row && toPurchase(row);
  }

  async byId(id: string): Promise<Purchase | undefined> {
    const row = await this.db
      .selectFrom('payment.purchases')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toPurchase(row);
  }

  async insert(tx: Tx, p: NewPurchase, at: Date): Promise<Purchase> {
    const row = await tx
      .insertInto('payment.purchases')
      .values({
        user_id: p.userId,
        product_id: p.productId,
        store: p.store,
        store_transaction_id: p.storeTransactionId,
        original_transaction_id: p.originalTransactionId,
        purchase_token: p.purchaseToken,
        environment: p.environment,
        state: p.state,
        coins: p.coins,
        bonus_coins: p.bonusCoins,
        price_amount_minor: p.priceAmountMinor,
        currency: p.currency,
        country: p.country,
        failure_reason: p.failureReason,
        purchased_at: p.purchasedAt,
        refunded_at: p.refundedAt ?? null,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPurchase(row);
  }

  async update(tx: Tx, id: string, change: PurchaseChange, at: Date): Promise<Purchase> {
    const row = await tx
      .updateTable('payment.purchases')
      .set({ ...snake(change), updated_at: at })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPurchase(row);
  }

  /** Claims the right to consume a Google purchase: only one caller gets true. */
  async claimConsumption(id: string, at: Date): Promise<boolean> {
    const row = await this.db
      .updateTable('payment.purchases')
      .set({ consumed_at: at })
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async releaseConsumption(id: string): Promise<void> {
    await this.db.updateTable('payment.purchases').set({ consumed_at: null }).where('id', '=', id).execute();
  }

  async list(
    filter: { userId?: string; state?: PurchaseState },
    limit: number,
    before: bigint | undefined,
  ): Promise<Purchase[]> {
    let query = this.db.selectFrom('payment.purchases').selectAll();
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (filter.state) query = query.where('state', '=', filter.state);
    if (before !== undefined) query = query.where('seq', '<', before);
    const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toPurchase);
  }

  /** Records a notification; false when this one was already received (a replay). */
  async recordNotification(
    tx: Tx,
    n: {
      store: Store;
      notificationId: string;
      type: string;
      subtype: string | null;
      storeTransactionId: string | null;
      payload: Record<string, unknown>;
      outcome: string;
      at: Date;
    },
  ): Promise<boolean> {
    const row = await tx
      .insertInto('payment.notifications')
      .values({
        store: n.store,
        notification_id: n.notificationId,
        type: n.type,
        subtype: n.subtype,
        store_transaction_id: n.storeTransactionId,
        payload: JSON.stringify(n.payload),
        outcome: n.outcome,
        received_at: n.at,
      })
      .onConflict((oc) => oc.columns(['store', 'notification_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async setNotificationOutcome(tx: Tx, store: Store, notificationId: string, outcome: string): Promise<void> {
    await tx
      .updateTable('payment.notifications')
      .set({ outcome })
      .where('store', '=', store)
      .where('notification_id', '=', notificationId)
      .execute();
  }

  async notificationSeen(store: Store, notificationId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('payment.notifications')
      .select('id')
      .where('store', '=', store)
      .where('notification_id', '=', notificationId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async notificationsFor(store: Store, storeTransactionId: string) {
    return this.db
      .selectFrom('payment.notifications')
      .select(['notification_id', 'type', 'subtype', 'outcome', 'received_at'])
      .where('store', '=', store)
      .where('store_transaction_id', '=', storeTransactionId)
      .orderBy('id')
      .execute();
  }

  async recordEarlyRefund(
    tx: Tx,
    store: Store,
    key: string,
    kind: 'refunded' | 'revoked',
    at: Date,
  ): Promise<void> {
    await tx
      .insertInto('payment.early_refunds')
      .values({ store, lookup_key: key, kind, received_at: at })
      .onConflict((oc) => oc.columns(['store', 'lookup_key']).doNothing())
      .execute();
  }

  async earlyRefund(tx: Tx, store: Store, key: string) {
    return tx
      .selectFrom('payment.early_refunds')
      .select(['kind', 'received_at'])
      .where('store', '=', store)
      .where('lookup_key', '=', key)
      .executeTakeFirst();
  }

  /** Inserts or updates a subscription, unless what is stored was signed later than `eventAt`. */
  async upsertSubscription(
    tx: Tx,
    s: Omit<Subscription, 'id' | 'updatedAt' | 'autoRenew'> & { autoRenew?: boolean; eventAt: Date },
    at: Date,
  ): Promise<void> {
    await tx
      .insertInto('payment.subscriptions')
      .values({
        user_id: s.userId,
        product_id: s.productId,
        store: s.store,
        original_transaction_id: s.originalTransactionId,
        status: s.status,
        auto_renew: s.autoRenew ?? true,
        expires_at: s.expiresAt,
        event_at: s.eventAt,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc
          .columns(['store', 'original_transaction_id'])
          .doUpdateSet({
            status: s.status,
            ...(s.autoRenew !== undefined ? { auto_renew: s.autoRenew } : {}),
            ...(s.expiresAt ? { expires_at: s.expiresAt } : {}),
            event_at: s.eventAt,
            updated_at: at,
          })
          .where('payment.subscriptions.event_at', '<=', s.eventAt),
      )
      .execute();
  }

  async subscriptionsOf(userId: string): Promise<Subscription[]> {
    const rows = await this.db
      .selectFrom('payment.subscriptions')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('updated_at', 'desc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      productId: r.product_id,
      store: r.store,
      originalTransactionId: r.original_transaction_id,
      status: r.status,
      autoRenew: r.auto_renew,
      expiresAt: r.expires_at,
      updatedAt: r.updated_at,
    }));
  }
}
