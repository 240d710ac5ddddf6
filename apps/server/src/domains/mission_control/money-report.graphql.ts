import { builder } from '../../platform/graphql/builder.ts';
import type { MoneyReportDay, StoreRevenue } from './money-report.service.ts';

const ADMIN = { role: ['admin' as const] };

const StoreRevenueRef = builder.objectRef<StoreRevenue>('StoreRevenue').implement({
  description: 'Purchases credited and refunds made on one day, for one store and currency',
  authScopes: ADMIN,
  fields: (t) => ({
    store: t.exposeString('store', { description: 'apple, google or sandbox' }),
    currency: t.exposeString('currency', { nullable: true, description: 'ISO 4217; null for the sandbox' }),
    purchases: t.exposeInt('purchases'),
    coins: t.field({ type: 'Coins', description: 'Bonus coins included', resolve: (r) => r.coins }),
    amountMinor: t.string({
      description: "Money taken, in the currency's minor unit, as a decimal string",
      resolve: (r) => r.amountMinor.toString(),
    }),
    refunds: t.exposeInt('refunds'),
    refundedCoins: t.field({ type: 'Coins', resolve: (r) => r.refundedCoins }),
    refundedAmountMinor: t.string({
      description: "In the currency's minor unit, as a decimal string",
      resolve: (r) => r.refundedAmountMinor.toString(),
    }),
  }),
});

const MoneyReportDayRef = builder.objectRef<MoneyReportDay>('MoneyReportDay').implement({
  description:
    'One UTC day of money movements. Coins come from the ledger’s postings; counts are ledger transactions.',
  authScopes: ADMIN,
  fields: (t) => ({
    day: t.exposeString('day', { description: 'YYYY-MM-DD (UTC)' }),
    coinsBought: t.field({
      type: 'Coins',
      description: 'Paid coins credited by purchases',
      resolve: (d) => d.coinsBought,
    }),
    bonusCoinsGranted: t.field({ type: 'Coins', resolve: (d) => d.bonusCoinsGranted }),
    coinsRefunded: t.field({
      type: 'Coins',
      description: 'Paid coins taken back by store refunds',
      resolve: (d) => d.coinsRefunded,
    }),
    coinsSpentOnCalls: t.field({ type: 'Coins', resolve: (d) => d.coinsSpentOnCalls }),
    coinsSpentOnGifts: t.field({ type: 'Coins', resolve: (d) => d.coinsSpentOnGifts }),
    platformRevenue: t.field({
      type: 'Coins',
      description: 'What the platform kept from calls and gifts',
      resolve: (d) => d.platformRevenue,
    }),
    streamerEarnings: t.field({ type: 'Coins', resolve: (d) => d.streamerEarnings }),
    agencyEarnings: t.field({ type: 'Coins', resolve: (d) => d.agencyEarnings }),
    earningsClawedBack: t.field({ type: 'Coins', resolve: (d) => d.earningsClawedBack }),
    payoutsRequested: t.field({ type: 'Coins', resolve: (d) => d.payoutsRequested }),
    payoutsReturned: t.field({
      type: 'Coins',
      description: 'Rejected payouts',
      resolve: (d) => d.payoutsReturned,
    }),
    payoutsPaid: t.field({ type: 'Coins', resolve: (d) => d.payoutsPaid }),
    purchases: t.exposeInt('purchases'),
    refunds: t.exposeInt('refunds'),
    gifts: t.exposeInt('gifts'),
    payoutRequests: t.exposeInt('payoutRequests'),
    payoutsPaidCount: t.exposeInt('payoutsPaidCount'),
    revenue: t.field({
      type: [StoreRevenueRef],
      description: 'Money per store and currency, from the payment records',
      resolve: (d) => d.revenue,
    }),
  }),
});

builder.queryFields((t) => ({
  moneyReport: t.field({
    type: [MoneyReportDayRef],
    description: 'Money per UTC day over [from, to) (at most 366 days), every day listed',
    authScopes: ADMIN,
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (_root, args, ctx) => ctx.services.moneyReport.daily(args.from, args.to),
  }),
}));
