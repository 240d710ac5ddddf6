import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import {
  type AccountKind,
  type AccountRef,
  accountKey,
  type LedgerTransactionKind,
  type OwnerKind,
  PLATFORM_SHARDS,
} from './balance.accounts.ts';

type Executor = Db | Tx;

export type AccountRow = {
  id: bigint;
  ownerKind: OwnerKind;
  ownerId: string | null;
  kind: AccountKind;
  shards: number;
};

export type LockedBalance = AccountRow & { balance: bigint; version: bigint };

export type StoredTransaction = {
  id: string;
  seq: bigint;
  kind: LedgerTransactionKind;
  requestHash: string;
  spentPaid: bigint | null;
  spentBonus: bigint | null;
  createdAt: Date;
};

export type StoredPosting = {
  id: bigint;
  transactionId: string;
  accountId: bigint;
  ownerKind: OwnerKind;
  ownerId: string | null;
  accountKind: AccountKind;
  amount: bigint;
  balanceAfter: bigint;
  version: bigint;
  createdAt: Date;
};

export type HistoryEntry = StoredPosting & {
  transactionKind: LedgerTransactionKind;
  metadata: Record<string, unknown>;
};

const ownerIdOf = (ref: AccountRef) => (ref.owner.kind === 'platform' ? null : ref.owner.id);

/** The only code that touches the balance schema's ledger tables. */
export class LedgerRepository {
  /** Platform accounts exist from the first migration on and never change: their ids are cached. */
  private readonly platformIds = new Map<string, AccountRow>();

  /** Creates the accounts that do not exist yet, with their balance rows, in the caller's transaction. */
  async createAccounts(tx: Tx, refs: readonly AccountRef[]): Promise<void> {
    for (const ref of refs) {
      const shards = ref.owner.kind === 'platform' ? PLATFORM_SHARDS : 1;
      await sql`
        with created as (
          insert into balance.accounts (owner_kind, owner_id, kind, shards)
          values (${ref.owner.kind}, ${ownerIdOf(ref)}, ${ref.kind}, ${shards})
          on conflict do nothing
          returning id, shards
        )
        insert into balance.balances (account_id, shard)
        select created.id, shard from created, generate_series(0, created.shards - 1) as shard
      `.execute(tx);
    }
  }

  async platformAccount(executor: Executor, ref: AccountRef): Promise<AccountRow> {
    const key = accountKey(ref);
    const cached = this.platformIds.get(key);
    if (cached) return cached;
    const row = await executor
      .selectFrom('balance.accounts')
      .select(['id', 'owner_kind', 'owner_id', 'kind', 'shards'])
      .where('owner_kind', '=', 'platform')
      .where('kind', '=', ref.kind)
      .executeTakeFirstOrThrow();
    const account = toAccount(row);
    this.platformIds.set(key, account);
    return account;
  }

  /**
   * Locks the balance rows of these (single-shard) accounts in account-id order, so two
   * transactions touching the same accounts queue instead of deadlocking. Missing accounts are
   * left out: the caller creates them and asks again.
   */
  async lockAccounts(tx: Tx, refs: readonly AccountRef[]): Promise<LockedBalance[]> {
    if (refs.length === 0) return [];
    const keys = refs.map((ref) => sql`(${ref.owner.kind}, ${ownerIdOf(ref)}::uuid, ${ref.kind})`);
    const result = await sql<{
      id: bigint;
      owner_kind: OwnerKind;
      owner_id: string | null;
      kind: AccountKind;
      shards: number;
      balance: bigint;
      version: bigint;
    }>`
      select a.id, a.owner_kind, a.owner_id, a.kind, a.shards, b.balance, b.version
      from balance.accounts a
      join balance.balances b on b.account_id = a.id and b.shard = 0
      where (a.owner_kind, a.owner_id, a.kind) in (${sql.join(keys)})
      order by a.id
      for update of b
    `.execute(tx);
    return result.rows.map((row) => ({ ...toAccount(row), balance: row.balance, version: row.version }));
  }

  async findTransaction(executor: Executor, idempotencyKey: string): Promise<StoredTransaction | undefined> {
    const row = await executor
      .selectFrom('balance.transactions')
      .select(['id', 'seq', 'kind', 'request_hash', 'spent_paid', 'spent_bonus', 'created_at'])
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    return row && toTransaction(row);
  }

