-- Video uploads: a third kind, moderated like photos (pending → approved | rejected).
alter table media.items drop constraint items_kind_check;
alter table media.items add constraint items_kind_check check (kind in ('photo', 'video', 'kyc_document'));
alter table media.items drop constraint items_kind_status;
alter table media.items add constraint items_kind_status check (
  (kind in ('photo', 'video') and status in ('pending', 'approved', 'rejected'))
  or (kind = 'kyc_document' and status = 'private')
);
