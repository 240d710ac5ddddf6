-- Chat: one conversation per unordered pair of accounts, its messages and each side's read state.
create schema if not exists chat;

-- user_low < user_high: the pair is stored in one order so the unique constraint covers both.
create table chat.conversations (
  id               uuid        primary key default gen_random_uuid(),
  user_low         uuid        not null,
  user_high        uuid        not null,
  created_at       timestamptz not null default now(),
  -- Denormalised for the list ordering (latest activity first) and its cursor.
  last_message_seq bigint      not null default 0,
  last_message_at  timestamptz not null default now(),
  constraint conversations_pair unique (user_low, user_high),
  constraint conversations_order check (user_low < user_high)
);
create index conversations_low on chat.conversations (user_low, last_message_seq desc);
create index conversations_high on chat.conversations (user_high, last_message_seq desc);

-- Every message. kind 'text' is written by a person (sender_id); 'system' records (gifts, calls,
-- greetings) carry system_type and data. (sender_id, client_id) is the client's idempotency key;
-- source_key is the idempotency key of records made from events (one record per source event).
create table chat.messages (
  id               uuid        primary key default gen_random_uuid(),
  seq              bigint      generated always as identity unique,
  conversation_id  uuid        not null references chat.conversations (id),
  sender_id        uuid        not null,
  recipient_id     uuid        not null,
  kind             text        not null check (kind in ('text', 'system')),
  body             text        not null,
  system_type      text        check (system_type in ('gift', 'call', 'greeting')),
  data             jsonb,
  client_id        text,
  source_key       text        unique,
  erased           boolean     not null default false,
  created_at       timestamptz not null default now(),
  constraint messages_client unique (sender_id, client_id),
  constraint messages_system check ((kind = 'system') = (system_type is not null))
);
create index messages_history on chat.messages (conversation_id, seq desc);
create index messages_unread on chat.messages (recipient_id, conversation_id, seq);
create index messages_rate on chat.messages (sender_id, created_at) where kind = 'text';

-- How far each side has read (a read receipt the other side sees).
create table chat.read_state (
  conversation_id  uuid        not null references chat.conversations (id),
  user_id          uuid        not null,
  last_read_seq    bigint      not null default 0,
  updated_at       timestamptz not null default now(),
  primary key (conversation_id, user_id)
);

-- Onboarding auto-add ran for this account: the primary key makes it happen once per account.
create table chat.auto_added (
  user_id     uuid        primary key,
  streamers   uuid[]      not null,
  created_at  timestamptz not null default now()
);
