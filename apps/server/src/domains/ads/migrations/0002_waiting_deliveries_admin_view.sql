-- A delivery can wait for what its destination needs to know about the user (AppsFlyer: the
-- AppsFlyer id, which comes with the attribution, often after the sign-up it should report).
alter table ads.deliveries drop constraint deliveries_status_check;
alter table ads.deliveries add constraint deliveries_status_check
  check (status in ('pending', 'waiting', 'sent', 'failed', 'skipped'));
-- Recording a user's attribution resumes their waiting deliveries; the sweep gives up on old ones.
create index deliveries_waiting_user on ads.deliveries (user_id) where status = 'waiting';
create index deliveries_waiting_since on ads.deliveries (created_at) where status = 'waiting';

-- What the admin user search filters on, published for the user domain (a domain never reads
-- another's tables; it reads the views the owner publishes). Source and campaign only.
create view ads.admin_attribution as
select
  user_id,
  media_source,
  campaign
from ads.attributions;
