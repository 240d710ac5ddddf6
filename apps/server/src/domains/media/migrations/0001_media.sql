-- Uploaded files. The bytes live in object storage (local folder or S3); this is their record.
create schema if not exists media;

create table media.items (
  id                uuid        primary key default gen_random_uuid(),
  -- Cursor for pagination: ids are random, this is insertion order.
  seq               bigint      generated always as identity unique,
  owner_id          uuid        not null,
  kind              text        not null check (kind in ('photo', 'kyc_document')),
  -- photo: pending → approved | rejected (moderation); kyc_document: private, never public.
  status            text        not null check (status in ('pending', 'approved', 'rejected', 'private')),
  content_type      text        not null,
  width             integer     not null,
  height            integer     not null,
  bytes             integer     not null,
  -- [{ name, key, contentType, width, height, bytes }]: the stored renditions.
  variants          jsonb       not null,
  rejection_reason  text,
  moderated_by      uuid,
  moderated_at      timestamptz,
  created_at        timestamptz not null default now(),
  constraint items_kind_status check (
    (kind = 'photo' and status in ('pending', 'approved', 'rejected'))
    or (kind = 'kyc_document' and status = 'private')
  ),
  constraint items_rejection_reason check (status <> 'rejected' or rejection_reason is not null)
);
create index items_owner on media.items (owner_id, seq desc);
create index items_pending_photos on media.items (seq) where status = 'pending';
