-- Roulette: users and streamers waiting to be matched, one row per account in roulette mode. The
-- row stays while the account is in its roulette call (state 'matched', call_id set) so "next"
-- re-enters with the same preferences; it goes when the account leaves or stops heartbeating.
create table video.roulette_pool (
  user_id        uuid        primary key,
  side           text        not null check (side in ('user', 'streamer')),
  state          text        not null check (state in ('waiting', 'matched')),
  -- When this wait began: the fairness order (longest waiting first) on both sides.
  joined_at      timestamptz not null,
  heartbeat_at   timestamptz not null,
  -- What the account asks of the other side; each is dropped once the wait passes
  -- roulette.preference_widen_seconds.
  want_language  text        check (want_language ~ '^[a-z]{2}$'),
  want_country   text        check (want_country ~ '^[A-Z]{2}$'),
  -- The account's own public languages and country, copied from its profile at each join: the
  -- profile domain publishes no view with languages, and matching must not call out per candidate.
  languages      text[]      not null default '{}',
  country        text,
  call_id        uuid,
  matched_at     timestamptz,
  check ((state = 'matched') = (call_id is not null))
);
-- The matcher walks each side's waiting rows oldest first.
create index roulette_pool_waiting on video.roulette_pool (side, joined_at, user_id) where state = 'waiting';
create index roulette_pool_heartbeat on video.roulette_pool (heartbeat_at);

-- The cool-down reads skips from the call records themselves: a roulette call that a side ended
-- (hang-up, or "next") keeps that pair apart for roulette.cooldown_seconds.
create index calls_roulette_skips on video.calls (caller_id, callee_id, ended_at)
  where kind = 'roulette' and end_reason = 'hangup';
