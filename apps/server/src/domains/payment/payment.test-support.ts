import { expect } from 'vitest';
import type { TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';

export const CREATE_PRODUCT = `mutation($input: CreateCoinProductInput!) {
  createCoinProduct(input: $input) { id sku type coins bonusCoins active prices { store country currency amountMinor } }
}`;

export type PriceInput = {
  store: 'APPLE' | 'GOOGLE' | 'SANDBOX';
  country: string;
  currency: string;
  amountMinor: number;
};

/** Creates a product as an admin would, through the API. */
export async function createProduct(
  app: TestApp,
  adminToken: string,
  input: {
    sku: string;
    coins: number;
    bonusCoins?: number;
    type?: 'COINS' | 'SUBSCRIPTION';
    period?: string;
    prices?: PriceInput[];
  },
): Promise<{ id: string; sku: string }> {
  const result = await gql<{ createCoinProduct: { id: string; sku: string } }>(
    app.url,
    CREATE_PRODUCT,
    {
      input: {
        sku: input.sku,
        type: input.type ?? 'COINS',
        title: `${input.coins} coins`,
        coins: input.coins,
        bonusCoins: input.bonusCoins ?? 0,
        ...(input.period ? { period: input.period } : {}),
        prices: input.prices ?? [{ store: 'SANDBOX', country: '*', currency: 'USD', amountMinor: 199 }],
      },
    },
    { token: adminToken },
  );
  expect(result.errors).toBeUndefined();
  return result.data?.createCoinProduct as { id: string; sku: string };
}

export async function walletOf(app: TestApp, userId: string) {
  return app.services.ledger.wallet(userId);
}

/** The number of credits the ledger holds for one idempotency key prefix of a user: proof of "once". */
export async function purchaseCreditsOf(app: TestApp, userId: string): Promise<number> {
  const purchases = await app.services.payments.service.list({ userId }, 100, undefined);
  return purchases.filter((p) => p.ledgerTransactionId !== null).length;
}
