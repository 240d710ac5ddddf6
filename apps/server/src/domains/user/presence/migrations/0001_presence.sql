create schema if not exists presence;

-- One row per live server process. A node refreshes heartbeat_at every PRESENCE_HEARTBEAT_SECONDS;
-- the sweep removes the connections of nodes silent for PRESENCE_TTL_SECONDS.
create table presence.nodes (
  node_id       uuid        primary key,
  started_at    timestamptz not null,
  heartbeat_at  timestamptz not null
);
create index nodes_heartbeat on presence.nodes (heartbeat_at);

-- Authenticated WebSocket connections, by the node that holds them. No foreign key to nodes: a
-- connection recorded before its node's first heartbeat (or after a sweep) must not fail.
create table presence.connections (
  connection_id  uuid        primary key,
  node_id        uuid        not null,
  user_id        uuid        not null,
  opened_at      timestamptz not null
);
create index connections_user on presence.connections (user_id);
create index connections_node on presence.connections (node_id);

-- The account's presence, kept for reads (gallery ordering by online time). Its row is the lock that
-- serialises a user's transitions across nodes, so each transition is recorded (and emitted) once.
create table presence.status (
  user_id                  uuid        primary key,
  online                   boolean     not null default false,
  online_since             timestamptz,
  last_seen_at             timestamptz,
  availability             text        not null default 'available'
                                       check (availability in ('available', 'busy', 'away')),
  availability_updated_at  timestamptz,
  check (not online or online_since is not null)
);
create index status_online_since on presence.status (online, online_since);

-- What other domains (the gallery) read: an offline streamer is never 'available'.
create view presence.user_presence as
select
  user_id,
  online,
  online_since,
  last_seen_at,
  case
    when online then availability
    when availability = 'busy' then 'busy'
    else 'away'
  end as availability
from presence.status;
