// The SQL the gallery repository composes: orders, eligibility, snapshots and page reads.
import { type RawBuilder, sql } from 'kysely';
import type {
  GalleryOrderKey,
  GalleryRules,
  GalleryTarget,
  GalleryViewerRole,
  SortDirection,
} from './gallery.rules.ts';
import type { PageRow } from './gallery.tables.ts';

/** What a snapshot is built from: the viewer, the rules of its role, and how far to look. */
export type SnapshotRequest = {
  id: string;
  viewerId: string;
  viewerRole: GalleryViewerRole;
  rules: GalleryRules;
  /** Ids kept for the scroll. */
  size: number;
  /** With boosts or a seen penalty, how many candidates (by the order keys) get scored. */
  window: number;
  now: Date;
  expiresAt: Date;
};

/**
 * One ORDER BY term per key. Only these column names ever reach the SQL (the key is a literal union
 * checked by zod); nulls always sort last, so "never online" cards trail whatever the direction.
 * The spellings match the partial indexes in 0001_gallery.sql, which lets the default orders walk
 * an index and stop at the snapshot size instead of sorting every card.
 */
function orderTerm(alias: string, key: GalleryOrderKey, direction: SortDirection): RawBuilder<unknown> {
  const column = sql.ref(`${alias}.${key}`);
  const dir = sql.raw(direction);
  if (key === 'online' || key === 'created_at') return sql`${column} ${dir}`;
  return sql`${column} ${dir} nulls last`;
}

export function orderBy(alias: string, rules: GalleryRules): RawBuilder<unknown> {
  const terms = rules.order.map((o) => orderTerm(alias, o.key, o.direction));
  return sql.join([...terms, sql.ref(`${alias}.user_id`)]);
}

/**
 * The cards one viewer may be shown, by the read model (blocks read live from the published view);
 * with no viewer, the cards anyone may be shown (the viewer's blocks are then applied by the caller).
 */
function eligible(rules: GalleryRules, viewerId: string | null): RawBuilder<unknown> {
  const conditions: RawBuilder<unknown>[] = [
    sql`c.kind = ${rules.target}`,
    sql`c.photo_id is not null`,
    sql`not c.banned`,
    // NOT IN over small uncorrelated sets: hashed once per statement, so an index walk stays an index walk.
    sql`c.user_id not in (select h.user_id from gallery.hidden h)`,
  ];
  if (viewerId !== null) {
    conditions.push(
      sql`c.user_id <> ${viewerId}::uuid`,
      sql`c.user_id not in (select b.blocked_id from blocklist.active_blocks b where b.blocker_id = ${viewerId}::uuid)`,
      sql`c.user_id not in (select b.blocker_id from blocklist.active_blocks b where b.blocked_id = ${viewerId}::uuid)`,
    );
  }
  if (rules.filters.onlineOnly) conditions.push(sql`c.online`);
  if (rules.filters.countries.length > 0)
    conditions.push(sql`c.country = any(${rules.filters.countries}::text[])`);
  if (rules.filters.languages.length > 0)
    conditions.push(sql`c.languages && ${rules.filters.languages}::text[]`);
  return sql.join(conditions, sql` and `);
}

/** The first `window` candidates by the order keys, with their cohort boost (the sum of the weights). */
export function boostedCandidates(
  rules: GalleryRules,
  viewerId: string | null,
  window: number,
): RawBuilder<unknown> {
  const tags = rules.boosts.map((b) => b.tag);
  const weights = rules.boosts.map((b) => b.weight);
  return sql`
    candidates as (
      select c.user_id, c.online, c.online_since, c.last_seen_at, c.created_at
      from gallery.cards c where ${eligible(rules, viewerId)}
      order by ${orderBy('c', rules)} limit ${window}
    ),
    boosts as (select * from unnest(${tags}::text[], ${weights}::int[]) as b(tag, weight)),
    boosted as (
      select t.user_id, sum(b.weight)::int as weight
      from panel.user_cohort_tags t join boosts b on b.tag = t.tag
      where t.user_id in (select user_id from candidates)
      group by t.user_id
    )`;
}

