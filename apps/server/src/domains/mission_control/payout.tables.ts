import type { ColumnType, Generated } from 'kysely';

export type PayoutStatus = 'requested' | 'approved' | 'paid' | 'rejected';
export type PayoutOwnerKind = 'user' | 'agency';

export type PayoutTables = {
  'mission_control.payouts': {
    id: Generated<string>;
    seq: Generated<bigint>;
    owner_kind: PayoutOwnerKind;
    owner_id: string;
    requested_by: string;
    amount: bigint;
    status: ColumnType<PayoutStatus, PayoutStatus | undefined, PayoutStatus>;
    reason: string | null;
    reference: string | null;
    decided_by: string | null;
    decided_at: Date | null;
    created_at: ColumnType<Date, Date | undefined, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
};
