import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { signStoreKitJws, storedChainOf } from '../../providers/payments/sandbox-store.ts';
import { issueSigningChain } from '../../providers/payments/x509-builder.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { CREATE_PRODUCT, createProduct } from './payment.test-support.ts';

const UPDATE = `mutation($id: ID!, $input: UpdateCoinProductInput!) {
  updateCoinProduct(id: $id, input: $input) { id title coins active prices { store country currency amountMinor } }
}`;
const PRODUCTS = `query($store: PaymentStore!, $country: String) {
  coinProducts(store: $store, country: $country) { sku price { country currency amountMinor } }
}`;
const ADMIN_PURCHASES = `query($userId: ID, $state: PurchaseState, $first: Int, $after: String) {
  adminPurchases(userId: $userId, state: $state, first: $first, after: $after) { items { id state userId } nextCursor }
}`;
const SANDBOX_BUY = `mutation($sku: String!) { sandboxPurchase(productId: $sku) { id state storeTransactionId } }`;

describe('payment administration and reports', () => {
  const clock = manualClock(new Date('2026-03-01T10:00:00Z'));
  let app: TestApp;
  let admin: AuthTokens;
  let moderator: AuthTokens;
  const sku = `coins_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    app = await startTestApp({ clock, env: { PAYMENTS_SANDBOX: 'true' } });
    admin = await app.signIn(['user', 'admin']);
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('creates and changes products (admins only, audited) and prices them per store and country', async () => {
    const input = {
      sku,
      type: 'COINS',
      title: 'Pack',
      coins: 100,
      bonusCoins: 20,
      prices: [
        { store: 'SANDBOX', country: '*', currency: 'usd', amountMinor: 199 },
        { store: 'APPLE', country: '*', currency: 'USD', amountMinor: 199 },
        { store: 'APPLE', country: 'de', currency: 'EUR', amountMinor: 189 },
      ],
    };
    expect(
      errorCodes(await gql(app.url, CREATE_PRODUCT, { input }, { token: moderator.accessToken })),
    ).toEqual(['FORBIDDEN']);
    const bad = await gql(
      app.url,
      CREATE_PRODUCT,
      { input: { ...input, sku: 'bad sku!' } },
      { token: admin.accessToken },
    );
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    const created = await gql<{ createCoinProduct: { id: string; prices: unknown[] } }>(
      app.url,
      CREATE_PRODUCT,
      { input },
      { token: admin.accessToken },
    );
    expect(created.errors).toBeUndefined();
    const id = created.data?.createCoinProduct.id as string;
    expect(errorCodes(await gql(app.url, CREATE_PRODUCT, { input }, { token: admin.accessToken }))).toEqual([
      'CONFLICT',
    ]);

    const inGermany = await gql<{ coinProducts: Array<{ sku: string; price: unknown }> }>(app.url, PRODUCTS, {
      store: 'APPLE',
      country: 'DE',
    });
    expect(inGermany.data?.coinProducts.find((p) => p.sku === sku)?.price).toEqual({
      country: 'DE',
      currency: 'EUR',
      amountMinor: 189,
    });
    const inFrance = await gql<{ coinProducts: Array<{ sku: string; price: unknown }> }>(app.url, PRODUCTS, {
      store: 'APPLE',
      country: 'FR',
    });
    expect(inFrance.data?.coinProducts.find((p) => p.sku === sku)?.price).toEqual({
      country: '*',
      currency: 'USD',
      amountMinor: 199,
    });

    const updated = await gql<{ updateCoinProduct: { active: boolean; title: string } }>(
      app.url,
      UPDATE,
      {
        id,
        input: {
          title: 'Hidden pack',
          coins: 100,
          bonusCoins: 20,
          active: false,
          sortOrder: 0,
          prices: input.prices.slice(0, 1),
        },
      },
      { token: admin.accessToken },
    );
    expect(updated.data?.updateCoinProduct).toMatchObject({ active: false, title: 'Hidden pack' });
    const listed = await gql<{ coinProducts: Array<{ sku: string }> }>(app.url, PRODUCTS, {
      store: 'SANDBOX',
    });
    expect(listed.data?.coinProducts.map((p) => p.sku)).not.toContain(sku);
    const user = await app.signIn(['user']);
    expect(errorCodes(await gql(app.url, SANDBOX_BUY, { sku }, { token: user.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);

    const audit = await gql<{
      auditLog: { items: Array<{ action: string; actorId: string; targetId: string }> };
    }>(
      app.url,
      `query($filter: AuditFilter) { auditLog(filter: $filter) { items { action actorId targetId } } }`,
      { filter: { targetType: 'coin_product', targetId: id } },
      { token: admin.accessToken },
    );
    expect(audit.data?.auditLog.items.map((i) => i.action).sort()).toEqual([
      'payment.product_created',
      'payment.product_updated',
    ]);
    expect(audit.data?.auditLog.items.every((i) => i.actorId === admin.userId)).toBe(true);
  });

  it('lists purchases for staff by user and state, and reports revenue per day, store and currency', async () => {
    const packSku = `pack_${randomUUID().slice(0, 8)}`;
    await createProduct(app, admin.accessToken, { sku: packSku, coins: 100, bonusCoins: 20 });
    const buyer = await app.signIn(['user']);
    const buy = async () =>
      (
        await gql<{ sandboxPurchase: { id: string; storeTransactionId: string } }>(
          app.url,
          SANDBOX_BUY,
          { sku: packSku },
          { token: buyer.accessToken },
        )
      ).data?.sandboxPurchase;
    const first = await buy();
    const second = await buy();
    expect(
      errorCodes(await gql(app.url, ADMIN_PURCHASES, { userId: buyer.userId }, { token: buyer.accessToken })),
    ).toEqual(['FORBIDDEN']);
    const page1 = await gql<{ adminPurchases: { items: Array<{ id: string }>; nextCursor: string | null } }>(
      app.url,
      ADMIN_PURCHASES,
      { userId: buyer.userId, first: 1 },
      { token: moderator.accessToken },
    );
    expect(page1.errors).toBeUndefined();
    expect(second).toBeDefined();
    expect(page1.data?.adminPurchases.items.map((i) => i.id)).toEqual([second?.id]);
    const page2 = await gql<{ adminPurchases: { items: Array<{ id: string }>; nextCursor: string | null } }>(
      app.url,
      ADMIN_PURCHASES,
      { userId: buyer.userId, first: 1, after: page1.data?.adminPurchases.nextCursor },
      { token: moderator.accessToken },
    );
    expect(page2.data?.adminPurchases).toEqual({
      items: [{ id: first?.id, state: 'CREDITED', userId: buyer.userId }],
      nextCursor: null,
    });

    // The next day the store refunds the first purchase.
    clock.advance(24 * 3600 * 1000);
    const sandbox = app.services.payments.sandbox;
    if (!sandbox || !first) throw new Error('sandbox store disabled');
    const refund = await sandbox.signNotification({
      notificationType: 'REFUND',
      transaction: {
        productId: packSku,
        appAccountToken: buyer.userId,
        type: 'Consumable',
        price: 1990,
        currency: 'USD',
        storefront: 'USA',
        transactionId: first.storeTransactionId,
        revocationDate: clock.now(),
      },
    });
    await app.services.payments.apple.handleNotification(refund);
    const refunded = await app.services.payments.service.list(
      { userId: buyer.userId, state: 'refunded' },
      10,
      undefined,
    );
    expect(refunded.map((p) => p.id)).toEqual([first.id]);

    const rows = await app.services.payments.dailyRevenue(
      new Date('2026-03-01T00:00:00Z'),
      new Date('2026-03-03T00:00:00Z'),
    );
    const mine = rows.filter((r) => r.store === 'sandbox');
    expect(mine).toEqual([
      {
        day: '2026-03-01',
        store: 'sandbox',
        currency: 'USD',
        purchases: 2,
        coins: 240n,
        amountMinor: 398n,
        refunds: 0,
        refundedCoins: 0n,
        refundedAmountMinor: 0n,
      },
      {
        day: '2026-03-02',
        store: 'sandbox',
        currency: 'USD',
        purchases: 0,
        coins: 0n,
        amountMinor: 0n,
        refunds: 1,
        refundedCoins: 120n,
        refundedAmountMinor: 199n,
      },
    ]);
  });

  it('trusts only the configured Apple roots when the sandbox store is disabled', async () => {
    const appleChain = storedChainOf(issueSigningChain('Test Apple', new Date(), 2));
    const production = await startTestApp({
      env: {
        PAYMENTS_SANDBOX: 'false',
        APPLE_ROOT_CERTIFICATES: appleChain.rootDer.toString('base64'),
        APPLE_ENVIRONMENT: 'Sandbox',
        APPLE_ONLINE_CHECKS: 'false',
      },
    });
    try {
      const user = await production.signIn(['user']);
      const refused = await gql(production.url, SANDBOX_BUY, { sku }, { token: user.accessToken });
      expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
      expect(production.services.payments.sandbox).toBeUndefined();
      const productionAdmin = await production.signIn(['user', 'admin']);
      const appleSku = `apple_${randomUUID().slice(0, 8)}`;
      await createProduct(production, productionAdmin.accessToken, { sku: appleSku, coins: 70 });
      const payload = (transactionId: string) => ({
        transactionId,
        originalTransactionId: transactionId,
        bundleId: production.config.payments.apple.bundleId,
        productId: appleSku,
        purchaseDate: Date.now(),
        originalPurchaseDate: Date.now(),
        quantity: 1,
        type: 'Consumable',
        appAccountToken: user.userId,
        inAppOwnershipType: 'PURCHASED',
        signedDate: Date.now(),
        environment: 'Sandbox',
        transactionReason: 'PURCHASE',
        storefront: 'DEU',
        price: 1990,
        currency: 'EUR',
      });
      const verify = `mutation($jws: String!) { verifyApplePurchase(signedTransaction: $jws) { store state priceAmountMinor } }`;
      const signedByApple = await signStoreKitJws(appleChain, payload('2000000123'));
      const credited = await gql(production.url, verify, { jws: signedByApple }, { token: user.accessToken });
      expect(credited.data).toEqual({
        verifyApplePurchase: { store: 'APPLE', state: 'CREDITED', priceAmountMinor: 199 },
      });
      // A chain like the sandbox store's is not trusted here.
      const otherChain = storedChainOf(issueSigningChain('OLO Sandbox Store', new Date(), 2));
      const signedElsewhere = await signStoreKitJws(otherChain, payload('2000000124'));
      expect(
        errorCodes(await gql(production.url, verify, { jws: signedElsewhere }, { token: user.accessToken })),
      ).toEqual(['BAD_USER_INPUT']);
      expect((await production.services.ledger.wallet(user.userId)).paid).toBe(70n);
    } finally {
      await production.close();
    }
  });
});
