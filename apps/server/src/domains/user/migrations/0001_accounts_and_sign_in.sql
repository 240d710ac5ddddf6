create schema if not exists "user";

create table "user".users (
  id          uuid        primary key default gen_random_uuid(),
  roles       text[]      not null default array['user'],
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  constraint users_roles_known check (roles <@ array['user', 'streamer', 'moderator', 'admin']::text[]),
  constraint users_roles_present check (cardinality(roles) > 0)
);

-- An account is keyed by (issuer, subject): Firebase UIDs and OLO's own ids live side by side.
create table "user".identities (
  id            uuid        primary key default gen_random_uuid(),
  user_id       uuid        not null references "user".users (id) on delete cascade,
  issuer        text        not null,
  subject       text        not null,
  created_at    timestamptz not null default now(),
  last_seen_at  timestamptz not null default now(),
  unique (issuer, subject)
);
create index identities_user on "user".identities (user_id);

-- Credentials for the built-in issuer: a verified phone number, or an email with a password hash.
create table "user".credentials (
  id             uuid        primary key default gen_random_uuid(),
  user_id        uuid        not null references "user".users (id) on delete cascade,
  kind           text        not null check (kind in ('phone', 'email')),
  identifier     text        not null,
  password_hash  text,
  created_at     timestamptz not null default now(),
  unique (kind, identifier),
  check (kind <> 'email' or password_hash is not null)
);
create index credentials_user on "user".credentials (user_id);

create table "user".otp_challenges (
  id           uuid        primary key default gen_random_uuid(),
  phone        text        not null,
  code_hash    text        not null,
  attempts     integer     not null default 0,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null,
  consumed_at  timestamptz
);
create index otp_challenges_phone on "user".otp_challenges (phone, created_at desc);

-- What the local SMS provider "sends": visible to developers and admins.
create table "user".sms_outbox (
  id          bigint      generated always as identity primary key,
  to_phone    text        not null,
  body        text        not null,
  provider    text        not null,
  created_at  timestamptz not null default now()
);

-- A session is one signed-in device; its refresh tokens form one rotation family.
create table "user".sessions (
  id             uuid        primary key default gen_random_uuid(),
  user_id        uuid        not null references "user".users (id) on delete cascade,
  device_name    text,
  user_agent     text,
  ip             text,
  created_at     timestamptz not null default now(),
  last_seen_at   timestamptz not null default now(),
  revoked_at     timestamptz,
  revoke_reason  text
);
create index sessions_user on "user".sessions (user_id) where revoked_at is null;

create table "user".refresh_tokens (
  id           uuid        primary key default gen_random_uuid(),
  session_id   uuid        not null references "user".sessions (id) on delete cascade,
  token_hash   text        not null unique,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null,
  used_at      timestamptz
);
create index refresh_tokens_session on "user".refresh_tokens (session_id);

create table "user".login_attempts (
  id          bigint      generated always as identity primary key,
  method      text        not null check (method in ('phone_code', 'email_password', 'refresh', 'external_token')),
  identifier  text        not null,
  ip          text,
  user_id     uuid,
  success     boolean     not null,
  reason      text,
  created_at  timestamptz not null default now()
);
create index login_attempts_identifier on "user".login_attempts (identifier, created_at desc) where not success;
create index login_attempts_ip on "user".login_attempts (ip, created_at desc) where not success;
