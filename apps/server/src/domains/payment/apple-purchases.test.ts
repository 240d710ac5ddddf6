import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import { signStoreKitJws, storedChainOf } from '../../providers/payments/sandbox-store.ts';
import { issueSigningChain } from '../../providers/payments/x509-builder.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { createProduct, walletOf } from './payment.test-support.ts';

const VERIFY = `mutation($jws: String!) {
  verifyApplePurchase(signedTransaction: $jws) { id state coins bonusCoins store storeTransactionId priceAmountMinor currency }
}`;
const SANDBOX_BUY = `mutation($sku: String!) { sandboxPurchase(productId: $sku) { id state coins bonusCoins store storeTransactionId } }`;
const MY_PURCHASES = `query { myPurchases(first: 50) { items { id state product { sku } } nextCursor } }`;

type PurchaseView = { id: string; state: string; storeTransactionId: string; store: string };

describe('App Store and sandbox purchases', () => {
  let app: TestApp;
  let admin: AuthTokens;
  const sku = `coins_${randomUUID().slice(0, 8)}`;
  const bigSku = `coins_big_${randomUUID().slice(0, 8)}`;

  const sandbox = () => {
    const store = app.services.payments.sandbox;
    if (!store) throw new Error('sandbox store disabled');
    return store;
  };
  const transaction = (userId: string, transactionId: string, productId = sku) => ({
    productId,
    appAccountToken: userId,
    type: 'Consumable' as const,
    price: 1990,
    currency: 'USD',
    storefront: 'USA',
    transactionId,
  });
  const notify = async (signedPayload: string) => {
    const response = await fetch(`${app.url}/payments/apple/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ signedPayload }),
    });
    return { status: response.status, body: (await response.json()) as { outcome?: string } };
  };
  const verify = (token: string, jws: string) =>
    gql<{ verifyApplePurchase: PurchaseView }>(app.url, VERIFY, { jws }, { token });
  const spend = (userId: string, amount: bigint) =>
    app.services.ledger.execute({
      idempotencyKey: `test-spend:${randomUUID()}`,
      kind: 'gift',
      postings: [{ account: accounts.platformRevenue, amount }],
      spend: { userId, amount },
    });

  beforeAll(async () => {
    app = await startTestApp({ env: { PAYMENTS_SANDBOX: 'true' } });
    admin = await app.signIn(['user', 'admin']);
    await createProduct(app, admin.accessToken, { sku, coins: 100, bonusCoins: 20 });
    await createProduct(app, admin.accessToken, { sku: bigSku, coins: 500 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sells from the sandbox store through the Apple verification, crediting paid and bonus coins', async () => {
    const user = await app.signIn(['user']);
    const bought = await gql<{ sandboxPurchase: PurchaseView & { coins: string; bonusCoins: string } }>(
      app.url,
      SANDBOX_BUY,
      { sku },
      { token: user.accessToken },
    );
    expect(bought.errors).toBeUndefined();
    expect(bought.data?.sandboxPurchase).toMatchObject({
      state: 'CREDITED',
      store: 'SANDBOX',
      coins: '100',
      bonusCoins: '20',
    });
    const wallet = await walletOf(app, user.userId);
    expect([wallet.paid, wallet.bonus]).toEqual([100n, 20n]);
    const mine = await gql<{ myPurchases: { items: Array<{ id: string; product: { sku: string } }> } }>(
      app.url,
      MY_PURCHASES,
      {},
      { token: user.accessToken },
    );
    expect(mine.data?.myPurchases.items).toEqual([
      expect.objectContaining({ id: bought.data?.sandboxPurchase.id, product: { sku } }),
    ]);
    const exported = await app.services.payments.service.exportFor(user.userId);
    expect(exported).toEqual([
      expect.objectContaining({ store: 'sandbox', state: 'credited', coins: '100' }),
    ]);
    const events = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('payload')
      .where('type', '=', 'purchase_completed')
      .where('user_id', '=', user.userId)
      .execute();
    expect(events.map((e) => e.payload)).toEqual([
      expect.objectContaining({
        store: 'sandbox',
        sku,
        coins: '100',
        bonusCoins: '20',
        priceAmountMinor: '199',
        currency: 'USD',
      }),
    ]);
  });

  it('credits a transaction once whether it comes from the app, a notification, or both, in any order', async () => {
    const user = await app.signIn(['user']);
    // App first, then the notification, then both again.
    const first = randomUUID();
    const jws = await sandbox().signTransaction(transaction(user.userId, first));
    const verified = await verify(user.accessToken, jws);
    expect(verified.data?.verifyApplePurchase).toMatchObject({
      state: 'CREDITED',
      priceAmountMinor: 199,
      currency: 'USD',
    });
    const uuid = randomUUID();
    const payload = await sandbox().signNotification({
      notificationType: 'ONE_TIME_CHARGE',
      notificationUUID: uuid,
      transaction: transaction(user.userId, first),
    });
    expect(await notify(payload)).toEqual({ status: 200, body: { outcome: 'already_recorded' } });
    expect(await notify(payload)).toEqual({ status: 200, body: { outcome: 'duplicate' } });
    expect((await verify(user.accessToken, jws)).data?.verifyApplePurchase.id).toBe(
      verified.data?.verifyApplePurchase.id,
    );

    // Notification first, then the app.
    const second = randomUUID();
    const early = await sandbox().signNotification({
      notificationType: 'ONE_TIME_CHARGE',
      transaction: transaction(user.userId, second),
    });
    expect((await notify(early)).body.outcome).toBe('credited');
    const late = await verify(
      user.accessToken,
      await sandbox().signTransaction(transaction(user.userId, second)),
    );
    expect(late.data?.verifyApplePurchase.state).toBe('CREDITED');

    // All at once.
    const third = randomUUID();
    const thirdJws = await sandbox().signTransaction(transaction(user.userId, third));
    const notifications = await Promise.all(
      [0, 1].map(() =>
        sandbox().signNotification({
          notificationType: 'ONE_TIME_CHARGE',
          transaction: transaction(user.userId, third),
        }),
      ),
    );
    const results = await Promise.all([
      verify(user.accessToken, thirdJws),
      verify(user.accessToken, thirdJws),
      ...notifications.map(notify),
    ]);
    expect(results.every((r) => r.status === 200)).toBe(true);

    const wallet = await walletOf(app, user.userId);
    expect([wallet.paid, wallet.bonus]).toEqual([300n, 60n]);
    const purchases = await app.services.payments.service.list({ userId: user.userId }, 10, undefined);
    expect(purchases.map((p) => p.storeTransactionId).sort()).toEqual([first, second, third].sort());
    const ledgerKeys = await app.database.handle.db
      .selectFrom('balance.transactions')
      .select('idempotency_key')
      .where(
        'idempotency_key',
        'in',
        [first, second, third].map((id) => `sandbox:${id}`),
      )
      .execute();
    expect(ledgerKeys).toHaveLength(3);
  });

  it('refuses transactions and notifications signed by an untrusted chain, and other accounts’ transactions', async () => {
    const user = await app.signIn(['user']);
    const forger = storedChainOf(issueSigningChain('Forged Store', new Date(), 5));
    const payload = sandbox().transactionPayload(transaction(user.userId, randomUUID()));
    const forged = await signStoreKitJws(forger, payload);
    expect(errorCodes(await verify(user.accessToken, forged))).toEqual(['BAD_USER_INPUT']);
    const forgedNotification = await signStoreKitJws(forger, {
      notificationType: 'ONE_TIME_CHARGE',
      notificationUUID: randomUUID(),
      version: '2.0',
      signedDate: Date.now(),
      data: {
        bundleId: app.config.payments.apple.bundleId,
        environment: 'Sandbox',
        signedTransactionInfo: forged,
      },
    });
    expect((await notify(forgedNotification)).status).toBe(401);
    // A genuine envelope around a forged transaction is refused too.
    const chain = await sandbox().signingChain();
    const mixed = await signStoreKitJws(chain, {
      notificationType: 'ONE_TIME_CHARGE',
      notificationUUID: randomUUID(),
      version: '2.0',
      signedDate: Date.now(),
      data: {
        bundleId: app.config.payments.apple.bundleId,
        environment: 'Sandbox',
        signedTransactionInfo: forged,
      },
    });
    expect((await notify(mixed)).status).toBe(401);
    expect((await notify('not-a-jws')).status).toBe(401);

    const other = await app.signIn(['user']);
    const genuine = await sandbox().signTransaction(transaction(user.userId, randomUUID()));
    expect(errorCodes(await verify(other.accessToken, genuine))).toEqual(['FORBIDDEN']);
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });
    expect(await walletOf(app, other.userId)).toMatchObject({ paid: 0n, bonus: 0n });
  });

  it('records a refund that arrives before its purchase and then credits nothing', async () => {
    const user = await app.signIn(['user']);
    const id = randomUUID();
    const refund = await sandbox().signNotification({
      notificationType: 'REFUND',
      transaction: { ...transaction(user.userId, id), revocationDate: new Date() },
    });
    expect((await notify(refund)).body.outcome).toBe('recorded_early');
    const charge = await sandbox().signNotification({
      notificationType: 'ONE_TIME_CHARGE',
      transaction: transaction(user.userId, id),
    });
    expect((await notify(charge)).body.outcome).toBe('recorded_refunded');
    const late = await verify(
      user.accessToken,
      await sandbox().signTransaction(transaction(user.userId, id)),
    );
    expect(late.data?.verifyApplePurchase.state).toBe('REFUNDED');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });
    // Replaying the refund changes nothing.
    expect(
      (
        await notify(
          await sandbox().signNotification({
            notificationType: 'REFUND',
            transaction: { ...transaction(user.userId, id), revocationDate: new Date() },
          }),
        )
      ).body.outcome,
    ).toBe('already_refunded');
  });

  it('takes the coins back when the app sends a transaction Apple already revoked', async () => {
    const user = await app.signIn(['user']);
    const id = randomUUID();
    await verify(user.accessToken, await sandbox().signTransaction(transaction(user.userId, id)));
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n, bonus: 20n });
    const revoked = await sandbox().signTransaction({
      ...transaction(user.userId, id),
      revocationDate: new Date(),
    });
    expect((await verify(user.accessToken, revoked)).data?.verifyApplePurchase.state).toBe('REFUNDED');
    expect((await verify(user.accessToken, revoked)).data?.verifyApplePurchase.state).toBe('REFUNDED');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });
  });

  it('claws back spent coins on refund: the wallet is in debt and cannot spend until a new purchase', async () => {
    const user = await app.signIn(['user']);
    const id = randomUUID();
    await verify(user.accessToken, await sandbox().signTransaction(transaction(user.userId, id)));
    await spend(user.userId, 110n);
    const beforeRefund = await walletOf(app, user.userId);
    expect(beforeRefund.total).toBe(10n);

    const refund = () =>
      sandbox().signNotification({
        notificationType: 'REFUND',
        transaction: { ...transaction(user.userId, id), revocationDate: new Date() },
      });
    expect((await notify(await refund())).body.outcome).toBe('refunded');
    expect((await notify(await refund())).body.outcome).toBe('already_refunded');
    const afterRefund = await walletOf(app, user.userId);
    expect(afterRefund.paid).toBe(beforeRefund.paid - 100n);
    expect(afterRefund.bonus).toBe(0n);
    expect(afterRefund.paid < 0n).toBe(true);
    expect(afterRefund.inDebt).toBe(true);
    await expect(spend(user.userId, 1n)).rejects.toSatisfy(
      (error: unknown) => error instanceof AppError && error.code === 'INSUFFICIENT_FUNDS',
    );
    const purchase = (await app.services.payments.service.list({ userId: user.userId }, 1, undefined))[0];
    expect(purchase).toMatchObject({
      state: 'refunded',
      refundedCoins: 100n,
      refundedBonusCoins: beforeRefund.bonus,
    });
    const refunds = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('payload')
      .where('type', '=', 'purchase_refunded')
      .where('user_id', '=', user.userId)
      .execute();
    expect(refunds).toHaveLength(1);

    await verify(
      user.accessToken,
      await sandbox().signTransaction(transaction(user.userId, randomUUID(), bigSku)),
    );
    const restored = await walletOf(app, user.userId);
    expect(restored.paid).toBe(afterRefund.paid + 500n);
    expect(restored.inDebt).toBe(false);
    await spend(user.userId, 1n);
  });

  it('takes back, on a refund of spent coins, the earnings they paid for while still held', async () => {
    const user = await app.signIn(['user']);
    const [first, second] = [randomUUID(), randomUUID()];
    const id = randomUUID();
    await verify(user.accessToken, await sandbox().signTransaction(transaction(user.userId, id)));
    const gift = (streamer: string, amount: bigint) =>
      app.services.ledger.execute({
        idempotencyKey: `test-gift:${randomUUID()}`,
        kind: 'gift',
        spend: { userId: user.userId, amount },
        postings: [
          { account: accounts.earningsPending({ kind: 'user', id: streamer }), amount: amount / 2n },
          { account: accounts.platformRevenue, amount: amount - amount / 2n },
        ],
      });
    await gift(first, 60n);
    await gift(second, 50n);
    const pendingOf = async (streamer: string) =>
      (await app.services.ledger.earnings({ kind: 'user', id: streamer })).pending;
    expect([await pendingOf(first), await pendingOf(second)]).toEqual([30n, 25n]);
    const refund = async () =>
      notify(
        await sandbox().signNotification({
          notificationType: 'REFUND',
          transaction: { ...transaction(user.userId, id), revocationDate: new Date() },
        }),
      );
    expect((await refund()).body.outcome).toBe('refunded');
    expect((await refund()).body.outcome).toBe('already_refunded');
    // 20 bonus then 90 paid were spent; the refund leaves the paid wallet 90 in debt, which covers both shares.
    expect((await walletOf(app, user.userId)).paid).toBe(-90n);
    expect([await pendingOf(first), await pendingOf(second)]).toEqual([0n, 0n]);
  });

  it('lists and sells subscriptions only while feature.subscriptions_enabled is on', async () => {
    const subSku = `sub_${randomUUID().slice(0, 8)}`;
    await createProduct(app, admin.accessToken, {
      sku: subSku,
      coins: 50,
      type: 'SUBSCRIPTION',
      period: 'P1M',
    });
    const list = async () =>
      (
        await gql<{ coinProducts: Array<{ sku: string; price: { amountMinor: number } | null }> }>(
          app.url,
          `query { coinProducts(store: SANDBOX, country: "US") { sku price { amountMinor } } }`,
        )
      ).data?.coinProducts.map((p) => p.sku) ?? [];
    expect(await list()).toContain(sku);
    expect(await list()).not.toContain(subSku);
    const user = await app.signIn(['user']);
    const refused = await gql(app.url, SANDBOX_BUY, { sku: subSku }, { token: user.accessToken });
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);

    await app.services.settings.set(
      { principal: null, requestId: null },
      'feature.subscriptions_enabled',
      true,
      'test',
    );
    expect(await list()).toContain(subSku);
    const bought = await gql<{ sandboxPurchase: PurchaseView }>(
      app.url,
      SANDBOX_BUY,
      { sku: subSku },
      { token: user.accessToken },
    );
    expect(bought.data?.sandboxPurchase.state).toBe('CREDITED');
    const subscriptions = await app.services.payments.service.subscriptionsOf(user.userId);
    expect(subscriptions).toEqual([expect.objectContaining({ status: 'active', store: 'sandbox' })]);
    const original = bought.data?.sandboxPurchase.storeTransactionId as string;
    const about = (signedDate: Date) => ({
      ...transaction(user.userId, original, subSku),
      type: 'Auto-Renewable Subscription' as const,
      signedDate,
    });
    const expired = await sandbox().signNotification({
      notificationType: 'EXPIRED',
      transaction: about(new Date()),
    });
    expect((await notify(expired)).body.outcome).toBe('subscription_updated');
    // A failed-renewal notice signed before the expiry arrives late: it changes nothing.
    const late = await sandbox().signNotification({
      notificationType: 'DID_FAIL_TO_RENEW',
      transaction: about(new Date(Date.now() - 3600_000)),
    });
    expect((await notify(late)).body.outcome).toBe('subscription_updated');
    expect(await app.services.payments.service.subscriptionsOf(user.userId)).toEqual([
      expect.objectContaining({ status: 'expired' }),
    ]);
    await app.services.settings.set(
      { principal: null, requestId: null },
      'feature.subscriptions_enabled',
      false,
      'test',
    );
  });
});
