-- Realtime messages too large for a NOTIFY payload (8000 bytes) travel by reference through here.
-- Rows live a few minutes: publishers delete old ones as they add new ones.
create schema if not exists realtime;

create table realtime.messages (
  id          bigint      generated always as identity primary key,
  channel     text        not null,
  payload     jsonb       not null,
  created_at  timestamptz not null default now()
);
create index messages_created_at on realtime.messages (created_at);
