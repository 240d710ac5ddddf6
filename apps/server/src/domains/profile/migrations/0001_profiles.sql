-- One row per account that has started its profile. Public and private columns share the row;
-- the repository reads them through separate selects, and GraphQL exposes them as separate types.
-- The row goes with the account (on delete cascade): private data must not outlive it.
create schema if not exists profile;

create table profile.profiles (
  user_id                  uuid        primary key references "user".users (id) on delete cascade,
  -- public
  display_name             text,
  gender                   text,
  country                  text,
  languages                text[]      not null default '{}',
  bio                      text,
  interests                text[]      not null default '{}',
  headline                 text,
  -- private
  birth_date               date,
  real_name                text,
  payout_details           jsonb,
  preferences              jsonb       not null default '{}',
  onboarding_completed_at  timestamptz,
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now(),
  constraint profiles_languages_max check (cardinality(languages) <= 5),
  constraint profiles_interests_max check (cardinality(interests) <= 10),
  constraint profiles_bio_length check (char_length(bio) <= 500),
  constraint profiles_payout_object check (payout_details is null or jsonb_typeof(payout_details) = 'object')
);
