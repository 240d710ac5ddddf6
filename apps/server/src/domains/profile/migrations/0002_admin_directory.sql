-- What the admin user list shows and filters on, published for the user domain's admin search
-- (a domain never reads another's tables; it reads the views the owner publishes). Only the
-- public display name and country: private columns stay behind the profile repository.
create view profile.admin_directory as
select
  user_id,
  display_name,
  country
from profile.profiles;

-- The country filter is an equality on a short code. The name filter is a case-insensitive
-- substring (ILIKE '%…%'), which no btree index serves: it scans profiles (see docs/users.md for
-- what that costs at 10k accounts and when to add pg_trgm).
create index profiles_country on profile.profiles (country);
