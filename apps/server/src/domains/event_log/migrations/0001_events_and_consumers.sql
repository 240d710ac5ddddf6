create schema if not exists event_log;

-- Positions are handed out at commit (see assign_position), never at insert.
create sequence event_log.positions as bigint;

-- The outbox: every domain writes its events here in the transaction that causes them.
create table event_log.events (
  id           uuid        primary key default gen_random_uuid(),
  -- Null until the emitting transaction commits; then its place in commit order.
  position     bigint      unique,
  type         text        not null,
  version      integer     not null check (version > 0),
  payload      jsonb       not null,
  user_id      uuid,
  occurred_at  timestamptz not null default now()
);
create index events_type on event_log.events (type, position);
create index events_user on event_log.events (user_id, position) where user_id is not null;
create index events_occurred_at on event_log.events (occurred_at);

-- Runs at commit (deferred), once per new event, in insertion order. The advisory lock is held from
-- here to the end of the commit, so event-carrying commits pass this point one at a time: positions
-- follow commit order, and whoever sees position N already sees every position below N.
-- 7410100 is only used here (the migrator uses 7410001).
create function event_log.assign_position() returns trigger
language plpgsql as $$
declare
  assigned bigint;
begin
  perform pg_advisory_xact_lock(7410100);
  update event_log.events
     set position = nextval('event_log.positions')
   where id = new.id and position is null
   returning position into assigned;
  if assigned is not null then
    perform pg_notify('olo_events', assigned::text);
  end if;
  return null;
end;
$$;

create constraint trigger events_assign_position
  after insert on event_log.events
  deferrable initially deferred
  for each row execute function event_log.assign_position();

-- One row per durable consumer: how far it got, and whether it is failing.
create table event_log.consumers (
  name        text        primary key,
  cursor      bigint      not null default 0,
  status      text        not null default 'running' check (status in ('running', 'stopped')),
  -- Failures of the next event in a row; reset when an event is handled or dead-lettered.
  attempts    integer     not null default 0,
  retry_at    timestamptz,
  last_error  text,
  updated_at  timestamptz not null default now()
);

-- Events a consumer gave up on, copied whole so that retention cannot take them away.
create table event_log.dead_letters (
  id           bigint      generated always as identity primary key,
  consumer     text        not null references event_log.consumers (name) on delete cascade,
  event_id     uuid        not null,
  position     bigint      not null,
  type         text        not null,
  version      integer     not null,
  payload      jsonb       not null,
  user_id      uuid,
  occurred_at  timestamptz not null,
  error        text        not null,
  attempts     integer     not null,
  created_at   timestamptz not null default now(),
  retried_at   timestamptz,
  retries      integer     not null default 0,
  resolved_at  timestamptz,
  unique (consumer, event_id)
);
create index dead_letters_consumer on event_log.dead_letters (consumer, id desc);
