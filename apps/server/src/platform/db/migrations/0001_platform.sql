-- Bookkeeping for the migration runner itself. Every domain gets its own schema.
create schema if not exists platform;

create table if not exists platform.schema_migrations (
  module      text        not null,
  version     integer     not null,
  name        text        not null,
  checksum    text        not null,
  applied_at  timestamptz not null default now(),
  primary key (module, version)
);
