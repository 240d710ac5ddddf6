-- Call billing: versioned tariffs, one billing session per connected call, one row per charged checkpoint.
create schema if not exists billing;

-- Every version of every tariff, never updated or deleted: an edit adds a version, and a call keeps
-- the version it started with. cohort '' is the default tariff of a kind; another value applies to
-- payers carrying that cohort tag.
create table billing.tariff_versions (
  id          bigint      generated always as identity primary key,
  kind        text        not null check (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
  cohort      text        not null default '' check (cohort ~ '^([a-z0-9][a-z0-9_.:-]{0,63})?$'),
  version     int         not null check (version >= 1),
  -- Schedules as JSON, coins as decimal strings: {"checkpoints":[{"second":0,"coins":"9"}],"repeat":{...}|null}
  payer       jsonb       not null,
  earner      jsonb       not null,
  created_by  uuid,
  created_at  timestamptz not null default now(),
  unique (kind, cohort, version)
);

create function billing.refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'billing.% is append-only', tg_table_name using errcode = 'P0001';
end $$;
create trigger tariff_versions_append_only before update or delete on billing.tariff_versions
  for each row execute function billing.refuse_change();

create table billing.sessions (
  call_id            uuid        primary key,
  kind               text        not null,
  payer_id           uuid        not null,
  earner_id          uuid        not null,
  tariff_version_id  bigint      not null references billing.tariff_versions (id),
  connected_at       timestamptz not null,
  status             text        not null default 'live' check (status in ('live', 'ended', 'cut_off')),
  -- The next checkpoint (merged timeline index) to charge; every lower one is charged.
  next_n             int         not null default 0,
  -- When this session next needs work (a checkpoint or the low-balance warning); null when nothing
  -- is left. The reconciler finds overdue live sessions by it.
  next_run_at        timestamptz,
  charged            bigint      not null default 0 check (charged >= 0),
  earned             bigint      not null default 0 check (earned >= 0),
  checkpoints_charged int        not null default 0,
  low_balance_warned_at timestamptz,
  cut_off_n          int,
  ended_at           timestamptz,
  end_reason         text,
  created_at         timestamptz not null default now(),
  check ((status = 'live') = (ended_at is null))
);
create index sessions_due on billing.sessions (next_run_at) where status = 'live';
create index sessions_payer on billing.sessions (payer_id, created_at desc);

-- One row per charged checkpoint, written in the ledger transaction that charged it.
create table billing.charges (
  call_id        uuid        not null references billing.sessions (call_id),
  n              int         not null check (n >= 0),
  second         int         not null check (second >= 0),
  payer_coins    bigint      not null check (payer_coins >= 0),
  earner_coins   bigint      not null check (earner_coins >= 0),
  -- null when the checkpoint moved no coins (both sides 0)
  ledger_transaction_id uuid,
  due_at         timestamptz not null,
  charged_at     timestamptz not null,
  primary key (call_id, n)
);

-- The seed's roulette tariff, and per-minute defaults for direct and prerecorded calls.
insert into billing.tariff_versions (kind, cohort, version, payer, earner) values
  ('roulette', '', 1,
   '{"checkpoints":[{"second":0,"coins":"9"},{"second":20,"coins":"60"},{"second":60,"coins":"60"}],"repeat":{"everySeconds":60,"coins":"60"}}',
   '{"checkpoints":[{"second":20,"coins":"30"},{"second":60,"coins":"30"}],"repeat":{"everySeconds":60,"coins":"30"}}'),
  ('direct', '', 1,
   '{"checkpoints":[{"second":0,"coins":"60"}],"repeat":{"everySeconds":60,"coins":"60"}}',
   '{"checkpoints":[{"second":0,"coins":"30"}],"repeat":{"everySeconds":60,"coins":"30"}}'),
  ('prerecorded', '', 1,
   '{"checkpoints":[{"second":0,"coins":"30"}],"repeat":{"everySeconds":60,"coins":"30"}}',
   '{"checkpoints":[{"second":0,"coins":"15"}],"repeat":{"everySeconds":60,"coins":"15"}}');
