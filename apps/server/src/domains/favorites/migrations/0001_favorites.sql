-- Favourites: a user follows a streamer. One row per (follower, streamer).
create schema if not exists favorites;

create table favorites.favorites (
  user_id      uuid        not null,
  favorite_id  uuid        not null,
  created_at   timestamptz not null,
  primary key (user_id, favorite_id),
  check (user_id <> favorite_id)
);
-- A streamer's followers, newest first (cursor pagination and the came-online fan-out).
create index favorites_followers on favorites.favorites (favorite_id, created_at desc, user_id);
-- A user's favourites, newest first.
create index favorites_mine on favorites.favorites (user_id, created_at desc, favorite_id);

-- Follower counts, kept in the same transaction as the rows, so a count read (profile, admin top
-- list) never scans a 50k-follower index.
create table favorites.follower_counts (
  favorite_id  uuid    primary key,
  followers    bigint  not null default 0 check (followers >= 0)
);
create index follower_counts_top on favorites.follower_counts (followers desc, favorite_id);

-- Published for other domains: read-only.
create view favorites.user_favorites as
select user_id, favorite_id, created_at
from favorites.favorites;
