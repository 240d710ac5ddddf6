-- Published for the panel domain's cohort rules (role, sign-up date): read-only, no contact data.
create view "user".cohort_attributes as
select
  id as user_id,
  roles,
  status,
  created_at
from "user".users;
