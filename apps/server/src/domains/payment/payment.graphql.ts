import { z } from 'zod';
import { AppError } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { AppleUnavailableError } from './apple-purchases.ts';
import type { Purchase } from './payment.repository.ts';
import type { PurchaseState } from './payment.tables.ts';
import type { Price, Product } from './product.repository.ts';
import type { ProductWithPrice } from './product.service.ts';

const ADMIN = { role: ['admin' as const] };
const STAFF = { role: ['moderator' as const, 'admin' as const] };

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const firstSchema = z.number().int().min(1).max(100);
const skuSchema = z.string().regex(/^[a-zA-Z0-9._]{1,100}$/, 'must be a store product id');
const countrySchema = z
  .string()
  .regex(/^[a-zA-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')
  .transform((c) => c.toUpperCase());
const coinsSchema = (min: bigint) => z.bigint().min(min).max(1_000_000_000n);
const priceSchema = z.object({
  store: z.enum(['apple', 'google', 'sandbox']),
  country: z.union([z.literal('*'), countrySchema]),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code')
    .transform((c) => c.toUpperCase()),
  amountMinor: z.number().int().min(0).max(100_000_000).transform(BigInt),
});
const productChangesSchema = z.object({
  title: z.string().trim().min(1).max(100),
  coins: coinsSchema(1n),
  bonusCoins: coinsSchema(0n),
  period: z
    .string()
    .regex(/^P\d{1,3}[DWMY]$/, 'must be an ISO 8601 period such as P1M')
    .nullable(),
  active: z.boolean(),
  sortOrder: z.number().int().min(-1000).max(1000),
  prices: z.array(priceSchema).max(200),
});

const StoreEnum = builder.enumType('PaymentStore', {
  values: {
    APPLE: { value: 'apple', description: 'App Store (StoreKit 2)' },
    GOOGLE: { value: 'google', description: 'Google Play Billing' },
    SANDBOX: { value: 'sandbox', description: 'The local sandbox store (development and tests)' },
  } as const,
});

const ProductTypeEnum = builder.enumType('CoinProductType', {
  values: {
    COINS: { value: 'coins', description: 'A coin pack (consumable)' },
    SUBSCRIPTION: {
      value: 'subscription',
      description: 'Coins every period (feature.subscriptions_enabled)',
    },
  } as const,
});

const PurchaseStateEnum = builder.enumType('PurchaseState', {
  values: {
    PENDING: { value: 'pending', description: 'The store has not taken the money yet' },
    VERIFIED: { value: 'verified', description: 'Verified, being credited' },
    CREDITED: { value: 'credited', description: 'Coins credited' },
    REFUNDED: { value: 'refunded', description: 'Refunded by the store; coins taken back' },
    REVOKED: {
      value: 'revoked',
      description: 'Revoked by the store (e.g. family sharing); coins taken back',
    },
    FAILED: { value: 'failed', description: 'Canceled or refused by the store' },
  } as const,
});

const PriceRef = builder.objectRef<Price>('CoinProductPrice').implement({
  description: "A product's price in one store and country ('*': the store's default)",
  authScopes: { public: true },
  fields: (t) => ({
    store: t.field({ type: StoreEnum, resolve: (p) => p.store }),
    country: t.exposeString('country'),
    currency: t.exposeString('currency'),
    amountMinor: t.int({
      description: "In the currency's minor unit (cents)",
      resolve: (p) => Number(p.amountMinor),
    }),
  }),
});

const ProductRef = builder.objectRef<Product & { price?: Price | null }>('CoinProduct').implement({
  description: 'Something to buy in a store: a coin pack or a coin subscription',
  authScopes: { public: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    sku: t.exposeString('sku', { description: 'The product id in App Store Connect / Play Console' }),
    type: t.field({ type: ProductTypeEnum, resolve: (p) => p.type }),
    title: t.exposeString('title'),
    coins: t.field({ type: 'Coins', description: 'Paid coins credited', resolve: (p) => p.coins }),
    bonusCoins: t.field({ type: 'Coins', description: 'Bonus coins on top', resolve: (p) => p.bonusCoins }),
    period: t.exposeString('period', { nullable: true, description: 'ISO 8601 period of a subscription' }),
    price: t.field({
      type: PriceRef,
      nullable: true,
      description: 'In the asked store and country (coinProducts only)',
      resolve: (p) => p.price ?? null,
    }),
    active: t.exposeBoolean('active', { authScopes: ADMIN }),
    sortOrder: t.exposeInt('sortOrder', { authScopes: ADMIN }),
    prices: t.field({
      type: [PriceRef],
      authScopes: ADMIN,
      resolve: (p, _args, ctx) => ctx.services.payments.products.pricesOf(p.id),
    }),
  }),
});

const PurchaseRef = builder.objectRef<Purchase>('Purchase').implement({
  description: 'One store transaction and what it credited',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    product: t.field({
      type: ProductRef,
      resolve: async (p, _args, ctx) => {
        const product = await ctx.services.payments.products.byId(p.productId);
        if (!product) throw new Error(`purchase ${p.id} refers to a missing product`);
        return product;
      },
    }),
    store: t.field({ type: StoreEnum, resolve: (p) => p.store }),
    storeTransactionId: t.exposeString('storeTransactionId'),
    state: t.field({ type: PurchaseStateEnum, resolve: (p) => p.state }),
    coins: t.field({ type: 'Coins', resolve: (p) => p.coins }),
    bonusCoins: t.field({ type: 'Coins', resolve: (p) => p.bonusCoins }),
    priceAmountMinor: t.int({
      nullable: true,
      resolve: (p) => (p.priceAmountMinor === null ? null : Number(p.priceAmountMinor)),
    }),
    currency: t.exposeString('currency', { nullable: true }),
    refundedCoins: t.field({ type: 'Coins', nullable: true, resolve: (p) => p.refundedCoins }),
    refundedBonusCoins: t.field({ type: 'Coins', nullable: true, resolve: (p) => p.refundedBonusCoins }),
    purchasedAt: t.field({ type: 'DateTime', resolve: (p) => p.purchasedAt }),
    creditedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.creditedAt }),
    refundedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.refundedAt }),
  }),
});

