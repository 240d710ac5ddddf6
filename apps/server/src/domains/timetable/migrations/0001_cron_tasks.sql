create schema if not exists timetable;

-- Recurring tasks, editable at runtime by admins. `task` names a handler registered in code
-- (cron.registerTask); `cron` has 5 fields, or 6 with seconds first, read in `time_zone`.
create table timetable.cron_tasks (
  name          text        primary key,
  task          text        not null,
  cron          text        not null,
  time_zone     text        not null default 'UTC',
  enabled       boolean     not null default true,
  payload       jsonb       not null default '{}'::jsonb,
  catch_up      boolean     not null default false,
  max_attempts  integer     not null default 3,
  last_run_at   timestamptz,
  -- The next tick to run; null while disabled (or when the expression has no future tick).
  next_run_at   timestamptz,
  last_error    text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  constraint cron_tasks_name_format check (name ~ '^[a-z0-9][a-z0-9_.:-]{0,99}$'),
  constraint cron_tasks_task_length check (length(task) between 1 and 128),
  constraint cron_tasks_cron_length check (length(cron) between 1 and 200),
  constraint cron_tasks_payload_object check (jsonb_typeof(payload) = 'object'),
  constraint cron_tasks_max_attempts check (max_attempts between 1 and 25)
);
-- The scheduler's only query: enabled tasks whose tick is due.
create index cron_tasks_due on timetable.cron_tasks (next_run_at) where enabled;

-- One row per tick handed out (or skipped): the unique (task_name, scheduled_for) is what makes
-- a tick run once however many processes claim it.
create table timetable.cron_runs (
  id             bigint      generated always as identity primary key,
  task_name      text        not null references timetable.cron_tasks (name) on delete cascade,
  scheduled_for  timestamptz not null,
  trigger        text        not null,
  status         text        not null default 'scheduled',
  attempts       integer     not null default 0,
  started_at     timestamptz,
  finished_at    timestamptz,
  error          text,
  created_at     timestamptz not null default now(),
  constraint cron_runs_once_per_tick unique (task_name, scheduled_for),
  constraint cron_runs_trigger check (trigger in ('schedule', 'catch_up', 'manual')),
  constraint cron_runs_status check (
    status in ('scheduled', 'running', 'retrying', 'succeeded', 'failed', 'skipped')
  )
);
-- Retention deletes by age across tasks.
create index cron_runs_scheduled_for on timetable.cron_runs (scheduled_for);
