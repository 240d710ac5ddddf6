import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, forbidden } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import {
  type GooglePlayClient,
  GooglePlayError,
  type ProductPurchase,
} from '../../providers/payments/google-play.client.ts';
import type { Purchase } from './payment.repository.ts';
import type { PaymentService, StoreTransaction } from './payment.service.ts';
import type { ProductRepository } from './product.repository.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Pub/Sub push request body. */
export const pubSubPushSchema = z.object({
  message: z.object({
    data: z.string().max(100_000),
    messageId: z.string().min(1).max(200),
    publishTime: z.string().optional(),
  }),
  subscription: z.string().optional(),
});

/** The DeveloperNotification inside `message.data` (base64 JSON), as Google Play sends it. */
const developerNotificationSchema = z.object({
  version: z.string().optional(),
  packageName: z.string(),
  eventTimeMillis: z.coerce.number().optional(),
  oneTimeProductNotification: z
    .object({ notificationType: z.number().int(), purchaseToken: z.string().min(1), sku: z.string().min(1) })
    .optional(),
  voidedPurchaseNotification: z
    .object({
      purchaseToken: z.string().min(1),
      orderId: z.string().optional(),
      productType: z.number().int().optional(),
      refundType: z.number().int().optional(),
    })
    .optional(),
  subscriptionNotification: z
    .object({ notificationType: z.number().int(), purchaseToken: z.string() })
    .optional(),
  testNotification: z.object({ version: z.string().optional() }).optional(),
});
type DeveloperNotification = z.infer<typeof developerNotificationSchema>;

// oneTimeProductNotification.notificationType: 1 ONE_TIME_PRODUCT_PURCHASED, 2 ONE_TIME_PRODUCT_CANCELED.
const ONE_TIME_PRODUCT_PURCHASED = 1;

/**
 * Google Play purchases of coin packs: the client sends the purchase token, or a Real-time Developer
 * Notification arrives through Pub/Sub; either way the token is checked with
 * `purchases.products.get`, the coins credited once, then the purchase consumed (once: the right to
 * consume is claimed in the database first) so it can be bought again.
 */
export class GooglePurchases {
  private readonly deps: {
    db: Db;
    payments: PaymentService;
    products: ProductRepository;
    client: GooglePlayClient | undefined;
    clock: Clock;
    logger: Logger;
  };

  constructor(deps: GooglePurchases['deps']) {
    this.deps = deps;
  }

  get enabled(): boolean {
    return this.deps.client !== undefined;
  }

  async verifyPurchase(userId: string, sku: string, purchaseToken: string): Promise<Purchase> {
    const client = this.requireClient();
    const product = await this.deps.products.bySku(sku);
    if (!product) throw badInput(`Unknown product ${sku}`, { field: 'productId' });
    if (product.type !== 'coins') {
      throw badInput('Google Play subscriptions are not supported yet', { field: 'productId' });
    }
    const bought = await this.fetch(client, sku, purchaseToken);
    if (bought.obfuscatedExternalAccountId && bought.obfuscatedExternalAccountId !== userId) {
      throw forbidden('This purchase was not made from this account');
    }
    const t = this.toStoreTransaction(userId, sku, purchaseToken, bought);
    const { purchase } = await withTransaction(this.deps.db, (tx) => this.deps.payments.creditIn(tx, t));
    return this.consume(client, purchase, bought);
  }

