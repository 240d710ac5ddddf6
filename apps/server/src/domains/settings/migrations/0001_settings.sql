-- Global settings: one row per key that differs from its default. Values are validated by the
-- zod schema of their key (settings.definitions.ts) before they are written.
create schema if not exists settings;

create table settings.values (
  key         text        primary key,
  value       jsonb       not null,
  version     integer     not null,
  updated_by  uuid,
  updated_at  timestamptz not null default now()
);

-- Every change, never updated or deleted: the version history an admin reads.
create table settings.changes (
  id          bigint      generated always as identity primary key,
  key         text        not null,
  version     integer     not null,
  before      jsonb,
  after       jsonb       not null,
  changed_by  uuid,
  reason      text        not null,
  changed_at  timestamptz not null default now(),
  unique (key, version)
);
create index changes_key on settings.changes (key, id desc);