  /** Inserts the transaction unless its key is taken (then undefined: someone committed it first). */
  async insertTransaction(
    tx: Tx,
    values: {
      idempotencyKey: string;
      requestHash: string;
      kind: LedgerTransactionKind;
      metadata: Record<string, unknown>;
      actorId: string | null;
      spent: { paid: bigint; bonus: bigint } | null;
      createdAt: Date;
    },
  ): Promise<StoredTransaction | undefined> {
    const row = await tx
      .insertInto('balance.transactions')
      .values({
        idempotency_key: values.idempotencyKey,
        request_hash: values.requestHash,
        kind: values.kind,
        metadata: JSON.stringify(values.metadata),
        actor_id: values.actorId,
        spent_paid: values.spent?.paid ?? null,
        spent_bonus: values.spent?.bonus ?? null,
        created_at: values.createdAt,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning(['id', 'seq', 'kind', 'request_hash', 'spent_paid', 'spent_bonus', 'created_at'])
      .executeTakeFirst();
    return row && toTransaction(row);
  }

  /**
   * Applies the deltas to the balance rows (one statement) and returns each row's new balance and
   * version. The rows of single-shard accounts are already locked by `lockAccounts`.
   */
  async applyDeltas(
    tx: Tx,
    deltas: ReadonlyArray<{ accountId: bigint; shard: number; delta: bigint }>,
    at: Date,
  ): Promise<Array<{ accountId: bigint; shard: number; balance: bigint; version: bigint }>> {
    const values = deltas.map((d) => sql`(${d.accountId}::bigint, ${d.shard}::smallint, ${d.delta}::bigint)`);
    const result = await sql<{ account_id: bigint; shard: number; balance: bigint; version: bigint }>`
      update balance.balances b
      set balance = b.balance + v.delta, version = b.version + 1, updated_at = ${at}
      from (values ${sql.join(values)}) as v(account_id, shard, delta)
      where b.account_id = v.account_id and b.shard = v.shard
      returning b.account_id, b.shard, b.balance, b.version
    `.execute(tx);
    return result.rows.map((r) => ({
      accountId: r.account_id,
      shard: r.shard,
      balance: r.balance,
      version: r.version,
    }));
  }

  async insertPostings(
    tx: Tx,
    rows: ReadonlyArray<{
      transactionId: string;
      accountId: bigint;
      shard: number;
      amount: bigint;
      balanceAfter: bigint;
      version: bigint;
      createdAt: Date;
    }>,
  ): Promise<void> {
    await tx
      .insertInto('balance.postings')
      .values(
        rows.map((r) => ({
          transaction_id: r.transactionId,
          account_id: r.accountId,
          shard: r.shard,
          amount: r.amount,
          balance_after: r.balanceAfter,
          version: r.version,
          created_at: r.createdAt,
        })),
      )
      .execute();
  }

  async insertHolds(
    tx: Tx,
    rows: ReadonlyArray<{ accountId: bigint; transactionId: string; amount: bigint; releaseAt: Date }>,
  ): Promise<void> {
    if (rows.length === 0) return;
    await tx
      .insertInto('balance.earning_holds')
      .values(
        rows.map((r) => ({
          account_id: r.accountId,
          transaction_id: r.transactionId,
          amount: r.amount,
          release_at: r.releaseAt,
        })),
      )
      .execute();
  }

  async postingsOf(executor: Executor, transactionId: string): Promise<StoredPosting[]> {
    const rows = await this.postingQuery(executor)
      .where('p.transaction_id', '=', transactionId)
      .orderBy('p.id')
      .execute();
    return rows.map(toPosting);
  }

  /** Balances of one owner's accounts (no lock): missing accounts are simply absent. */
  async balancesOf(
    executor: Executor,
    owner: { kind: OwnerKind; id: string },
  ): Promise<Array<{ kind: AccountKind; balance: bigint; version: bigint }>> {
    return executor
      .selectFrom('balance.accounts as a')
      .innerJoin('balance.balances as b', 'b.account_id', 'a.id')
      .select(['a.kind', 'b.balance', 'b.version'])
      .where('a.owner_kind', '=', owner.kind)
      .where('a.owner_id', '=', owner.id)
      .execute();
  }

  /** The balance of any account: the sum of its shards. */
  async balanceOf(executor: Executor, ref: AccountRef): Promise<bigint> {
    const row = await sql<{ total: bigint | null }>`
      select sum(b.balance)::bigint as total
      from balance.accounts a join balance.balances b on b.account_id = a.id
      where a.owner_kind = ${ref.owner.kind} and a.owner_id is not distinct from ${ownerIdOf(ref)}::uuid
        and a.kind = ${ref.kind}
    `.execute(executor);
    return row.rows[0]?.total ?? 0n;
  }

  /** Postings of an owner's accounts (or of one account kind), newest first, before the cursor. */
  async history(
    executor: Executor,
    filter: { ownerKind: OwnerKind; ownerId: string | null; kinds?: readonly AccountKind[] },
    limit: number,
    before?: bigint,
  ): Promise<HistoryEntry[]> {
    let query = this.postingQuery(executor)
      .innerJoin('balance.transactions as t', 't.id', 'p.transaction_id')
      .select(['t.kind as transaction_kind', 't.metadata'])
      .where('a.owner_kind', '=', filter.ownerKind)
      .where((eb) =>
        filter.ownerId === null ? eb('a.owner_id', 'is', null) : eb('a.owner_id', '=', filter.ownerId),
      );
    if (filter.kinds?.length) query = query.where('a.kind', 'in', filter.kinds);
    if (before !== undefined) query = query.where('p.id', '<', before);
    const rows = await query.orderBy('p.id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      ...toPosting(r),
      transactionKind: r.transaction_kind,
      metadata: r.metadata as Record<string, unknown>,
    }));
  }

