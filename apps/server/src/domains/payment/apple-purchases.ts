import type { JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, forbidden } from '../../platform/errors/app-error.ts';
import {
  AppleVerificationError,
  type AppleVerifier,
  type VerifiedNotification,
} from '../../providers/payments/apple-verifier.ts';
import type { Purchase } from './payment.repository.ts';
import type { PaymentService, StoreTransaction } from './payment.service.ts';
import type { SubscriptionStatus } from './payment.tables.ts';
import type { ProductRepository } from './product.repository.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Apple reports `price` in milliunits of the currency; we keep the currency's minor unit. */
export function milliunitsToMinor(price: number, currency: string): bigint {
  const digits =
    new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return BigInt(Math.round((price * 10 ** digits) / 1000));
}

/** Thrown when Apple could not be asked (OCSP): not the client's fault, try again later. */
export class AppleUnavailableError extends Error {
  override name = 'AppleUnavailableError';
}

const CREDITING = new Set(['ONE_TIME_CHARGE', 'SUBSCRIBED', 'DID_RENEW', 'OFFER_REDEEMED']);

/**
 * App Store purchases (and the sandbox store's, which are signed the same way): the client sends the
 * StoreKit 2 signed transaction after a purchase; Apple sends App Store Server Notifications V2.
 * Either may come first, both may repeat: the transaction is credited once (see PaymentService).
 * `appAccountToken` must be the buyer's user id (the app sets it when it starts the purchase): it
 * ties the transaction to the account, so a transaction cannot be claimed by another account.
 */
export class ApplePurchases {
  private readonly deps: {
    db: Db;
    payments: PaymentService;
    products: ProductRepository;
    verifier: () => Promise<AppleVerifier>;
    clock: Clock;
  };

  constructor(deps: ApplePurchases['deps']) {
    this.deps = deps;
  }

  async verifyPurchase(userId: string, signedTransaction: string): Promise<Purchase> {
    const verifier = await this.deps.verifier();
    if (!verifier.enabled)
      throw badInput('App Store purchases are not enabled', { field: 'signedTransaction' });
    let verified: Awaited<ReturnType<AppleVerifier['verifyTransaction']>>;
    try {
      verified = await verifier.verifyTransaction(signedTransaction);
    } catch (error) {
      if (error instanceof AppleVerificationError && error.retryable)
        throw new AppleUnavailableError(error.message);
      throw badInput('The transaction could not be verified', { field: 'signedTransaction' });
    }
    const { transaction, store } = verified;
    if (transaction.appAccountToken?.toLowerCase() !== userId.toLowerCase()) {
      throw forbidden('This purchase was not made from this account');
    }
    const t = this.toStoreTransaction(store, transaction, userId);
    const { purchase } = await withTransaction(this.deps.db, async (tx) => {
      const result = await this.credit(tx, t);
      await this.trackSubscription(tx, t, transaction, t.revoked ? 'revoked' : 'active');
      return result;
    });
    return purchase;
  }

  /** `POST /payments/apple/notifications`: the outcome, recorded with the notification. */
  async handleNotification(signedPayload: string): Promise<string> {
    const verifier = await this.deps.verifier();
    let verified: VerifiedNotification;
    try {
      verified = await verifier.verifyNotification(signedPayload);
    } catch (error) {
      if (error instanceof AppleVerificationError && error.retryable)
        throw new AppleUnavailableError(error.message);
      throw error;
    }
    const { notification, transaction, store } = verified;
    if (!notification.notificationUUID || !notification.notificationType) {
      throw new AppleVerificationError(undefined);
    }
    return this.deps.payments.withNotification(
      {
        store,
        notificationId: notification.notificationUUID,
        type: notification.notificationType,
        subtype: notification.subtype ?? null,
        storeTransactionId: transaction?.transactionId ?? null,
        payload: { notification, transaction, renewal: verified.renewal } as Record<string, unknown>,
      },
      (tx) => this.apply(tx, verified),
    );
  }

