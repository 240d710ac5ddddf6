import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { ProductType, Store } from './payment.tables.ts';

type Executor = Db | Tx;

export type Price = { store: Store; country: string; currency: string; amountMinor: bigint };

export type Product = {
  id: string;
  sku: string;
  type: ProductType;
  title: string;
  coins: bigint;
  bonusCoins: bigint;
  period: string | null;
  active: boolean;
  sortOrder: number;
  createdAt: Date;
  updatedAt: Date;
};

export type ProductInput = {
  sku: string;
  type: ProductType;
  title: string;
  coins: bigint;
  bonusCoins: bigint;
  period: string | null;
  active: boolean;
  sortOrder: number;
};

const COLUMNS = [
  'id',
  'sku',
  'type',
  'title',
  'coins',
  'bonus_coins',
  'period',
  'active',
  'sort_order',
  'created_at',
  'updated_at',
] as const;

type Row = {
  id: string;
  sku: string;
  type: ProductType;
  title: string;
  coins: bigint;
  bonus_coins: bigint;
  period: string | null;
  active: boolean;
  sort_order: number;
  created_at: Date;
  updated_at: Date;
};

const toProduct = (r: Row): Product => ({
  id: r.id,
  sku: r.sku,
  type: r.type,
  title: r.title,
  coins: r.coins,
  bonusCoins: r.bonus_coins,
  period: r.period,
  active: r.active,
  sortOrder: r.sort_order,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The only code that reads or writes `payment.products` and `payment.prices`. */
export class ProductRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async list(
    options: { activeOnly: boolean; types: ProductType[] },
    ex: Executor = this.db,
  ): Promise<Product[]> {
    if (options.types.length === 0) return [];
    let query = ex.selectFrom('payment.products').select(COLUMNS).where('type', 'in', options.types);
    if (options.activeOnly) query = query.where('active', '=', true);
    const rows = await query.orderBy('sort_order', 'asc').orderBy('coins', 'asc').execute();
    return rows.map(toProduct);
  }

  async byId(id: string, ex: Executor = this.db): Promise<Product | undefined> {
    const row = await ex
      .selectFrom('payment.products')
      .select(COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toProduct(row);
  }

  async bySku(sku: string, ex: Executor = this.db): Promise<Product | undefined> {
    const row = await ex
      .selectFrom('payment.products')
      .select(COLUMNS)
      .where('sku', '=', sku)
      .executeTakeFirst();
    return row && toProduct(row);
  }

  async lock(tx: Tx, id: string): Promise<Product | undefined> {
    const row = await tx
      .selectFrom('payment.products')
      .select(COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toProduct(row);
  }

  async insert(tx: Tx, input: ProductInput, at: Date): Promise<Product> {
    const row = await tx
      .insertInto('payment.products')
      .values({
        sku: input.sku,
        type: input.type,
        title: input.title,
        coins: input.coins,
        bonus_coins: input.bonusCoins,
        period: input.period,
        active: input.active,
        sort_order: input.sortOrder,
        created_at: at,
        updated_at: at,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toProduct(row);
  }

  async update(tx: Tx, id: string, input: Omit<ProductInput, 'sku' | 'type'>, at: Date): Promise<Product> {
    const row = await tx
      .updateTable('payment.products')
      .set({
        title: input.title,
        coins: input.coins,
        bonus_coins: input.bonusCoins,
        period: input.period,
        active: input.active,
        sort_order: input.sortOrder,
        updated_at: at,
      })
      .where('id', '=', id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toProduct(row);
  }

  async pricesOf(
    productIds: readonly string[],
    ex: Executor = this.db,
  ): Promise<Array<Price & { productId: string }>> {
    if (productIds.length === 0) return [];
    const rows = await ex
      .selectFrom('payment.prices')
      .selectAll()
      .where('product_id', 'in', productIds)
      .orderBy('store')
      .orderBy('country')
      .execute();
    return rows.map((r) => ({
      productId: r.product_id,
      store: r.store,
      country: r.country,
      currency: r.currency,
      amountMinor: r.amount_minor,
    }));
  }

  /** The price in `country`, else the store's default ('*'). */
  async priceFor(
    productId: string,
    store: Store,
    country: string | null,
    ex: Executor = this.db,
  ): Promise<Price | undefined> {
    const rows = await ex
      .selectFrom('payment.prices')
      .selectAll()
      .where('product_id', '=', productId)
      .where('store', '=', store)
      .where('country', 'in', country ? [country, '*'] : ['*'])
      .execute();
    const row = rows.find((r) => r.country === country) ?? rows.find((r) => r.country === '*');
    return (
      row && { store: row.store, country: row.country, currency: row.currency, amountMinor: row.amount_minor }
    );
  }

  /** Replaces every price of the product. */
  async replacePrices(tx: Tx, productId: string, prices: Price[]): Promise<void> {
    await tx.deleteFrom('payment.prices').where('product_id', '=', productId).execute();
    if (prices.length === 0) return;
    await tx
      .insertInto('payment.prices')
      .values(
        prices.map((p) => ({
          product_id: productId,
          store: p.store,
          country: p.country,
          currency: p.currency,
          amount_minor: p.amountMinor,
        })),
      )
      .execute();
  }
}
