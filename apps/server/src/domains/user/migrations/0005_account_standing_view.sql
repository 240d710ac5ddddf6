-- Published for the gallery: whether an account may be shown to others right now. Read live at
-- every feed page (by primary key), so a ban or a deletion takes effect on the very next page.
create view "user".account_standing as
select
  id as user_id,
  status,
  (banned_at is not null and (ban_until is null or ban_until > now())) as banned
from "user".users;