/** The ordered ids of a new scroll: by the order keys, or by score then keys within a window. */
export function snapshotQuery(request: SnapshotRequest): RawBuilder<unknown> {
  const { rules, viewerId } = request;
  if (!isScored(rules)) {
    return sql`select c.user_id from gallery.cards c where ${eligible(rules, viewerId)}
      order by ${orderBy('c', rules)} limit ${request.size}`;
  }
  return sql`
    with ${boostedCandidates(rules, viewerId, request.window)},
    seen as (
      select v.other_id from interaction.pair_interactions v
      where v.user_id = ${viewerId}::uuid and v.kind = 'profile_view'
    )
    select k.user_id from candidates k
    left join boosted on boosted.user_id = k.user_id
    order by coalesce(boosted.weight, 0)
      - (case when k.user_id in (select other_id from seen) then ${rules.seenPenalty}::int else 0 end) desc,
      ${orderBy('k', rules)}
    limit ${request.size}`;
}

/** Rules whose order needs a score (boosts or a seen penalty), not only the order keys. */
export const isScored = (rules: GalleryRules) => rules.boosts.length > 0 || rules.seenPenalty > 0;

/** A candidate of a scored window: its cohort boost and its rank by the order keys alone (1 first). */
export type ScoredCandidate = { userId: string; boost: number; rank: number };

/** Which positions of a scroll to read, and the live checks that decide whether each is shown. */
export type PageWindow = {
  target: GalleryTarget;
  onlineOnly: boolean;
  /** 1-based, inclusive positions of the snapshot. */
  from: number;
  to: number;
};

export type SessionColumns = { length: number; expires_at: Date };

/** A read of a scroll: its size and expiry, and the positions asked for (fewer at its end). */
export type PageRead = { length: number; expiresAt: Date; rows: PageRow[] };

export function pageRead(rows: Array<PageRow & SessionColumns>): PageRead {
  const first = rows[0];
  return {
    length: Number(first?.length ?? 0),
    expiresAt: first?.expires_at ?? new Date(0),
    // A scroll read past its end still gives one row (its size), with no position.
    rows: rows.filter((r) => r.pos !== null),
  };
}

/**
 * The page select over a CTE named by `source` holding the scroll's (ids, expires_at). Every check
 * that must hold "from the next page on" reads the owning domain's published view here: blocks both
 * ways, ban and deletion, approved photo, hiding, presence (for onlineOnly). Each position is a
 * primary-key lookup per view; the viewer's blocks are two small sets hashed once.
 */
export function pageQuery(
  source: RawBuilder<unknown>,
  viewerId: string,
  page: PageWindow,
): RawBuilder<unknown> {
  return sql`
    select
      cardinality(f.ids) as length,
      f.expires_at,
      (${page.from}::int - 1 + s.ord) as pos,
      s.id as user_id,
      (
        c.kind = ${page.target}
        and ap.id is not null
        and st.status = 'active' and not st.banned and not c.banned
        and h.user_id is null
        and (not ${page.onlineOnly}::boolean or coalesce(p.online, false))
        and s.id not in (select b.blocked_id from blocklist.active_blocks b where b.blocker_id = ${viewerId}::uuid)
        and s.id not in (select b.blocker_id from blocklist.active_blocks b where b.blocked_id = ${viewerId}::uuid)
      ) is true as visible,
      ap.id as photo_id,
      d.display_name,
      d.country,
      c.languages,
      p.online,
      p.online_since,
      p.last_seen_at
    from ${source} f
    left join lateral unnest(f.ids[${page.from}:${page.to}]) with ordinality as s(id, ord) on true
    left join gallery.cards c on c.user_id = s.id
    left join media.approved_photos ap on ap.id = c.photo_id
    left join "user".account_standing st on st.user_id = s.id
    left join gallery.hidden h on h.user_id = s.id
    left join profile.admin_directory d on d.user_id = s.id
    left join presence.user_presence p on p.user_id = s.id
    order by s.ord
  `;
}
