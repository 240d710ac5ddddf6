-- Gallery: the personal feed of partners. See docs/gallery.md.

create schema if not exists gallery;

-- Read model: one row per active account, denormalised from the published views of user, profile,
-- presence and media, kept current by event consumers (gallery.consumers.ts) and rebuilt for drift by
-- the `gallery.rebuild_cards` cron task. It only serves to choose and order a scroll's ids: what a
-- card shows, and whether it may be shown (blocks, bans, hiding, deletion), is read live per page.
create table gallery.cards (
  user_id       uuid        primary key,
  -- streamer, user, or staff (moderators and admins are never shown).
  kind          text        not null check (kind in ('streamer', 'user', 'staff')),
  country       text,
  languages     text[]      not null default '{}',
  -- The newest approved photo; null keeps the account out of every feed.
  photo_id      uuid,
  online        boolean     not null default false,
  online_since  timestamptz,
  last_seen_at  timestamptz,
  -- Bans only arrive by event (user_banned/unbanned): the rebuild leaves these columns alone, except
  -- that it lifts a timed ban that ended by itself.
  banned        boolean     not null default false,
  banned_until  timestamptz,
  created_at    timestamptz not null,
  refreshed_at  timestamptz not null default now()
);

-- The default orders, as partial indexes over only the cards a feed can show (approved photo, not
-- banned): "streamers, online first, longest online first" and "users, recently active first". A
-- scroll's first page reads the first SNAPSHOT_SIZE entries of one of them and stops.
create index cards_streamers_online on gallery.cards (online desc, online_since asc, user_id)
  where kind = 'streamer' and photo_id is not null and not banned;
create index cards_users_recent on gallery.cards (online desc, last_seen_at desc nulls last, user_id)
  where kind = 'user' and photo_id is not null and not banned;
create index cards_created on gallery.cards (kind, created_at desc, user_id)
  where photo_id is not null and not banned;

-- Accounts moderators took out of every feed (the account itself keeps working). Checked live.
create table gallery.hidden (
  user_id    uuid        primary key,
  reason     text        not null check (length(reason) between 1 and 500),
  hidden_by  uuid,
  hidden_at  timestamptz not null
);

-- Rules per viewer role, as data (validated by zod in gallery.rules.ts, edited by admins, audited).
create table gallery.rules (
  viewer_role  text        primary key check (viewer_role in ('user', 'streamer')),
  rules        jsonb       not null,
  updated_at   timestamptz not null default now(),
  updated_by   uuid
);

insert into gallery.rules (viewer_role, rules) values
  ('user', '{"target":"streamer","filters":{"onlineOnly":false,"countries":[],"languages":[]},"order":[{"key":"online","direction":"desc"},{"key":"online_since","direction":"asc"}],"boosts":[],"seenPenalty":0}'),
  ('streamer', '{"target":"user","filters":{"onlineOnly":false,"countries":[],"languages":[]},"order":[{"key":"online","direction":"desc"},{"key":"last_seen_at","direction":"desc"}],"boosts":[],"seenPenalty":0}');

-- Scroll snapshots: the first page fixes the ordered ids of the whole scroll; later pages read
-- positions of it, so nobody repeats or is skipped while presence changes. Expired rows are purged
-- by the rebuild task.
create table gallery.feed_sessions (
  id          uuid        primary key,
  viewer_id   uuid        not null,
  viewer_role text        not null,
  ids         uuid[]      not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null
);
create index feed_sessions_expiry on gallery.feed_sessions (expires_at);

-- A later page of a scroll: positions p_from..p_to with what each card shows and whether it may be
-- shown now. The same select as the first page's (gallery.repository.ts, pageQuery), kept here as a
-- PL/pgSQL function only so that its plan is cached per connection: planning the seven primary-key
-- joins cost more than running them. Every check that must hold "from the next page on" reads the
-- owning domain's published view: blocks both ways, ban and deletion, approved photo, hiding,
-- presence (for onlineOnly). No row at all: not this viewer's scroll.
create function gallery.read_page(
  p_session uuid, p_viewer uuid, p_from int, p_to int, p_target text, p_online_only boolean
)
returns table (
  length int, expires_at timestamptz, pos int, user_id uuid, visible boolean, photo_id uuid,
  display_name text, country text, languages text[], online boolean, online_since timestamptz,
  last_seen_at timestamptz
)
language plpgsql stable as $$
#variable_conflict use_column
begin
  return query
  select
    cardinality(f.ids)::int,
    f.expires_at,
    (p_from - 1 + s.ord)::int,
    s.id,
    (
      c.kind = p_target
      and ap.id is not null
      and st.status = 'active' and not st.banned and not c.banned
      and h.user_id is null
      and (not p_online_only or coalesce(p.online, false))
      and s.id not in (select b.blocked_id from blocklist.active_blocks b where b.blocker_id = p_viewer)
      and s.id not in (select b.blocker_id from blocklist.active_blocks b where b.blocked_id = p_viewer)
    ) is true,
    ap.id,
    d.display_name,
    d.country,
    c.languages,
    p.online,
    p.online_since,
    p.last_seen_at
  from gallery.feed_sessions f
  left join lateral unnest(f.ids[p_from:p_to]) with ordinality as s(id, ord) on true
  left join gallery.cards c on c.user_id = s.id
  left join media.approved_photos ap on ap.id = c.photo_id
  left join "user".account_standing st on st.user_id = s.id
  left join gallery.hidden h on h.user_id = s.id
  left join profile.admin_directory d on d.user_id = s.id
  left join presence.user_presence p on p.user_id = s.id
  where f.id = p_session and f.viewer_id = p_viewer
  order by s.ord;
end
$$;
