-- Published read-only view: the approved photos of each account (the gallery read model takes each
-- account's newest one as its card photo). Pending and rejected photos are never in it.
create view media.approved_photos as
select
  id,
  owner_id,
  seq
from media.items
where kind = 'photo' and status = 'approved';
