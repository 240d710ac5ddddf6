import type { ProductDraft, ProductService } from './product.service.ts';

const everywhere = (amountMinor: number, eur: number) => [
  { store: 'apple' as const, country: '*', currency: 'USD', amountMinor: BigInt(amountMinor) },
  { store: 'google' as const, country: '*', currency: 'USD', amountMinor: BigInt(amountMinor) },
  { store: 'sandbox' as const, country: '*', currency: 'USD', amountMinor: BigInt(amountMinor) },
  { store: 'apple' as const, country: 'DE', currency: 'EUR', amountMinor: BigInt(eur) },
  { store: 'google' as const, country: 'DE', currency: 'EUR', amountMinor: BigInt(eur) },
];

/** Coin packs of the demo: small, medium with bonus, large with more bonus. */
export const DEMO_PRODUCTS: ProductDraft[] = [
  {
    sku: 'coins_100',
    type: 'coins',
    title: '100 coins',
    coins: 100n,
    bonusCoins: 0n,
    period: null,
    active: true,
    sortOrder: 1,
    prices: everywhere(199, 199),
  },
  {
    sku: 'coins_550',
    type: 'coins',
    title: '500 coins + 50 bonus',
    coins: 500n,
    bonusCoins: 50n,
    period: null,
    active: true,
    sortOrder: 2,
    prices: everywhere(899, 899),
  },
  {
    sku: 'coins_1200',
    type: 'coins',
    title: '1000 coins + 200 bonus',
    coins: 1000n,
    bonusCoins: 200n,
    period: null,
    active: true,
    sortOrder: 3,
    prices: everywhere(1699, 1699),
  },
];

/** Creates the demo products that do not exist yet (by sku); safe on every start. */
export async function seedDemoProducts(products: ProductService): Promise<number> {
  let created = 0;
  for (const draft of DEMO_PRODUCTS) {
    if (await products.bySku(draft.sku)) continue;
    await products.create({ principal: null, requestId: null }, draft);
    created++;
  }
  return created;
}
