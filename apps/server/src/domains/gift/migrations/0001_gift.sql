-- Gifts: the catalogue admins manage, and every gift sent.
create schema if not exists gift;

create table gift.catalogue (
  id              uuid        primary key default gen_random_uuid(),
  name            text        not null check (length(name) between 1 and 100),
  -- Either an uploaded image (media.items id) or an outside URL.
  image_media_id  uuid,
  image_url       text,
  price           bigint      not null check (price > 0 and price <= 1000000000),
  -- The streamer's share: basis points of the price, or a fixed number of coins (exactly one).
  share_bps       integer     check (share_bps between 0 and 10000),
  share_coins     bigint      check (share_coins >= 0),
  available       boolean     not null default true,
  sort_order      integer     not null default 0,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  constraint catalogue_share check ((share_bps is null) <> (share_coins is null)),
  constraint catalogue_share_coins check (share_coins is null or share_coins <= price)
);
create index catalogue_order on gift.catalogue (sort_order, name) where available;

-- Every gift sent. (sender_id, client_id) is the client's idempotency key.
create table gift.sent (
  id           uuid        primary key default gen_random_uuid(),
  seq          bigint      generated always as identity unique,
  sender_id    uuid        not null,
  client_id    text        not null,
  gift_id      uuid        not null references gift.catalogue (id),
  streamer_id  uuid        not null,
  -- What the sender paid and what the earners (streamer and agency) got, at the time.
  coins        bigint      not null check (coins > 0),
  earned       bigint      not null check (earned >= 0),
  context      text        not null check (context in ('chat', 'call')),
  call_id      uuid,
  created_at   timestamptz not null default now(),
  constraint sent_client unique (sender_id, client_id),
  constraint sent_call check (context <> 'call' or call_id is not null)
);
create index sent_streamer on gift.sent (streamer_id, seq desc);
create index sent_sender on gift.sent (sender_id, seq desc);
