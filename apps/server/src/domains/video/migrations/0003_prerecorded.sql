-- Prerecorded videos: a streamer offers some of their approved video uploads, and a user watches
-- one as a call of kind 'prerecorded' (the record, billing and call_ended are the calls' own).
create table video.prerecorded_offers (
  id                uuid        primary key,
  streamer_id       uuid        not null,
  -- A media item of kind video owned by the streamer. Whether it is (still) approved is read from the
  -- view media.approved_videos when offering and starting, so a rejection or an erasure drops it.
  media_id          uuid        not null,
  title             text        not null check (length(title) between 1 and 80),
  languages         text[]      not null default '{}' check (cardinality(languages) <= 5),
  -- Declared by the streamer: media does not probe durations. Bounds the viewing on the server.
  duration_seconds  int         not null check (duration_seconds between 1 and 3600),
  created_at        timestamptz not null,
  -- Withdrawn offers stay for the viewing records that point at them.
  withdrawn_at      timestamptz
);
create unique index prerecorded_offers_media on video.prerecorded_offers (media_id) where withdrawn_at is null;
create index prerecorded_offers_streamer on video.prerecorded_offers (streamer_id) where withdrawn_at is null;

-- Which offer a prerecorded call played: one row per call, written with it.
create table video.prerecorded_views (
  call_id      uuid        primary key references video.calls (id),
  offer_id     uuid        not null references video.prerecorded_offers (id),
  viewer_id    uuid        not null,
  streamer_id  uuid        not null,
  started_at   timestamptz not null
);
-- "Which streamers did this user watch lately": the offer prefers the others.
create index prerecorded_views_recent on video.prerecorded_views (viewer_id, streamer_id, started_at desc);
