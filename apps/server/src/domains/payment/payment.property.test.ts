import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { createProduct, walletOf } from './payment.test-support.ts';

const VERIFY = `mutation($jws: String!) { verifyApplePurchase(signedTransaction: $jws) { id } }`;

type Delivery = 'verify' | 'charge' | 'charge_replay' | 'refund';

describe('one store transaction, whatever arrives in whatever order', () => {
  let app: TestApp;
  const sku = `coins_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    app = await startTestApp({ env: { PAYMENTS_SANDBOX: 'true' } });
    const admin = await app.signIn(['user', 'admin']);
    await createProduct(app, admin.accessToken, { sku, coins: 100, bonusCoins: 20 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('credits at most once and ends with no coins whenever a refund was among the deliveries', async () => {
    const store = app.services.payments.sandbox;
    if (!store) throw new Error('sandbox store disabled');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Delivery>('verify', 'charge', 'charge_replay', 'refund'), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.boolean(),
        async (deliveries, concurrently) => {
          const user = await app.signIn(['user']);
          const transactionId = randomUUID();
          const base = {
            productId: sku,
            appAccountToken: user.userId,
            type: 'Consumable' as const,
            price: 1990,
            currency: 'USD',
            storefront: 'USA',
            transactionId,
          };
          const chargeUuid = randomUUID();
          const deliver = async (delivery: Delivery) => {
            if (delivery === 'verify') {
              await gql(
                app.url,
                VERIFY,
                { jws: await store.signTransaction(base) },
                { token: user.accessToken },
              );
              return;
            }
            const payload = await store.signNotification(
              delivery === 'refund'
                ? { notificationType: 'REFUND', transaction: { ...base, revocationDate: new Date() } }
                : {
                    notificationType: 'ONE_TIME_CHARGE',
                    transaction: base,
                    ...(delivery === 'charge_replay' ? { notificationUUID: chargeUuid } : {}),
                  },
            );
            const response = await fetch(`${app.url}/payments/apple/notifications`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ signedPayload: payload }),
            });
            expect(response.status).toBe(200);
          };
          if (concurrently) await Promise.all(deliveries.map(deliver));
          else for (const delivery of deliveries) await deliver(delivery);

          const refunded = deliveries.includes('refund');
          const bought = deliveries.some((d) => d !== 'refund');
          const wallet = await walletOf(app, user.userId);
          expect([wallet.paid, wallet.bonus]).toEqual(bought && !refunded ? [100n, 20n] : [0n, 0n]);
          const ledger = await app.database.handle.db
            .selectFrom('balance.transactions')
            .select('kind')
            .where('idempotency_key', 'in', [`sandbox:${transactionId}`, `sandbox-refund:${transactionId}`])
            .execute();
          expect(ledger.filter((t) => t.kind === 'purchase').length).toBeLessThanOrEqual(1);
          expect(ledger.filter((t) => t.kind === 'purchase_refund').length).toBe(
            ledger.some((t) => t.kind === 'purchase') && refunded ? 1 : 0,
          );
          const purchases = await app.services.payments.service.list({ userId: user.userId }, 10, undefined);
          expect(purchases.length).toBe(bought ? 1 : 0);
        },
      ),
      { numRuns: 25 },
    );
  });
});
