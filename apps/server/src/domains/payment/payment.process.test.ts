import {
  CoinProductsDocument,
  createOloClient,
  MyPurchasesDocument,
  MyWalletDocument,
  type OloClient,
  SandboxPurchaseDocument,
} from '@olo/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import { DEMO_PRODUCTS } from './payment.demo.ts';

describe('buying coins from the sandbox store, end to end through the SDK', () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let client: OloClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServerProcess({
      env: { DATABASE_URL: database.url, SEED_DEMO_DATA: 'true', PAYMENTS_SANDBOX: 'true' },
    });
    client = createOloClient({ url: `${server.url}/graphql` });
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop('SIGTERM');
    await database?.drop();
  });

  it('lists the demo coin packs with local prices and credits a sandbox purchase once', async () => {
    const { coinProducts } = await client.request(CoinProductsDocument, { store: 'SANDBOX', country: 'DE' });
    expect(coinProducts.map((p) => p.sku)).toEqual(DEMO_PRODUCTS.map((p) => p.sku));
    const german = await client.request(CoinProductsDocument, { store: 'APPLE', country: 'DE' });
    expect(german.coinProducts[0]?.price).toEqual({
      store: 'APPLE',
      country: 'DE',
      currency: 'EUR',
      amountMinor: 199,
    });

    await client.signInWithEmail({ email: 'user1@olo.local', password: 'olo-demo-password' });
    const before = (await client.request(MyWalletDocument)).myWallet;
    const { sandboxPurchase } = await client.request(SandboxPurchaseDocument, { productId: 'coins_550' });
    expect(sandboxPurchase).toMatchObject({
      store: 'SANDBOX',
      state: 'CREDITED',
      coins: '500',
      bonusCoins: '50',
    });
    const after = (await client.request(MyWalletDocument)).myWallet;
    expect(BigInt(after.paid) - BigInt(before.paid)).toBe(500n);
    expect(BigInt(after.bonus) - BigInt(before.bonus)).toBe(50n);
    const { myPurchases } = await client.request(MyPurchasesDocument, { first: 10 });
    expect(myPurchases.items.map((p) => [p.id, p.product.sku])).toEqual([[sandboxPurchase.id, 'coins_550']]);
  });
});
