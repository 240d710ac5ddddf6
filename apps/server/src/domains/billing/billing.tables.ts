import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

export type BillingSessionStatus = 'live' | 'ending' | 'ended' | 'cut_off';

export type BillingTables = {
  'billing.tariff_versions': {
    id: Generated<bigint>;
    kind: string;
    cohort: ColumnType<string, string | undefined, never>;
    version: number;
    payer: ColumnType<JsonObject, string, never>;
    earner: ColumnType<JsonObject, string, never>;
    created_by: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  'billing.sessions': {
    call_id: string;
    kind: string;
    payer_id: string;
    earner_id: string;
    tariff_version_id: bigint;
    connected_at: Date;
    status: ColumnType<BillingSessionStatus, BillingSessionStatus | undefined, BillingSessionStatus>;
    next_n: ColumnType<number, number | undefined, number>;
    next_run_at: Date | null;
    charged: ColumnType<bigint, bigint | undefined, bigint>;
    earned: ColumnType<bigint, bigint | undefined, bigint>;
    checkpoints_charged: ColumnType<number, number | undefined, number>;
    low_balance_warned_at: Date | null;
    cut_off_n: number | null;
    ended_at: Date | null;
    end_reason: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  'billing.charges': {
    call_id: string;
    n: number;
    second: number;
    payer_coins: bigint;
    earner_coins: bigint;
    ledger_transaction_id: string | null;
    due_at: Date;
    charged_at: Date;
  };
};
