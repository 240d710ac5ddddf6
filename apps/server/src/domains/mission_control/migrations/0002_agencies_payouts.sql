-- Agencies (who share a streamer's earnings, and who may see their numbers) and payout requests.

create table mission_control.agencies (
  id          uuid        primary key default gen_random_uuid(),
  -- Cursor for the admin list: ids are random, this is insertion order.
  seq         bigint      generated always as identity unique,
  name        text        not null check (length(name) between 1 and 100),
  -- The agency's share of each coin its streamers earn, in basis points (1/100 of a percent).
  share_bps   integer     not null check (share_bps between 0 and 10000),
  active      boolean     not null default true,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create unique index agencies_name on mission_control.agencies (lower(name));

-- Who belonged to which agency and when. Rows are closed (ended_at), never deleted: history stays.
create table mission_control.agency_memberships (
  id           bigint      generated always as identity primary key,
  agency_id    uuid        not null references mission_control.agencies (id),
  streamer_id  uuid        not null,
  started_at   timestamptz not null,
  ended_at     timestamptz,
  added_by     uuid,
  removed_by   uuid,
  constraint agency_memberships_period check (ended_at is null or ended_at >= started_at)
);
-- A streamer belongs to at most one agency at a time.
create unique index agency_memberships_current on mission_control.agency_memberships (streamer_id)
  where ended_at is null;
create index agency_memberships_agency on mission_control.agency_memberships (agency_id, started_at);

-- Accounts that may see an agency's numbers (and request its payouts). One agency per account.
create table mission_control.agency_managers (
  agency_id   uuid        not null references mission_control.agencies (id),
  user_id     uuid        not null unique,
  added_by    uuid,
  created_at  timestamptz not null default now(),
  primary key (agency_id, user_id)
);

-- A request to pay out earnings. requested → approved → paid; requested|approved → rejected.
create table mission_control.payouts (
  id            uuid        primary key default gen_random_uuid(),
  seq           bigint      generated always as identity unique,
  -- Whose earnings: a streamer's (user) or an agency's.
  owner_kind    text        not null check (owner_kind in ('user', 'agency')),
  owner_id      uuid        not null,
  requested_by  uuid        not null,
  amount        bigint      not null check (amount > 0),
  status        text        not null default 'requested'
                check (status in ('requested', 'approved', 'paid', 'rejected')),
  reason        text,
  reference     text,
  decided_by    uuid,
  decided_at    timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  constraint payouts_paid_reference check (status <> 'paid' or reference is not null),
  constraint payouts_rejected_reason check (status <> 'rejected' or reason is not null)
);
-- One open request at a time per owner: a second concurrent request fails on this index.
create unique index payouts_one_open on mission_control.payouts (owner_kind, owner_id)
  where status in ('requested', 'approved');
create index payouts_owner on mission_control.payouts (owner_kind, owner_id, seq desc);
create index payouts_status on mission_control.payouts (status, seq);