  private async apply(
    tx: Tx,
    { notification, transaction, renewal, store }: VerifiedNotification,
  ): Promise<string> {
    if (!transaction?.transactionId) return 'ignored:no_transaction';
    const type = notification.notificationType ?? '';
    const userId = transaction.appAccountToken;
    if (type === 'REFUND' || type === 'REVOKE') {
      const kind = type === 'REVOKE' ? 'revoked' : 'refunded';
      const { outcome } = await this.deps.payments.refundIn(tx, {
        store,
        lockKey: transaction.transactionId,
        kind,
      });
      if (userId && UUID.test(userId)) {
        await this.trackSubscription(
          tx,
          this.toStoreTransaction(store, transaction, userId),
          transaction,
          'revoked',
        );
      }
      return outcome;
    }
    if (!userId || !UUID.test(userId)) return 'ignored:no_account_token';
    const t = this.toStoreTransaction(store, transaction, userId);
    if (CREDITING.has(type)) {
      const { outcome } = await this.credit(tx, t);
      await this.trackSubscription(tx, t, transaction, t.revoked ? 'revoked' : 'active');
      return outcome;
    }
    const status: SubscriptionStatus | null =
      type === 'EXPIRED' || type === 'GRACE_PERIOD_EXPIRED'
        ? 'expired'
        : type === 'DID_FAIL_TO_RENEW'
          ? notification.subtype === 'GRACE_PERIOD'
            ? 'grace_period'
            : 'billing_retry'
          : null;
    if (status)
      return (await this.trackSubscription(tx, t, transaction, status)) ? 'subscription_updated' : 'ignored';
    if (type === 'DID_CHANGE_RENEWAL_STATUS') {
      const autoRenew = notification.subtype
        ? notification.subtype === 'AUTO_RENEW_ENABLED'
        : renewal?.autoRenewStatus === 1;
      return (await this.trackSubscription(tx, t, transaction, null, autoRenew))
        ? 'subscription_updated'
        : 'ignored';
    }
    return 'ignored';
  }

  /**
   * Credits the transaction; when Apple already marks it revoked and we had credited it, the coins are
   * taken back now rather than waiting for the REFUND notification.
   */
  private async credit(tx: Tx, t: StoreTransaction) {
    const result = await this.deps.payments.creditIn(tx, t);
    if (t.revoked && result.purchase.state === 'credited') {
      const refund = await this.deps.payments.refundIn(tx, {
        store: t.store,
        lockKey: t.lockKey,
        kind: t.revoked,
      });
      return { purchase: refund.purchase ?? result.purchase, outcome: refund.outcome };
    }
    return result;
  }

  /** The user's subscription state, when the transaction is of a subscription product. */
  private async trackSubscription(
    tx: Tx,
    t: StoreTransaction,
    transaction: JWSTransactionDecodedPayload,
    status: SubscriptionStatus | null,
    autoRenew?: boolean,
  ): Promise<boolean> {
    const product = await this.deps.products.bySku(t.sku, tx);
    if (product?.type !== 'subscription') return false;
    const current = (await this.deps.payments.subscriptionsOf(t.userId)).find(
      (s) =>
        s.store === t.store && s.originalTransactionId === (t.originalTransactionId ?? t.storeTransactionId),
    );
    await this.deps.payments.repo.upsertSubscription(
      tx,
      {
        userId: t.userId,
        productId: product.id,
        store: t.store,
        originalTransactionId: t.originalTransactionId ?? t.storeTransactionId,
        status: status ?? current?.status ?? 'active',
        expiresAt: transaction.expiresDate ? new Date(transaction.expiresDate) : null,
        ...(autoRenew !== undefined ? { autoRenew } : {}),
        eventAt: new Date(transaction.signedDate ?? this.deps.clock.now().getTime()),
      },
      this.deps.clock.now(),
    );
    return true;
  }

  private toStoreTransaction(
    store: 'apple' | 'sandbox',
    transaction: JWSTransactionDecodedPayload,
    userId: string,
  ): StoreTransaction {
    const transactionId = transaction.transactionId;
    const sku = transaction.productId;
    if (!transactionId || !sku)
      throw badInput('The transaction has no id or product', { field: 'signedTransaction' });
    const price =
      typeof transaction.price === 'number' && transaction.currency
        ? milliunitsToMinor(transaction.price, transaction.currency)
        : null;
    return {
      store,
      storeTransactionId: transactionId,
      lockKey: transactionId,
      originalTransactionId: transaction.originalTransactionId ?? null,
      purchaseToken: null,
      environment: transaction.environment ?? null,
      userId,
      sku,
      priceAmountMinor: price,
      currency: price === null ? null : (transaction.currency ?? null),
      // StoreKit reports the storefront as ISO 3166-1 alpha-3; kept as reported.
      country: transaction.storefront ?? null,
      purchasedAt: new Date(transaction.purchaseDate ?? this.deps.clock.now().getTime()),
      status: 'purchased',
      revoked: transaction.revocationDate ? 'refunded' : null,
    };
  }
}
