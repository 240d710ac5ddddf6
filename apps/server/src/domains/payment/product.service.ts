import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, notFound } from '../../platform/errors/app-error.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { ProductType, Store } from './payment.tables.ts';
import type { Price, Product, ProductInput, ProductRepository } from './product.repository.ts';

export type ProductWithPrice = Product & { price: Price | null };
export type ProductDraft = ProductInput & { prices: Price[] };

const isUniqueViolation = (error: unknown) => (error as { code?: unknown })?.code === '23505';

const describe = (p: Product, prices: Price[]) => ({
  sku: p.sku,
  type: p.type,
  title: p.title,
  coins: p.coins.toString(),
  bonusCoins: p.bonusCoins.toString(),
  period: p.period,
  active: p.active,
  sortOrder: p.sortOrder,
  prices: prices.map((x) => `${x.store}:${x.country}:${x.amountMinor} ${x.currency}`),
});

/**
 * The coin products on sale and their prices per store and country. Subscription products are
 * listed (and can be bought) only while `feature.subscriptions_enabled` is on. Staff changes are
 * audited; products are never deleted (purchases refer to them), only deactivated.
 */
export class ProductService {
  private readonly deps: {
    db: Db;
    repo: ProductRepository;
    settings: SettingsService;
    audit: AuditLog;
    clock: Clock;
  };

  constructor(deps: ProductService['deps']) {
    this.deps = deps;
  }

  private async offeredTypes(): Promise<ProductType[]> {
    return (await this.deps.settings.get('feature.subscriptions_enabled'))
      ? ['coins', 'subscription']
      : ['coins'];
  }

  /** What the app shows: active products with their price in the store and country (or the store's default). */
  async catalogue(store: Store, country: string | null): Promise<ProductWithPrice[]> {
    const products = await this.deps.repo.list({ activeOnly: true, types: await this.offeredTypes() });
    const prices = await this.deps.repo.pricesOf(products.map((p) => p.id));
    return products.map((p) => {
      const mine = prices.filter((x) => x.productId === p.id && x.store === store);
      return {
        ...p,
        price: mine.find((x) => x.country === country) ?? mine.find((x) => x.country === '*') ?? null,
      };
    });
  }

  async all(): Promise<Product[]> {
    return this.deps.repo.list({ activeOnly: false, types: ['coins', 'subscription'] });
  }

  async byId(id: string): Promise<Product | undefined> {
    return this.deps.repo.byId(id);
  }

  async bySku(sku: string): Promise<Product | undefined> {
    return this.deps.repo.bySku(sku);
  }

  async pricesOf(productId: string): Promise<Price[]> {
    return this.deps.repo.pricesOf([productId]);
  }

  async create(actor: AuditActor, draft: ProductDraft): Promise<Product> {
    check(draft);
    return withTransaction(this.deps.db, async (tx) => {
      let product: Product;
      try {
        product = await this.deps.repo.insert(tx, draft, this.deps.clock.now());
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`A product with sku ${draft.sku} exists already`);
        throw error;
      }
      await this.deps.repo.replacePrices(tx, product.id, draft.prices);
      await this.deps.audit.record(tx, actor, {
        action: 'payment.product_created',
        targetType: 'coin_product',
        targetId: product.id,
        before: null,
        after: describe(product, draft.prices),
      });
      return product;
    });
  }

  /** Replaces what can change (not sku or type: stores and past purchases refer to them). */
  async update(actor: AuditActor, id: string, draft: Omit<ProductDraft, 'sku' | 'type'>): Promise<Product> {
    return withTransaction(this.deps.db, async (tx) => {
      const before = await this.deps.repo.lock(tx, id);
      if (!before) throw notFound('Product');
      check({ ...draft, type: before.type, sku: before.sku });
      const beforePrices = await this.deps.repo.pricesOf([id], tx);
      const product = await this.deps.repo.update(tx, id, draft, this.deps.clock.now());
      await this.deps.repo.replacePrices(tx, id, draft.prices);
      await this.deps.audit.record(tx, actor, {
        action: 'payment.product_updated',
        targetType: 'coin_product',
        targetId: id,
        before: describe(before, beforePrices),
        after: describe(product, draft.prices),
      });
      return product;
    });
  }
}

function check(draft: ProductDraft): void {
  if (draft.type === 'subscription' && !draft.period) {
    throw badInput('A subscription needs a period such as P1M', { field: 'period' });
  }
  if (draft.type === 'coins' && draft.period)
    throw badInput('A coin pack has no period', { field: 'period' });
  const seen = new Set<string>();
  for (const price of draft.prices) {
    const key = `${price.store}:${price.country}`;
    if (seen.has(key)) throw badInput(`Two prices for ${key}`, { field: 'prices' });
    seen.add(key);
  }
}
