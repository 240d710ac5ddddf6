-- Account lifecycle: bans (with an optional end), deletion as an anonymised tombstone, push tokens.
-- A deleted account keeps its row so that money records pointing at it stay consistent.
alter table "user".users
  add column status      text        not null default 'active' check (status in ('active', 'deleted')),
  add column deleted_at  timestamptz,
  add column ban_reason  text,
  add column ban_until   timestamptz,
  add column banned_at   timestamptz,
  add column banned_by   uuid,
  -- A ban is present when banned_at is set; it is in force until ban_until (never, when null).
  add constraint users_ban_complete check ((banned_at is null) = (ban_reason is null));
create index users_created on "user".users (created_at, id);
create index users_banned on "user".users (ban_until) where banned_at is not null;

-- One row per device registration. (kind, token) is unique: a token that reappears under another
-- account (a shared or resold phone) moves there and leaves the old account.
create table "user".push_tokens (
  id          uuid        primary key default gen_random_uuid(),
  user_id     uuid        not null references "user".users (id) on delete cascade,
  session_id  uuid        references "user".sessions (id) on delete set null,
  platform    text        not null check (platform in ('ios', 'android', 'web')),
  kind        text        not null check (kind in ('fcm', 'onesignal', 'apns', 'apns_voip', 'webpush')),
  token       text        not null,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  unique (kind, token)
);
create index push_tokens_user on "user".push_tokens (user_id);
create index push_tokens_session on "user".push_tokens (session_id) where session_id is not null;