  /** `POST /payments/google/rtdn` after the push was authenticated: the outcome. */
  async handleNotification(body: unknown): Promise<string> {
    const client = this.requireClient();
    const push = pubSubPushSchema.safeParse(body);
    if (!push.success) throw badInput('Not a Pub/Sub push message');
    let decoded: DeveloperNotification;
    try {
      decoded = developerNotificationSchema.parse(
        JSON.parse(Buffer.from(push.data.message.data, 'base64').toString('utf8')),
      );
    } catch {
      throw badInput('message.data is not a Google Play developer notification');
    }
    const messageId = push.data.message.messageId;
    if (await this.deps.payments.repo.notificationSeen('google', messageId)) return 'duplicate';
    const oneTime = decoded.oneTimeProductNotification;
    const voided = decoded.voidedPurchaseNotification;
    const record = (type: string, subtype: string | null, storeTransactionId: string | null) => ({
      store: 'google' as const,
      notificationId: messageId,
      type,
      subtype,
      storeTransactionId,
      payload: decoded as Record<string, unknown>,
    });

    if (decoded.packageName !== client.packageName) {
      return this.deps.payments.withNotification(
        record('other_package', null, null),
        async () => 'ignored:other_package',
      );
    }
    if (oneTime?.notificationType === ONE_TIME_PRODUCT_PURCHASED) {
      // Asked before the transaction: a network call must not hold a database transaction open.
      const bought = await this.fetch(client, oneTime.sku, oneTime.purchaseToken);
      const userId = bought.obfuscatedExternalAccountId;
      const storeTransactionId = bought.orderId ?? oneTime.purchaseToken;
      let credited: Purchase | undefined;
      const outcome = await this.deps.payments.withNotification(
        record('ONE_TIME_PRODUCT_PURCHASED', null, storeTransactionId),
        async (tx) => {
          // Without the account id the app sets on the purchase we cannot tell whose it is: the app's
          // own verify call will credit it.
          if (!userId || !UUID.test(userId)) return 'ignored:no_account_id';
          const product = await this.deps.products.bySku(oneTime.sku, tx);
          if (product?.type !== 'coins') return 'ignored:not_a_coin_pack';
          const result = await this.deps.payments.creditIn(
            tx,
            this.toStoreTransaction(userId, oneTime.sku, oneTime.purchaseToken, bought),
          );
          credited = result.purchase;
          return result.outcome;
        },
      );
      if (credited) await this.consume(client, credited, bought);
      return outcome;
    }
    if (voided) {
      return this.deps.payments.withNotification(
        record(
          'VOIDED_PURCHASE',
          voided.refundType ? String(voided.refundType) : null,
          voided.orderId ?? null,
        ),
        async (tx) =>
          (
            await this.deps.payments.refundIn(tx, {
              store: 'google',
              lockKey: voided.purchaseToken,
              kind: 'refunded',
            })
          ).outcome,
      );
    }
    const type = oneTime
      ? 'ONE_TIME_PRODUCT_CANCELED'
      : decoded.subscriptionNotification
        ? 'SUBSCRIPTION'
        : decoded.testNotification
          ? 'TEST'
          : 'UNKNOWN';
    // Canceled pending purchases were never credited; subscriptions through Google are not sold yet.
    return this.deps.payments.withNotification(record(type, null, null), async () => 'ignored');
  }

  private requireClient(): GooglePlayClient {
    if (!this.deps.client) throw badInput('Google Play purchases are not enabled');
    return this.deps.client;
  }

  private async fetch(
    client: GooglePlayClient,
    sku: string,
    purchaseToken: string,
  ): Promise<ProductPurchase> {
    try {
      return await client.getProductPurchase(sku, purchaseToken);
    } catch (error) {
      if (error instanceof GooglePlayError && error.notFound) {
        throw badInput('Google Play does not know this purchase', { field: 'purchaseToken' });
      }
      throw error;
    }
  }

  /**
   * Consumes a credited purchase once. A failure is logged, not thrown: the coins are credited, and
   * the next verify call or notification for the token tries again.
   */
  private async consume(
    client: GooglePlayClient,
    purchase: Purchase,
    bought: ProductPurchase,
  ): Promise<Purchase> {
    const { repo } = this.deps.payments;
    if (purchase.state !== 'credited' || purchase.consumedAt || !purchase.purchaseToken) return purchase;
    const sku = (await this.deps.products.byId(purchase.productId))?.sku;
    if (!sku || !(await repo.claimConsumption(purchase.id, this.deps.clock.now()))) return purchase;
    if (bought.consumptionState === 1) return (await repo.byId(purchase.id)) ?? purchase;
    try {
      await client.consumeProductPurchase(sku, purchase.purchaseToken);
    } catch (error) {
      await repo.releaseConsumption(purchase.id);
      this.deps.logger.warn(
        { err: error, purchaseId: purchase.id },
        'Google Play consume failed; will retry',
      );
    }
    return (await repo.byId(purchase.id)) ?? purchase;
  }

  private toStoreTransaction(
    userId: string,
    sku: string,
    purchaseToken: string,
    bought: ProductPurchase,
  ): StoreTransaction {
    return {
      store: 'google',
      storeTransactionId: bought.orderId ?? purchaseToken,
      lockKey: purchaseToken,
      originalTransactionId: null,
      purchaseToken,
      environment: bought.purchaseType === 0 ? 'test' : 'production',
      userId,
      sku,
      // purchases.products.get carries no price: the price list for the buyer's region gives it.
      priceAmountMinor: null,
      currency: null,
      country: bought.regionCode ?? null,
      purchasedAt: bought.purchaseTimeMillis ? new Date(bought.purchaseTimeMillis) : this.deps.clock.now(),
      status: bought.purchaseState === 2 ? 'pending' : bought.purchaseState === 1 ? 'canceled' : 'purchased',
      revoked: null,
    };
  }
}
