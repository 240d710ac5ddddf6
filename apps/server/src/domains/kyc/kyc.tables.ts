import type { ColumnType, Generated } from 'kysely';

export type KycStatus = 'pending' | 'approved' | 'resubmission_requested' | 'rejected';
export type KycDecision = Exclude<KycStatus, 'pending'>;

export type KycTables = {
  'kyc.submissions': {
    id: Generated<string>;
    seq: Generated<bigint>;
    user_id: string;
    document_ids: string[];
    selfie_id: string | null;
    status: ColumnType<KycStatus, KycStatus | undefined, KycStatus>;
    reason: string | null;
    reviewed_by: string | null;
    reviewed_at: Date | null;
    created_at: ColumnType<Date, Date | undefined, never>;
    erased_at: Date | null;
  };
  'kyc.reviews': {
    id: Generated<bigint>;
    submission_id: string;
    reviewer_id: string;
    reviewer_role: string;
    decision: KycDecision;
    reason: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
};
