import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { AccountKind, LedgerTransactionKind, OwnerKind } from './balance.accounts.ts';

/** One (day, transaction kind, account kind, owner kind) cell: coins credited and debited. */
export type LedgerDailyCell = {
  /** UTC day, as YYYY-MM-DD. */
  day: string;
  transactionKind: LedgerTransactionKind;
  ownerKind: OwnerKind;
  accountKind: AccountKind;
  credits: bigint;
  debits: bigint;
};

export type LedgerDailyCount = { day: string; transactionKind: LedgerTransactionKind; transactions: bigint };

export type EarnedWindow = { owner: { kind: 'user' | 'agency'; id: string }; from: Date; to: Date };

/**
 * Read-only reports over the ledger's transactions and postings (the balance schema is only read
 * here). Amounts are summed from postings, so they agree with the balances by construction.
 */
export class LedgerReports {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Coins credited to each owner's `earnings_pending` within its window [from, to): what they earned
   * (clawbacks and releases, being debits, are not subtracted). One total per window, in order.
   */
  async earnedBetween(windows: readonly EarnedWindow[]): Promise<bigint[]> {
    return Promise.all(
      windows.map(async (w) => {
        if (w.to <= w.from) return 0n;
        const row = await this.db
          .selectFrom('balance.postings as p')
          .innerJoin('balance.accounts as a', 'a.id', 'p.account_id')
          .select(sql<string | null>`sum(p.amount)`.as('total'))
          .where('a.owner_kind', '=', w.owner.kind)
          .where('a.owner_id', '=', w.owner.id)
          .where('a.kind', '=', 'earnings_pending')
          .where('p.amount', '>', 0n)
          .where('p.created_at', '>=', w.from)
          .where('p.created_at', '<', w.to)
          .executeTakeFirst();
        return BigInt(row?.total ?? 0);
      }),
    );
  }

  /** Credits and debits per UTC day, transaction kind and account kind, for postings in [from, to). */
  async dailyCells(from: Date, to: Date): Promise<LedgerDailyCell[]> {
    const day = sql<string>`to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD')`;
    const rows = await this.db
      .selectFrom('balance.postings as p')
      .innerJoin('balance.transactions as t', 't.id', 'p.transaction_id')
      .innerJoin('balance.accounts as a', 'a.id', 'p.account_id')
      .select([
        day.as('day'),
        't.kind as transaction_kind',
        'a.owner_kind',
        'a.kind as account_kind',
        sql<string>`coalesce(sum(p.amount) filter (where p.amount > 0), 0)`.as('credits'),
        sql<string>`coalesce(-sum(p.amount) filter (where p.amount < 0), 0)`.as('debits'),
      ])
      .where('p.created_at', '>=', from)
      .where('p.created_at', '<', to)
      .groupBy([day, 't.kind', 'a.owner_kind', 'a.kind'])
      .orderBy(day)
      .execute();
    return rows.map((r) => ({
      day: r.day,
      transactionKind: r.transaction_kind,
      ownerKind: r.owner_kind,
      accountKind: r.account_kind,
      credits: BigInt(r.credits),
      debits: BigInt(r.debits),
    }));
  }

  /** Ledger transactions per UTC day and kind, created in [from, to). */
  async dailyCounts(from: Date, to: Date): Promise<LedgerDailyCount[]> {
    const day = sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`;
    const rows = await this.db
      .selectFrom('balance.transactions')
      .select([day.as('day'), 'kind', sql<string>`count(*)`.as('transactions')])
      .where('created_at', '>=', from)
      .where('created_at', '<', to)
      .groupBy([day, 'kind'])
      .orderBy(day)
      .execute();
    return rows.map((r) => ({ day: r.day, transactionKind: r.kind, transactions: BigInt(r.transactions) }));
  }
}
