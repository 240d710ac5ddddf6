import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { AccountKind, LedgerTransactionKind, OwnerKind } from './balance.accounts.ts';

export type BalanceTables = {
  'balance.accounts': {
    id: Generated<bigint>;
    owner_kind: OwnerKind;
    owner_id: string | null;
    kind: AccountKind;
    shards: number;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  'balance.balances': {
    account_id: bigint;
    shard: number;
    balance: ColumnType<bigint, bigint | undefined, bigint>;
    version: ColumnType<bigint, bigint | undefined, bigint>;
    updated_at: Date | null;
  };
  'balance.transactions': {
    id: Generated<string>;
    seq: Generated<bigint>;
    idempotency_key: string;
    request_hash: string;
    kind: LedgerTransactionKind;
    metadata: ColumnType<JsonObject, string, never>;
    actor_id: string | null;
    spent_paid: bigint | null;
    spent_bonus: bigint | null;
    created_at: Date;
  };
  'balance.postings': {
    id: Generated<bigint>;
    transaction_id: string;
    account_id: bigint;
    shard: number;
    amount: bigint;
    balance_after: bigint;
    version: bigint;
    created_at: Date;
  };
  'balance.earning_holds': {
    id: Generated<bigint>;
    account_id: bigint;
    transaction_id: string;
    amount: bigint;
    release_at: Date;
    released_at: Date | null;
  };
};
