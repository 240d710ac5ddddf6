-- Published for the panel domain's cohort rules (spoken languages): read-only, public columns only.
create view profile.cohort_attributes as
select
  user_id,
  languages
from profile.profiles;
