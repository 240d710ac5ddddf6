-- Video calls: one row per call (direct, roulette, prerecorded), with its state machine, the live
-- parties guard, the history of transitions, webhook receipts and the providers' circuits.
create schema if not exists video;

create table video.calls (
  id            uuid        primary key,
  kind          text        not null check (kind in ('direct', 'roulette', 'prerecorded')),
  caller_id     uuid        not null,
  callee_id     uuid        not null,
  -- Who pays and who earns (the non-streamer pays the streamer, whoever called).
  payer_id      uuid        not null,
  earner_id     uuid        not null,
  state         text        not null check (state in ('requested', 'ringing', 'accepted', 'connecting', 'connected', 'ended')),
  end_reason    text        check (end_reason in ('cancelled', 'declined', 'busy', 'missed', 'media_failed', 'hangup',
                                                 'disconnected', 'insufficient_funds', 'blocked', 'banned', 'staff', 'error')),
  ended_by      text        check (ended_by in ('caller', 'callee', 'system', 'staff')),
  end_note      text        check (length(end_note) <= 500),
  -- The provider of the room; earlier ones that failed for this call are in providers_failed.
  provider          text,
  providers_failed  text[]  not null default '{}',
  requested_at  timestamptz not null,
  ringing_at    timestamptz,
  accepted_at   timestamptz,
  connecting_at timestamptz,
  connected_at  timestamptz,
  ended_at      timestamptz,
  -- The server-clock moment the call's current timer fires (ring, connect, reconnect grace); null
  -- when none. The durable job `video.call_deadline` runs at it; the sweep catches any it missed.
  deadline_at   timestamptz,
  caller_joined_at timestamptz,
  callee_joined_at timestamptz,
  -- A provider "left" (or a missed heartbeat) starts the reconnect grace; a join clears it.
  caller_left_at   timestamptz,
  callee_left_at   timestamptz,
  caller_seen_at   timestamptz,
  callee_seen_at   timestamptz,
  -- The earner's availability before the call made them busy, restored when it ends.
  earner_prior_availability text,
  -- The caller's display name when they called, as a phone's call log keeps it (missed-call notices).
  caller_name   text        check (length(caller_name) <= 200),
  charged       bigint      not null default 0 check (charged >= 0),
  earned        bigint      not null default 0 check (earned >= 0),
  -- Increases with every change: a client that sees a gap reloads the call.
  version       int         not null default 1,
  check (caller_id <> callee_id),
  check ((state = 'ended') = (end_reason is not null)),
  check ((state = 'ended') = (ended_at is not null)),
  check (state <> 'connected' or connected_at is not null)
);
create index calls_caller on video.calls (caller_id, requested_at desc);
create index calls_callee on video.calls (callee_id, requested_at desc);
create index calls_requested on video.calls (requested_at desc);
create index calls_live_deadline on video.calls (deadline_at) where state <> 'ended';

-- At most one live call per account: a row per side of every live call, removed when it ends. Two
-- callers racing for one streamer both try to insert the streamer's row; one of them gets busy.
-- Claimed before the call row is written (no foreign key), and released when it ends.
create table video.live_parties (
  user_id  uuid primary key,
  call_id  uuid not null
);
create index live_parties_call on video.live_parties (call_id);

-- Every transition, for support and admins: who did what, when.
create table video.call_transitions (
  call_id  uuid        not null references video.calls (id),
  seq      int         not null,
  state    text        not null,
  reason   text,
  actor    text        not null,
  detail   jsonb       not null default '{}',
  at       timestamptz not null,
  primary key (call_id, seq)
);

-- Provider webhooks already applied: a replay (same provider and event id) changes nothing.
create table video.webhook_receipts (
  provider     text        not null,
  event_id     text        not null,
  call_id      uuid,
  type         text        not null,
  received_at  timestamptz not null,
  primary key (provider, event_id)
);
create index webhook_receipts_received on video.webhook_receipts (received_at);

-- Provider failures (health checks, calls that did not connect, client reports): enough of them
-- within a window open the provider's circuit, and new calls skip it until open_until.
create table video.provider_failures (
  id        bigint      generated always as identity primary key,
  provider  text        not null,
  source    text        not null check (source in ('health_check', 'connect_timeout', 'client_report', 'token')),
  call_id   uuid,
  reason    text        not null check (length(reason) <= 500),
  at        timestamptz not null
);
create index provider_failures_recent on video.provider_failures (provider, at desc);

create table video.provider_circuits (
  provider       text        primary key,
  open_until     timestamptz,
  opened_at      timestamptz,
  reason         text,
  last_check_at  timestamptz,
  last_check_ok  boolean,
  last_check_detail text
);
