-- Interactions between pairs of accounts: a read model fed by events (calls, messages, gifts,
-- favourites, blocks, profile views). Directional: user_id did `kind` to other_id.
create schema if not exists interaction;

create table interaction.counters (
  user_id   uuid        not null,
  other_id  uuid        not null,
  kind      text        not null
                        check (kind in ('profile_view', 'call', 'message', 'gift', 'favorite', 'block')),
  count     bigint      not null default 0 check (count >= 0),
  first_at  timestamptz not null,
  last_at   timestamptz not null,
  primary key (user_id, other_id, kind),
  check (user_id <> other_id)
);
-- "Whom did this user call / view lately" (gallery seen profiles, roulette recent pairs).
create index counters_user_kind_last on interaction.counters (user_id, kind, last_at desc);

-- Events already counted, keyed by event id: a redelivered or replayed event (cursor reset) must not
-- count twice. Pruned after the event log's own retention, beyond which no replay can reach.
create table interaction.applied_events (
  event_id    uuid        primary key,
  applied_at  timestamptz not null
);
create index applied_events_at on interaction.applied_events (applied_at);

-- Published for other domains (gallery, roulette): read-only, one row per (user, other, kind).
create view interaction.pair_interactions as
select user_id, other_id, kind, count, last_at
from interaction.counters;
