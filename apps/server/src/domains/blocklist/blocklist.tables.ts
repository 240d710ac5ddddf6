import type { ColumnType, Generated } from 'kysely';

export type BlockReason = 'nudity' | 'harassment' | 'spam' | 'fake_profile' | 'underage' | 'other';
export type ReportStatus = 'open' | 'dismissed' | 'warned' | 'banned';
/** What a harassment crossing did: flagged only, or the ban's result when the action is ban. */
export type FlagOutcome = 'flagged' | 'banned' | 'already_banned' | 'ban_refused';
export type FlagStatus = 'open' | 'resolved';

export type BlocklistTables = {
  'blocklist.blocks': {
    id: string;
    blocker_id: string;
    blocked_id: string;
    reason: BlockReason;
    reason_text: string | null;
    created_at: ColumnType<Date, Date, never>;
    unblocked_at: Date | null;
    report_status: Generated<ReportStatus>;
    reviewed_by: string | null;
    reviewed_at: Date | null;
    review_note: string | null;
    counted_in: Generated<string | null>;
  };
  'blocklist.flags': {
    id: string;
    user_id: string;
    rule: 'harassment';
    action: 'flag' | 'ban';
    outcome: FlagOutcome;
    block_count: number;
    status: Generated<FlagStatus>;
    created_at: ColumnType<Date, Date, never>;
    resolved_by: string | null;
    resolved_at: Date | null;
  };
  'blocklist.penalties': {
    id: string;
    block_id: string;
    user_id: string;
    source: 'nudity_rule' | 'moderator';
    kind: 'warning' | 'fine';
    coins: ColumnType<bigint, bigint, never>;
    ledger_tx: string | null;
    created_at: ColumnType<Date, Date, never>;
  };
  'blocklist.deleted_counts': {
    reason: string;
    blocks: ColumnType<bigint, bigint, bigint>;
  };
  /** Published read-only view for other domains: one row per current block. */
  'blocklist.active_blocks': {
    blocker_id: ColumnType<string, never, never>;
    blocked_id: ColumnType<string, never, never>;
    created_at: ColumnType<Date, never, never>;
  };
};
