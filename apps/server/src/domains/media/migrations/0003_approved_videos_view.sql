-- Approved video uploads, published read-only for the video domain's prerecorded offers (a domain
-- never reads another's tables; it reads the views the owner publishes). A rejected or erased video
-- leaves the view at once.
create view media.approved_videos as
select
  id,
  owner_id
from media.items
where kind = 'video' and status = 'approved';
