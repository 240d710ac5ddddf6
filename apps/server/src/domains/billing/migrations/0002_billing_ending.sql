-- 'ending': the call stopped while several reached checkpoints were still uncharged; they are charged
-- one per transaction by the checkpoint job, then the session becomes 'ended'.
alter table billing.sessions drop constraint sessions_status_check;
alter table billing.sessions add constraint sessions_status_check
  check (status in ('live', 'ending', 'ended', 'cut_off'));
drop index billing.sessions_due;
create index sessions_due on billing.sessions (next_run_at) where status in ('live', 'ending');
