import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { StoredSandboxChain } from '../../providers/payments/sandbox-store.ts';
import type { Store } from './payment.tables.ts';

export type RevenueRow = {
  day: string;
  store: Store;
  currency: string | null;
  purchases: number;
  coins: bigint;
  amountMinor: bigint;
  refunds: number;
  refundedCoins: bigint;
  refundedAmountMinor: bigint;
};

/** Reads for reports over `payment.purchases`, and the sandbox store's chain (`payment.sandbox_chain`). */
export class PaymentReportsRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async loadSandboxChain(): Promise<StoredSandboxChain | undefined> {
    const row = await this.db
      .selectFrom('payment.sandbox_chain')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirst();
    return (
      row && {
        rootDer: row.root_der,
        intermediateDer: row.intermediate_der,
        leafDer: row.leaf_der,
        leafPrivateKeyPem: row.leaf_private_key_pem,
      }
    );
  }

  async saveSandboxChainIfAbsent(chain: StoredSandboxChain): Promise<StoredSandboxChain> {
    await this.db
      .insertInto('payment.sandbox_chain')
      .values({
        id: 1,
        root_der: chain.rootDer,
        intermediate_der: chain.intermediateDer,
        leaf_der: chain.leafDer,
        leaf_private_key_pem: chain.leafPrivateKeyPem,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const stored = await this.loadSandboxChain();
    if (!stored) throw new Error('sandbox chain was not saved');
    return stored;
  }

  /**
   * Per UTC day, store and currency: purchases credited that day and refunds made that day (a refund
   * counts on the day it happened, not on its purchase's day).
   */
  async dailyRevenue(from: Date, to: Date): Promise<RevenueRow[]> {
    const result = await sql<{
      day: string;
      store: Store;
      currency: string | null;
      purchases: string;
      coins: string;
      amount_minor: string;
      refunds: string;
      refunded_coins: string;
      refunded_amount_minor: string;
    }>`
      with events as (
        select to_char(credited_at at time zone 'UTC', 'YYYY-MM-DD') as day, store, currency,
               1 as purchases, coins + bonus_coins as coins, coalesce(price_amount_minor, 0) as amount_minor,
               0 as refunds, 0::bigint as refunded_coins, 0::bigint as refunded_amount_minor
          from payment.purchases
         where credited_at >= ${from} and credited_at < ${to}
        union all
        select to_char(refunded_at at time zone 'UTC', 'YYYY-MM-DD'), store, currency,
               0, 0, 0,
               1, coalesce(refunded_coins, 0) + coalesce(refunded_bonus_coins, 0), coalesce(price_amount_minor, 0)
          from payment.purchases
         where refunded_at >= ${from} and refunded_at < ${to} and credited_at is not null
      )
      select day, store, currency,
             sum(purchases)::text as purchases, sum(coins)::text as coins, sum(amount_minor)::text as amount_minor,
             sum(refunds)::text as refunds, sum(refunded_coins)::text as refunded_coins,
             sum(refunded_amount_minor)::text as refunded_amount_minor
        from events
       group by day, store, currency
       order by day, store, currency
    `.execute(this.db);
    return result.rows.map((r) => ({
      day: r.day,
      store: r.store,
      currency: r.currency,
      purchases: Number(r.purchases),
      coins: BigInt(r.coins),
      amountMinor: BigInt(r.amount_minor),
      refunds: Number(r.refunds),
      refundedCoins: BigInt(r.refunded_coins),
      refundedAmountMinor: BigInt(r.refunded_amount_minor),
    }));
  }
}
