-- Every admin and moderator action: who did what to what, with the state before and after.
-- Rows are never updated or deleted by the application.
create schema if not exists mission_control;

create table mission_control.audit_log (
  id           bigint      generated always as identity primary key,
  actor_id     uuid,
  actor_role   text,
  action       text        not null,
  target_type  text        not null,
  target_id    text        not null,
  before       jsonb,
  after        jsonb,
  reason       text,
  request_id   text,
  created_at   timestamptz not null default now()
);
create index audit_log_created on mission_control.audit_log (created_at desc, id desc);
create index audit_log_target on mission_control.audit_log (target_type, target_id, id desc);
create index audit_log_actor on mission_control.audit_log (actor_id, id desc);
