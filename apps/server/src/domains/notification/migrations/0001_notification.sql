-- Notifications: what was sent to whom (the notification centre), every delivery attempt (admin log),
-- the per-device push records that keep push sending idempotent, the local outbox provider, each
-- account's preferences and admin broadcasts. See docs/notifications.md.
create schema if not exists notification;

create table notification.notifications (
  id               uuid        primary key default gen_random_uuid(),
  -- Cursor for the centre: ids are random, this is insertion order.
  seq              bigint      generated always as identity unique,
  user_id          uuid        not null,
  kind             text        not null,
  title            text        not null,
  body             text        not null,
  data             jsonb       not null default '{}',
  priority         text        not null check (priority in ('high', 'normal')),
  channels         text        not null check (channels in ('in_app', 'in_app_then_push')),
  -- pending → in_app_sent → acknowledged | pushing → pushed | push_failed; expired when nothing went out in time.
  status           text        not null default 'pending'
                   check (status in ('pending', 'in_app_sent', 'acknowledged', 'pushing', 'pushed',
                                     'push_failed', 'expired')),
  -- Consumers pass `event:<id>` so a redelivered event makes no second notification.
  dedupe_key       text        unique,
  broadcast_id     uuid,
  created_at       timestamptz not null default now(),
  expires_at       timestamptz not null,
  delivered_at     timestamptz,
  acknowledged_at  timestamptz,
  read_at          timestamptz
);
create index notifications_user on notification.notifications (user_id, seq desc);
create index notifications_unread on notification.notifications (user_id) where read_at is null;
create index notifications_broadcast on notification.notifications (broadcast_id) where broadcast_id is not null;

-- Every delivery step of a notification, never updated: the admin log ("in-app sent, acknowledged,
-- push sent, failed, why").
create table notification.attempts (
  id               bigint      generated always as identity primary key,
  notification_id  uuid        not null references notification.notifications (id) on delete cascade,
  channel          text        not null check (channel in ('in_app', 'push')),
  outcome          text        not null,
  provider         text,
  token_id         uuid,
  detail           text,
  created_at       timestamptz not null default now()
);
create index attempts_notification on notification.attempts (notification_id, id);

-- One row per (notification, device): written 'sending' before the provider call and with the
-- result after, so a retried or restarted job never sends to a device twice (docs: at-most-once vs
-- at-least-once per provider).
create table notification.push_sends (
  notification_id  uuid        not null references notification.notifications (id) on delete cascade,
  token_id         uuid        not null,
  provider         text        not null,
  state            text        not null
                   check (state in ('sending', 'sent', 'retry', 'failed', 'invalid_token', 'unknown')),
  tries            int         not null default 1,
  provider_id      text,
  detail           text,
  updated_at       timestamptz not null default now(),
  primary key (notification_id, token_id)
);

-- The local push provider: what would have gone to a vendor, visible to admins.
create table notification.outbox (
  id               bigint      generated always as identity primary key,
  notification_id  uuid        not null,
  user_id          uuid        not null,
  token_kind       text        not null,
  token            text        not null,
  payload          jsonb       not null,
  created_at       timestamptz not null default now()
);
create index outbox_notification on notification.outbox (notification_id);

create table notification.preferences (
  user_id      uuid        primary key,
  locale       text        not null default 'en',
  muted_kinds  text[]      not null default '{}',
  updated_at   timestamptz not null default now()
);

create table notification.broadcasts (
  id          uuid        primary key default gen_random_uuid(),
  audience    jsonb       not null,
  title       text        not null,
  body        text        not null,
  recipients  int         not null,
  created_by  uuid,
  created_at  timestamptz not null default now()
);
