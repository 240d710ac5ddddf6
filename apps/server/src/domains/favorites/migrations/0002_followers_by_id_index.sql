-- The came-online fan-out pages a streamer's followers by follower id (a keyset that needs no time
-- order). Without this index every batch of 500 re-read and sorted all of a streamer's followers:
-- 100 batches of a 50k-follower streamer read 5M rows instead of 50k.
create index favorites_followers_by_id on favorites.favorites (favorite_id, user_id);