  /** Holds whose time has come, locked so two processes never release the same one. */
  async lockDueHolds(
    tx: Tx,
    now: Date,
    limit: number,
  ): Promise<
    Array<{ id: bigint; accountId: bigint; amount: bigint; ownerKind: OwnerKind; ownerId: string }>
  > {
    const rows = await tx
      .selectFrom('balance.earning_holds as h')
      .innerJoin('balance.accounts as a', 'a.id', 'h.account_id')
      .select(['h.id', 'h.account_id', 'h.amount', 'a.owner_kind', 'a.owner_id'])
      .where('h.released_at', 'is', null)
      .where('h.release_at', '<=', now)
      .orderBy('h.release_at')
      .limit(limit)
      .forUpdate('h')
      .skipLocked()
      .execute();
    return rows.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      amount: r.amount,
      ownerKind: r.owner_kind,
      ownerId: r.owner_id as string,
    }));
  }

  async markHoldReleased(tx: Tx, holdId: bigint, at: Date): Promise<void> {
    await tx.updateTable('balance.earning_holds').set({ released_at: at }).where('id', '=', holdId).execute();
  }

  /**
   * Earnings still held that a payer's spending produced since `since`, newest first: what a
   * refund of that payer's coins can claw back.
   */
  async heldEarningsFromPayer(
    executor: Executor,
    payerId: string,
    since: Date,
  ): Promise<Array<{ transactionId: string; ownerKind: OwnerKind; ownerId: string; amount: bigint }>> {
    const result = await sql<{
      transaction_id: string;
      owner_kind: OwnerKind;
      owner_id: string;
      amount: bigint;
    }>`
      select t.id as transaction_id, a.owner_kind, a.owner_id, sum(h.amount)::bigint as amount
      from balance.transactions t
      join balance.earning_holds h on h.transaction_id = t.id and h.released_at is null
      join balance.accounts a on a.id = h.account_id
      where t.kind in ('call_charge', 'gift') and t.created_at >= ${since}
        and exists (
          select 1 from balance.postings pw join balance.accounts w on w.id = pw.account_id
          where pw.transaction_id = t.id and pw.amount < 0
            and w.owner_kind = 'user' and w.owner_id = ${payerId}::uuid and w.kind in ('wallet_paid', 'wallet_bonus')
        )
      group by t.id, t.seq, a.owner_kind, a.owner_id
      order by t.seq desc
      limit 1000
    `.execute(executor);
    return result.rows.map((r) => ({
      transactionId: r.transaction_id,
      ownerKind: r.owner_kind,
      ownerId: r.owner_id,
      amount: r.amount,
    }));
  }

  /** Pending earnings still held for an owner (for display: "available on …"). */
  async openHolds(
    executor: Executor,
    owner: { kind: OwnerKind; id: string },
  ): Promise<Array<{ amount: bigint; releaseAt: Date }>> {
    const rows = await executor
      .selectFrom('balance.earning_holds as h')
      .innerJoin('balance.accounts as a', 'a.id', 'h.account_id')
      .select(['h.amount', 'h.release_at'])
      .where('a.owner_kind', '=', owner.kind)
      .where('a.owner_id', '=', owner.id)
      .where('h.released_at', 'is', null)
      .orderBy('h.release_at')
      .limit(100)
      .execute();
    return rows.map((r) => ({ amount: r.amount, releaseAt: r.release_at }));
  }

  /**
   * Compares the projection with the postings: per balance row, the sum and count of its postings
   * must equal its balance and version. Also every transaction must sum to zero.
   */
  async verify(executor: Executor): Promise<{
    rows: number;
    mismatches: Array<{
      accountId: bigint;
      shard: number;
      balance: bigint;
      fromPostings: bigint;
      version: bigint;
      postings: bigint;
    }>;
    unbalancedTransactions: string[];
    total: bigint;
  }> {
    const mismatches = await sql<{
      account_id: bigint;
      shard: number;
      balance: bigint;
      from_postings: bigint;
      version: bigint;
      postings: bigint;
    }>`
      select b.account_id, b.shard, b.balance, coalesce(p.total, 0)::bigint as from_postings,
             b.version, coalesce(p.n, 0)::bigint as postings
      from balance.balances b
      left join (
        select account_id, shard, sum(amount) as total, count(*) as n
        from balance.postings group by account_id, shard
      ) p on p.account_id = b.account_id and p.shard = b.shard
      where b.balance <> coalesce(p.total, 0) or b.version <> coalesce(p.n, 0)
    `.execute(executor);
    const unbalanced = await sql<{ transaction_id: string }>`
      select transaction_id from balance.postings group by transaction_id having sum(amount) <> 0
    `.execute(executor);
    const counts = await sql<{ rows: bigint; total: bigint | null }>`
      select (select count(*) from balance.balances)::bigint as rows,
             (select sum(amount) from balance.postings)::bigint as total
    `.execute(executor);
    return {
      rows: Number(counts.rows[0]?.rows ?? 0n),
      total: counts.rows[0]?.total ?? 0n,
      mismatches: mismatches.rows.map((r) => ({
        accountId: r.account_id,
        shard: r.shard,
        balance: r.balance,
        fromPostings: r.from_postings,
        version: r.version,
        postings: r.postings,
      })),
      unbalancedTransactions: unbalanced.rows.map((r) => r.transaction_id),
    };
  }

  /** Rewrites the projection from the postings (the postings are the truth). */
  async rebuildProjection(tx: Tx): Promise<number> {
    const result = await sql`
      update balance.balances b
      set balance = coalesce(p.total, 0), version = coalesce(p.n, 0)
      from balance.balances b2
      left join (
        select account_id, shard, sum(amount)::bigint as total, count(*)::bigint as n
        from balance.postings group by account_id, shard
      ) p on p.account_id = b2.account_id and p.shard = b2.shard
      where b.account_id = b2.account_id and b.shard = b2.shard
        and (b.balance <> coalesce(p.total, 0) or b.version <> coalesce(p.n, 0))
    `.execute(tx);
    return Number(result.numAffectedRows ?? 0n);
  }

  private postingQuery(executor: Executor) {
    return executor
      .selectFrom('balance.postings as p')
      .innerJoin('balance.accounts as a', 'a.id', 'p.account_id')
      .select([
        'p.id',
        'p.transaction_id',
        'p.account_id',
        'a.owner_kind',
        'a.owner_id',
        'a.kind as account_kind',
        'p.amount',
        'p.balance_after',
        'p.version',
        'p.created_at',
      ]);
  }
}

