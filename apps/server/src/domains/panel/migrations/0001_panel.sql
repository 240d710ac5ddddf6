-- Cohorts: named groups of users, by rule over user attributes or by hand. Their tags are what
-- other domains see (gallery rules, billing tariffs), through the panel.user_cohort_tags view.
create schema if not exists panel;

create table panel.cohorts (
  id           uuid        primary key default gen_random_uuid(),
  -- Same pattern as billing's tariff cohort (domains/billing/tariff.service.ts).
  tag          text        not null unique check (tag ~ '^[a-z0-9][a-z0-9_.:-]{0,63}$'),
  name         text        not null check (length(name) between 1 and 100),
  description  text        not null default '' check (length(description) <= 1000),
  kind         text        not null check (kind in ('rule', 'manual')),
  -- The validated condition tree (docs/cohorts.md); null for manual cohorts.
  rule         jsonb,
  active       boolean     not null default true,
  created_by   uuid,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  -- When the rule was last evaluated for every user (the timetable task or an edit).
  recomputed_at timestamptz,
  constraint cohorts_rule_kind check ((kind = 'rule') = (rule is not null))
);

-- Who is in which cohort. Rule cohorts: written only by the recompute; manual: by admins.
create table panel.memberships (
  cohort_id  uuid        not null references panel.cohorts (id) on delete cascade,
  user_id    uuid        not null,
  added_at   timestamptz not null default now(),
  added_by   uuid,
  primary key (cohort_id, user_id)
);
create index memberships_user on panel.memberships (user_id, cohort_id);

-- Free-form labels admins put on users by hand; one attribute ("tags") rules can test.
create table panel.user_tags (
  user_id     uuid        not null,
  tag         text        not null check (tag ~ '^[a-z0-9][a-z0-9_.:-]{0,63}$'),
  created_by  uuid,
  created_at  timestamptz not null default now(),
  primary key (user_id, tag)
);
create index user_tags_tag on panel.user_tags (tag, user_id);

-- What the panel learnt from other domains' events (one row per user seen). Attributes owned
-- elsewhere and published as views (country, presence, roles, languages) are read live instead.
create table panel.user_facts (
  user_id         uuid        primary key,
  signed_up_at    timestamptz,
  -- Paid coins credited by purchases minus those taken back by refunds (bonus coins excluded).
  coins_bought    bigint      not null default 0,
  -- Connected calls the user took part in (as caller or callee).
  calls_made      integer     not null default 0,
  last_active_at  timestamptz,
  updated_at      timestamptz not null default now()
);
create index user_facts_last_active on panel.user_facts (last_active_at);

-- Published, read-only: the tags of the active cohorts each user belongs to. Lookups by user go
-- through memberships_user; by tag through cohorts.tag (unique) then the memberships primary key.
create view panel.user_cohort_tags as
select m.user_id, c.tag
from panel.memberships m
join panel.cohorts c on c.id = m.cohort_id
where c.active;
