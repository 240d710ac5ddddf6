-- A deleted account's submissions lose their document and selfie references (the files are erased by
-- the media domain); the rows and every review stay, because the decisions are kept for compliance.
alter table kyc.submissions alter column selfie_id drop not null;
alter table kyc.submissions drop constraint submissions_document_ids_check;
alter table kyc.submissions add constraint submissions_document_ids_check
  check (cardinality(document_ids) <= 5);
alter table kyc.submissions add column erased_at timestamptz;
alter table kyc.submissions add constraint submissions_erased
  check (erased_at is not null or (selfie_id is not null and cardinality(document_ids) >= 1));