const PurchasePage = builder
  .objectRef<{ items: Purchase[]; nextCursor: string | null }>('PurchasePage')
  .implement({
    description: 'Purchases, newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: { signedIn: true },
    fields: (t) => ({
      items: t.field({ type: [PurchaseRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const PriceInput = builder.inputType('CoinProductPriceInput', {
  fields: (t) => ({
    store: t.field({ type: StoreEnum, required: true }),
    country: t.string({ required: true, description: "ISO 3166-1 alpha-2, or '*' for the store's default" }),
    currency: t.string({ required: true, description: 'ISO 4217' }),
    amountMinor: t.int({ required: true, description: "In the currency's minor unit" }),
  }),
});

const CreateProductInput = builder.inputType('CreateCoinProductInput', {
  fields: (t) => ({
    sku: t.string({ required: true, description: 'The product id in the stores; cannot change later' }),
    type: t.field({ type: ProductTypeEnum, required: true }),
    title: t.string({ required: true }),
    coins: t.field({ type: 'Coins', required: true }),
    bonusCoins: t.field({ type: 'Coins', required: false }),
    period: t.string({ required: false, description: 'Subscriptions only: P1W, P1M, P1Y…' }),
    active: t.boolean({ required: false, description: 'Default true' }),
    sortOrder: t.int({ required: false }),
    prices: t.field({ type: [PriceInput], required: true }),
  }),
});

const UpdateProductInput = builder.inputType('UpdateCoinProductInput', {
  description: 'Replaces everything but sku and type; prices are replaced as a whole',
  fields: (t) => ({
    title: t.string({ required: true }),
    coins: t.field({ type: 'Coins', required: true }),
    bonusCoins: t.field({ type: 'Coins', required: true }),
    period: t.string({ required: false }),
    active: t.boolean({ required: true }),
    sortOrder: t.int({ required: true }),
    prices: t.field({ type: [PriceInput], required: true }),
  }),
});

const page = (items: Purchase[], first: number) => {
  const slice = items.slice(0, first);
  return { items: slice, nextCursor: items.length > first ? (slice.at(-1)?.seq.toString() ?? null) : null };
};

const pageArgs = (args: { first?: number | null; after?: string | null }) => ({
  first: parseOrThrow(firstSchema, args.first ?? 20, 'first'),
  before: args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined,
});

/** Apple unreachable (OCSP): a typed retryable error instead of a generic one. */
const mapApple = async <T>(work: Promise<T>): Promise<T> => {
  try {
    return await work;
  } catch (error) {
    if (error instanceof AppleUnavailableError) {
      throw new AppError('CONFLICT', 'Apple could not be reached to verify the purchase; try again');
    }
    throw error;
  }
};

builder.queryFields((t) => ({
  coinProducts: t.field({
    type: [ProductRef],
    description: 'Products on sale, with their price in this store and country',
    authScopes: { public: true },
    args: {
      store: t.arg({ type: StoreEnum, required: true }),
      country: t.arg.string({ required: false, description: 'ISO 3166-1 alpha-2' }),
    },
    resolve: (_root, args, ctx): Promise<ProductWithPrice[]> => {
      const country = args.country ? parseOrThrow(countrySchema, args.country, 'country') : null;
      return ctx.services.payments.products.catalogue(args.store, country);
    },
  }),
  myPurchases: t.field({
    type: PurchasePage,
    description: "The caller's purchases, newest first",
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const { first, before } = pageArgs(args);
      const items = await ctx.services.payments.service.list(
        { userId: requirePrincipal(ctx).userId },
        first + 1,
        before,
      );
      return page(items, first);
    },
  }),
  adminCoinProducts: t.field({
    type: [ProductRef],
    description: 'Every product, active or not, with all prices',
    authScopes: ADMIN,
    resolve: (_root, _args, ctx) => ctx.services.payments.products.all(),
  }),
  adminPurchases: t.field({
    type: PurchasePage,
    description: 'Purchases, newest first, optionally of one user or in one state',
    authScopes: STAFF,
    args: {
      userId: t.arg.id({ required: false }),
      state: t.arg({ type: PurchaseStateEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const { first, before } = pageArgs(args);
      const userId = args.userId
        ? parseOrThrow(z.uuid('must be an id'), String(args.userId), 'userId')
        : undefined;
      const filter: { userId?: string; state?: PurchaseState } = {
        ...(userId ? { userId } : {}),
        ...(args.state ? { state: args.state } : {}),
      };
      return page(await ctx.services.payments.service.list(filter, first + 1, before), first);
    },
  }),
}));

builder.mutationFields((t) => ({
  verifyApplePurchase: t.field({
    type: PurchaseRef,
    description:
      'Credits an App Store purchase: the StoreKit 2 signed transaction (JWS). Its appAccountToken must be ' +
      "the caller's user id. Safe to repeat: a transaction is credited once.",
    authScopes: { signedIn: true },
    args: { signedTransaction: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const jws = parseOrThrow(z.string().min(20).max(20_000), args.signedTransaction, 'signedTransaction');
      return mapApple(ctx.services.payments.apple.verifyPurchase(requirePrincipal(ctx).userId, jws));
    },
  }),
  verifyGooglePurchase: t.field({
    type: PurchaseRef,
    description:
      'Credits a Google Play purchase (checked with the Play Developer API, then consumed). Safe to repeat.',
    authScopes: { signedIn: true },
    args: { productId: t.arg.string({ required: true }), purchaseToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const sku = parseOrThrow(skuSchema, args.productId, 'productId');
      const token = parseOrThrow(z.string().min(1).max(2000), args.purchaseToken, 'purchaseToken');
      return ctx.services.payments.google.verifyPurchase(requirePrincipal(ctx).userId, sku, token);
    },
  }),
  sandboxPurchase: t.field({
    type: PurchaseRef,
    description:
      'Buys a product from the sandbox store (development and tests only; FORBIDDEN when it is disabled)',
    authScopes: { signedIn: true },
    args: { productId: t.arg.string({ required: true }), country: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) => {
      const sku = parseOrThrow(skuSchema, args.productId, 'productId');
      const country = args.country ? parseOrThrow(countrySchema, args.country, 'country') : null;
      return mapApple(ctx.services.payments.sandboxPurchase(requirePrincipal(ctx).userId, sku, country));
    },
  }),
  createCoinProduct: t.field({
    type: ProductRef,
    description: 'Adds a product. Audited.',
    authScopes: ADMIN,
    args: { input: t.arg({ type: CreateProductInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const sku = parseOrThrow(skuSchema, input.sku, 'sku');
      const changes = parseOrThrow(
        productChangesSchema,
        {
          title: input.title,
          coins: input.coins,
          bonusCoins: input.bonusCoins ?? 0n,
          period: input.period ?? null,
          active: input.active ?? true,
          sortOrder: input.sortOrder ?? 0,
          prices: input.prices,
        },
        'input',
      );
      return ctx.services.payments.products.create(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        { ...changes, sku, type: input.type },
      );
    },
  }),
  updateCoinProduct: t.field({
    type: ProductRef,
    description: 'Changes a product (deactivate it to stop selling it). Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateProductInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => {
      const productId = parseOrThrow(z.uuid('must be an id'), String(id), 'id');
      const changes = parseOrThrow(productChangesSchema, { ...input, period: input.period ?? null }, 'input');
      return ctx.services.payments.products.update(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        productId,
        changes,
      );
    },
  }),
}));
