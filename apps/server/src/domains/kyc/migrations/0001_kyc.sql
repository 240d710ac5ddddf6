-- Identity checks of streamers: what they submitted and every review of it.
create schema if not exists kyc;

create table kyc.submissions (
  id            uuid        primary key default gen_random_uuid(),
  -- Cursor for the review queue: ids are random, this is insertion order.
  seq           bigint      generated always as identity unique,
  user_id       uuid        not null,
  -- media.items ids of kind kyc_document, owned by user_id (checked by the service at submission).
  document_ids  uuid[]      not null check (cardinality(document_ids) between 1 and 5),
  selfie_id     uuid        not null,
  status        text        not null default 'pending'
                check (status in ('pending', 'approved', 'resubmission_requested', 'rejected')),
  -- The latest review; the full history is kyc.reviews.
  reason        text,
  reviewed_by   uuid,
  reviewed_at   timestamptz,
  created_at    timestamptz not null default now()
);
-- At most one submission waits for review per account.
create unique index submissions_one_pending on kyc.submissions (user_id) where status = 'pending';
create index submissions_user on kyc.submissions (user_id, seq desc);
create index submissions_pending on kyc.submissions (seq) where status = 'pending';

-- Every decision on a submission, never updated or deleted.
create table kyc.reviews (
  id             bigint      generated always as identity primary key,
  submission_id  uuid        not null references kyc.submissions (id),
  reviewer_id    uuid        not null,
  reviewer_role  text        not null,
  decision       text        not null check (decision in ('approved', 'resubmission_requested', 'rejected')),
  reason         text,
  created_at     timestamptz not null default now(),
  constraint reviews_reason check (decision = 'approved' or reason is not null)
);
create index reviews_submission on kyc.reviews (submission_id, id);
