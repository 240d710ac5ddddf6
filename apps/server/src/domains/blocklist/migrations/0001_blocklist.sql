-- Blocklist: a user blocks another one with a reason. A block row is kept after unblocking
-- (unblocked_at set) because reasons are stored for analysis and moderators review them as reports.
create schema if not exists blocklist;

create table blocklist.blocks (
  id             uuid        primary key,
  blocker_id     uuid        not null,
  blocked_id     uuid        not null,
  reason         text        not null
    check (reason in ('nudity', 'harassment', 'spam', 'fake_profile', 'underage', 'other')),
  reason_text    text,
  created_at     timestamptz not null,
  unblocked_at   timestamptz,
  -- Moderation of the block as a report.
  report_status  text        not null default 'open'
    check (report_status in ('open', 'dismissed', 'warned', 'banned')),
  reviewed_by    uuid,
  reviewed_at    timestamptz,
  review_note    text,
  -- The harassment flag this block was counted in: each block counts towards one crossing at most.
  counted_in     uuid,
  check (blocker_id <> blocked_id)
);
-- At most one current block per direction: blocking twice is idempotent.
create unique index blocks_current on blocklist.blocks (blocker_id, blocked_id) where unblocked_at is null;
-- "Who blocked this user" (either-way checks, gallery filters, rule counts).
create index blocks_current_by_blocked on blocklist.blocks (blocked_id, blocker_id) where unblocked_at is null;
-- A user's blocks, newest first (myBlocks cursor).
create index blocks_mine on blocklist.blocks (blocker_id, created_at desc, id desc) where unblocked_at is null;
-- Reports queue, newest first (all, or by status); per-account reports, stats and the harassment count.
create index blocks_queue on blocklist.blocks (created_at desc, id desc);
create index blocks_queue_by_status on blocklist.blocks (report_status, created_at desc, id desc);
create index blocks_against on blocklist.blocks (blocked_id, reason, created_at);

-- Rule outcomes. A flag is an open item moderators see (harassment threshold crossed); with the
-- action ban, `outcome` says whether the ban happened (an admin cannot be banned by the rule).
create table blocklist.flags (
  id           uuid        primary key,
  user_id      uuid        not null,
  rule         text        not null check (rule in ('harassment')),
  action       text        not null check (action in ('flag', 'ban')),
  outcome      text        not null
    check (outcome in ('flagged', 'banned', 'already_banned', 'ban_refused')),
  block_count  integer     not null,
  status       text        not null default 'open' check (status in ('open', 'resolved')),
  created_at   timestamptz not null,
  resolved_by  uuid,
  resolved_at  timestamptz
);
create index flags_user on blocklist.flags (user_id, created_at desc, id desc);
create index flags_queue on blocklist.flags (status, created_at desc, id desc);

alter table blocklist.blocks
  add constraint blocks_counted_in foreign key (counted_in) references blocklist.flags (id) on delete set null;

-- One penalty per block at most (the idempotency of the nudity rule and of moderator warnings).
create table blocklist.penalties (
  id          uuid        primary key,
  block_id    uuid        not null references blocklist.blocks (id) on delete cascade,
  user_id     uuid        not null,
  source      text        not null check (source in ('nudity_rule', 'moderator')),
  kind        text        not null check (kind in ('warning', 'fine')),
  coins       bigint      not null default 0 check (coins >= 0),
  -- The ledger transaction that moved the fine (null for warnings).
  ledger_tx   text,
  created_at  timestamptz not null,
  unique (block_id, source)
);
create index penalties_user on blocklist.penalties (user_id, created_at desc);

-- Anonymised per-reason counts of the blocks a deleted account received (those rows go).
create table blocklist.deleted_counts (
  reason  text    primary key,
  blocks  bigint  not null default 0
);

-- Published for other domains: read-only, one row per current block.
create view blocklist.active_blocks as
select blocker_id, blocked_id, created_at
from blocklist.blocks
where unblocked_at is null;