function toAccount(row: {
  id: bigint;
  owner_kind: OwnerKind;
  owner_id: string | null;
  kind: AccountKind;
  shards: number;
}): AccountRow {
  return { id: row.id, ownerKind: row.owner_kind, ownerId: row.owner_id, kind: row.kind, shards: row.shards };
}

function toTransaction(row: {
  id: string;
  seq: bigint;
  kind: LedgerTransactionKind;
  request_hash: string;
  spent_paid: bigint | null;
  spent_bonus: bigint | null;
  created_at: Date;
}): StoredTransaction {
  return {
    id: row.id,
    seq: row.seq,
    kind: row.kind,
    requestHash: row.request_hash,
    spentPaid: row.spent_paid,
    spentBonus: row.spent_bonus,
    createdAt: row.created_at,
  };
}

function toPosting(row: {
  id: bigint;
  transaction_id: string;
  account_id: bigint;
  owner_kind: OwnerKind;
  owner_id: string | null;
  account_kind: AccountKind;
  amount: bigint;
  balance_after: bigint;
  version: bigint;
  created_at: Date;
}): StoredPosting {
  return {
    id: row.id,
    transactionId: row.transaction_id,
    accountId: row.account_id,
    ownerKind: row.owner_kind,
    ownerId: row.owner_id,
    accountKind: row.account_kind,
    amount: row.amount,
    balanceAfter: row.balance_after,
    version: row.version,
    createdAt: row.created_at,
  };
}
