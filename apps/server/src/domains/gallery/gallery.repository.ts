import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import {
  boostedCandidates,
  orderBy,
  type PageRead,
  type PageWindow,
  pageQuery,
  pageRead,
  type ScoredCandidate,
  type SessionColumns,
  type SnapshotRequest,
  snapshotQuery,
} from './gallery.queries.ts';
import type { GalleryRules, GalleryViewerRole } from './gallery.rules.ts';
import type { PageRow } from './gallery.tables.ts';

type Executor = Db | Tx;
export type StoredRules = { rules: unknown; updatedAt: Date; updatedBy: string | null };

/** The gallery's tables: the only code with their SQL, and its reads of other domains' published views. */
export class GalleryRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Upserts the cards of these accounts (all when null) from the published views, and removes the
   * cards of accounts that are gone or deleted. Rows that would not change are not written, so the
   * full rebuild touches only what drifted. Ban columns are left alone (they come by event).
   */
  async refreshCards(
    ex: Executor,
    userIds: readonly string[] | null,
  ): Promise<{ upserted: number; removed: number }> {
    const ids = userIds === null ? null : [...new Set(userIds)];
    if (ids !== null && ids.length === 0) return { upserted: 0, removed: 0 };
    const upserted = await sql`
      insert into gallery.cards as c
        (user_id, kind, country, languages, photo_id, online, online_since, last_seen_at, created_at, refreshed_at)
      select
        u.user_id,
        case
          when u.roles && array['moderator', 'admin']::text[] then 'staff'
          when 'streamer' = any(u.roles) then 'streamer'
          else 'user'
        end,
        d.country,
        coalesce(l.languages, '{}'),
        ph.id,
        coalesce(p.online, false),
        p.online_since,
        p.last_seen_at,
        u.created_at,
        now()
      from "user".cohort_attributes u
      left join profile.admin_directory d on d.user_id = u.user_id
      left join profile.cohort_attributes l on l.user_id = u.user_id
      left join presence.user_presence p on p.user_id = u.user_id
      left join lateral (
        select a.id from media.approved_photos a where a.owner_id = u.user_id order by a.seq desc limit 1
      ) ph on true
      where u.status = 'active' and (${ids}::uuid[] is null or u.user_id = any(${ids}::uuid[]))
      on conflict (user_id) do update set
        kind = excluded.kind,
        country = excluded.country,
        languages = excluded.languages,
        photo_id = excluded.photo_id,
        online = excluded.online,
        online_since = excluded.online_since,
        last_seen_at = excluded.last_seen_at,
        refreshed_at = excluded.refreshed_at
      where (c.kind, c.country, c.languages, c.photo_id, c.online, c.online_since, c.last_seen_at)
        is distinct from (excluded.kind, excluded.country, excluded.languages, excluded.photo_id,
          excluded.online, excluded.online_since, excluded.last_seen_at)
    `.execute(ex);
    const removed = await sql`
      delete from gallery.cards c
      where (${ids}::uuid[] is null or c.user_id = any(${ids}::uuid[]))
        and not exists (
          select 1 from "user".cohort_attributes u where u.user_id = c.user_id and u.status = 'active'
        )
    `.execute(ex);
    return {
      upserted: Number(upserted.numAffectedRows ?? 0n),
      removed: Number(removed.numAffectedRows ?? 0n),
    };
  }

  /** A ban (until `until`, or open-ended) or its end, from the user domain's events. */
  async setBan(ex: Executor, userId: string, banned: boolean, until: Date | null): Promise<void> {
    await sql`
      update gallery.cards set banned = ${banned}, banned_until = ${banned ? until : null}
      where user_id = ${userId}::uuid
    `.execute(ex);
  }

  /** Timed bans that ended by themselves (no event says so): their cards come back. */
  async liftEndedBans(ex: Executor, now: Date): Promise<number> {
    const result = await sql`
      update gallery.cards set banned = false, banned_until = null
      where banned and banned_until is not null and banned_until <= ${now}
    `.execute(ex);
    return Number(result.numAffectedRows ?? 0n);
  }

  async deleteCard(ex: Executor, userId: string): Promise<void> {
    await sql`delete from gallery.cards where user_id = ${userId}::uuid`.execute(ex);
  }

  /**
   * Builds and stores a scroll's snapshot and reads its first positions, in one statement (one round
   * trip and one plan for the first page).
   */
  async createSnapshot(request: SnapshotRequest, page: PageWindow): Promise<PageRead> {
    const result = await sql<PageRow & SessionColumns>`
      with snapshot as (
        insert into gallery.feed_sessions (id, viewer_id, viewer_role, ids, created_at, expires_at)
        values (
          ${request.id}::uuid, ${request.viewerId}::uuid, ${request.viewerRole},
          array(${snapshotQuery(request)}), ${request.now}, ${request.expiresAt}
        )
        returning ids, expires_at
      )
      ${pageQuery(sql`snapshot`, request.viewerId, page)}
    `.execute(this.db);
    return pageRead(result.rows);
  }

  /**
   * The viewer-independent part of a scored order: the first `window` cards anyone may be shown, by
   * the order keys, with their boosts. The service caches it briefly and applies each viewer's
   * blocks and profile views to it (`viewerExclusions`).
   */
  async scoredWindow(rules: GalleryRules, window: number): Promise<ScoredCandidate[]> {
    const result = await sql<{ user_id: string; boost: number; rank: string | bigint }>`
      with ${boostedCandidates(rules, null, window)}
      select k.user_id, coalesce(boosted.weight, 0) as boost,
        row_number() over (order by ${orderBy('k', rules)}) as rank
      from candidates k left join boosted on boosted.user_id = k.user_id
    `.execute(this.db);
    return result.rows.map((r) => ({ userId: r.user_id, boost: Number(r.boost), rank: Number(r.rank) }));
  }

  /** Whom the viewer blocked or is blocked by (read live), and whose profiles it viewed. */
  async viewerExclusions(viewerId: string): Promise<{ blocked: Set<string>; seen: Set<string> }> {
    const result = await sql<{ id: string; seen: boolean }>`
      select blocked_id as id, false as seen from blocklist.active_blocks where blocker_id = ${viewerId}::uuid
      union all
      select blocker_id, false from blocklist.active_blocks where blocked_id = ${viewerId}::uuid
      union all
      select other_id, true from interaction.pair_interactions
      where user_id = ${viewerId}::uuid and kind = 'profile_view'
    `.execute(this.db);
    const blocked = new Set<string>();
    const seen = new Set<string>();
    for (const row of result.rows) (row.seen ? seen : blocked).add(row.id);
    return { blocked, seen };
  }

  /** Stores a snapshot ordered by the caller and reads its first positions, in one statement. */
  async storeSnapshot(
    request: Omit<SnapshotRequest, 'rules' | 'size' | 'window'>,
    ids: readonly string[],
    page: PageWindow,
  ): Promise<PageRead> {
    const result = await sql<PageRow & SessionColumns>`
      with snapshot as (
        insert into gallery.feed_sessions (id, viewer_id, viewer_role, ids, created_at, expires_at)
        values (
          ${request.id}::uuid, ${request.viewerId}::uuid, ${request.viewerRole},
          ${ids}::uuid[], ${request.now}, ${request.expiresAt}
        )
        returning ids, expires_at
      )
      ${pageQuery(sql`snapshot`, request.viewerId, page)}
    `.execute(this.db);
    return pageRead(result.rows);
  }

  /**
   * Positions `from`..`to` of a scroll with what each card shows and whether it may be shown now,
   * or undefined when the scroll is not the viewer's (or is gone).
   */
  async readPage(sessionId: string, viewerId: string, page: PageWindow): Promise<PageRead | undefined> {
    // gallery.read_page (0001_gallery.sql) is pageQuery over the stored row, with a cached plan.
    const result = await sql<PageRow & SessionColumns>`
      select * from gallery.read_page(
        ${sessionId}::uuid, ${viewerId}::uuid, ${page.from}::int, ${page.to}::int, ${page.target}, ${page.onlineOnly}::boolean
      )
    `.execute(this.db);
    return result.rows.length === 0 ? undefined : pageRead(result.rows);
  }

  /** Every id of a scroll (the subscription watches them). */
  async sessionIds(sessionId: string, viewerId: string): Promise<string[] | undefined> {
    const result = await sql<{ ids: string[] }>`
      select ids from gallery.feed_sessions
      where id = ${sessionId}::uuid and viewer_id = ${viewerId}::uuid and expires_at > now()
    `.execute(this.db);
    return result.rows[0]?.ids;
  }

  async purgeSessions(ex: Executor, now: Date): Promise<number> {
    const result = await sql`delete from gallery.feed_sessions where expires_at <= ${now}`.execute(ex);
    return Number(result.numAffectedRows ?? 0n);
  }

  /** Whether either account blocked the other (the blocklist domain's published view). */
  async blockedEitherWay(a: string, b: string): Promise<boolean> {
    const result = await sql<{ blocked: boolean }>`
      select exists (
        select 1 from blocklist.active_blocks
        where (blocker_id = ${a}::uuid and blocked_id = ${b}::uuid)
           or (blocker_id = ${b}::uuid and blocked_id = ${a}::uuid)
      ) as blocked
    `.execute(this.db);
    return result.rows[0]?.blocked === true;
  }

  async findRules(role: GalleryViewerRole): Promise<StoredRules | undefined> {
    return this.rulesRow(this.db, role, false);
  }

  /** The role's row, locked until the transaction ends (an edit reads "before" under the lock). */
  async lockRules(tx: Tx, role: GalleryViewerRole): Promise<StoredRules | undefined> {
    return this.rulesRow(tx, role, true);
  }

  private async rulesRow(
    ex: Executor,
    role: GalleryViewerRole,
    lock: boolean,
  ): Promise<StoredRules | undefined> {
    const result = await sql<{ rules: unknown; updated_at: Date; updated_by: string | null }>`
      select rules, updated_at, updated_by from gallery.rules where viewer_role = ${role}
      ${lock ? sql`for update` : sql``}
    `.execute(ex);
    const row = result.rows[0];
    return row && { rules: row.rules, updatedAt: row.updated_at, updatedBy: row.updated_by };
  }

  async saveRules(
    tx: Tx,
    role: GalleryViewerRole,
    rules: GalleryRules,
    by: string | null,
    at: Date,
  ): Promise<void> {
    await sql`
      insert into gallery.rules (viewer_role, rules, updated_at, updated_by)
      values (${role}, ${JSON.stringify(rules)}::jsonb, ${at}, ${by}::uuid)
      on conflict (viewer_role) do update
        set rules = excluded.rules, updated_at = excluded.updated_at, updated_by = excluded.updated_by
    `.execute(tx);
  }

  /** Takes the account out of every feed; false when it already was. */
  async hide(tx: Tx, userId: string, reason: string, by: string | null, at: Date): Promise<boolean> {
    const result = await sql`
      insert into gallery.hidden (user_id, reason, hidden_by, hidden_at)
      values (${userId}::uuid, ${reason}, ${by}::uuid, ${at})
      on conflict (user_id) do nothing
    `.execute(tx);
    return Number(result.numAffectedRows ?? 0n) > 0;
  }

  /** Puts it back; false when it was not hidden. */
  async unhide(tx: Tx, userId: string): Promise<boolean> {
    const result = await sql`delete from gallery.hidden where user_id = ${userId}::uuid`.execute(tx);
    return Number(result.numAffectedRows ?? 0n) > 0;
  }
}
