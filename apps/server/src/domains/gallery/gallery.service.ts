import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '../../platform/auth/principal.ts';
import { TtlCache } from '../../platform/cache/ttl-cache.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { isScored, type PageRead, type ScoredCandidate } from './gallery.queries.ts';
import type { GalleryRepository } from './gallery.repository.ts';
import {
  checkRules,
  DEFAULT_RULES,
  GALLERY_VIEWER_ROLES,
  type GalleryRules,
  type GalleryViewerRole,
  galleryRulesSchema,
} from './gallery.rules.ts';
import type { PageRow } from './gallery.tables.ts';

/** Ids one scroll can hold: 33 pages of 30. Pulling to refresh starts a new scroll. */
export const SNAPSHOT_SIZE = 1000;
/** With boosts or a seen penalty, the candidates (first by the order keys) that get scored. */
export const SCORING_WINDOW = 5_000;
/** How long a scroll's cursor stays usable; expired ones get BAD_USER_INPUT reason EXPIRED. */
export const SCROLL_TTL_MS = 30 * 60_000;
export const MAX_PAGE = 100;
// Rules change rarely and are read on every first page. An edit drops this node's copy at once;
// other nodes pick it up within this time.
const RULES_CACHE_MS = 5_000;
// A scored window (boosts, seen penalty) is the same for every viewer of a role but costs a few
// times a plain first page: computed once per second per node. Blocks and views stay per viewer, live.
const WINDOW_CACHE_MS = 1_000;

const uuid = z.uuid('must be an account id');
const firstSchema = z
  .number()
  .int()
  .min(1, 'first must be at least 1')
  .max(MAX_PAGE, `first is at most ${MAX_PAGE}`);
const reasonSchema = z.string().trim().min(1, 'a reason is required').max(500, 'at most 500 characters');

export type GalleryCard = {
  userId: string;
  displayName: string | null;
  photo: { url: string; expiresAt: Date } | null;
  online: boolean;
  onlineSince: Date | null;
  lastSeenAt: Date | null;
  country: string | null;
  languages: string[];
};

export type GalleryPage = { scrollId: string; cards: GalleryCard[]; nextCursor: string | null };

export type GalleryRulesView = {
  role: GalleryViewerRole;
  rules: GalleryRules;
  updatedAt: Date | null;
  updatedBy: string | null;
};

/** The media domain signs photo URLs; the viewer's principal is what it checks. */
export type PhotoUrls = {
  thumbnailUrl(principal: Principal, photoId: string): Promise<{ url: string; expiresAt: Date }>;
};

type Cursor = { scrollId: string; offset: number };

const encodeCursor = (c: Cursor) => Buffer.from(`${c.scrollId}:${c.offset}`).toString('base64url');

function decodeCursor(cursor: string): Cursor {
  const [scrollId, offset] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const n = Number(offset);
  if (!scrollId || !uuid.safeParse(scrollId).success || !Number.isInteger(n) || n < 0)
    throw badInput('after must be a cursor from a previous page', { field: 'after' });
  return { scrollId, offset: n };
}

/** The feed a principal gets: streamers see users; everyone else (users, staff testing) sees streamers. */
export const viewerRoleOf = (principal: Principal): GalleryViewerRole =>
  principal.role === 'streamer' ? 'streamer' : 'user';

/**
 * The gallery: each viewer's feed of partners, by the rules of its role. A scroll's first page
 * fixes the ordered ids (the snapshot) so later pages neither repeat nor skip anyone while presence
 * changes; each page then re-checks every position live (blocks, bans, deletion, hiding, photo,
 * presence), so what must disappear is gone from the next page on.
 */
export class GalleryService {
  private readonly deps: {
    db: Db;
    repo: GalleryRepository;
    photos: PhotoUrls;
    audit: AuditLog;
    clock: Clock;
    logger: Logger;
  };
  private readonly rulesCache: TtlCache<GalleryRulesView>;
  // Signed thumbnail URLs, shared by every viewer (approved photos are visible to all signed-in
  // accounts): kept until a minute before they expire, so a page signs only photos new to this node.
  private readonly photoCache: TtlCache<{ url: string; expiresAt: Date } | null>;
  private readonly windowCache: TtlCache<ScoredCandidate[]>;

  constructor(deps: GalleryService['deps']) {
    this.deps = deps;
    this.rulesCache = new TtlCache({ ttlMs: RULES_CACHE_MS, maxEntries: 10, clock: deps.clock });
    this.photoCache = new TtlCache({ ttlMs: 10 * 60_000, maxEntries: 100_000, clock: deps.clock });
    this.windowCache = new TtlCache({ ttlMs: WINDOW_CACHE_MS, maxEntries: 10, clock: deps.clock });
  }

  /** One page of the principal's feed: a new scroll without `after`, else the scroll's next page. */
  async feed(principal: Principal, first: number, after?: string | null): Promise<GalleryPage> {
    const limit = parseOrThrow(firstSchema, first, 'first');
    const role = viewerRoleOf(principal);
    const { rules } = await this.rules(role);
    const viewerId = principal.userId;
    // Read a little past the page so that a few skipped positions rarely cost a second round trip.
    const windowAt = (offset: number, wanted: number) => ({
      target: rules.target,
      onlineOnly: rules.filters.onlineOnly,
      from: offset + 1,
      to: offset + wanted + Math.ceil(limit / 2),
    });
    let cursor: Cursor;
    let read: PageRead;
    if (after) {
      cursor = decodeCursor(after);
      const found = await this.deps.repo.readPage(cursor.scrollId, viewerId, windowAt(cursor.offset, limit));
      if (!found) throw badInput('after must be a cursor from a previous page', { field: 'after' });
      if (found.expiresAt <= this.deps.clock.now())
        throw new AppError('BAD_USER_INPUT', 'This scroll expired: start again without after', {
          field: 'after',
          reason: 'EXPIRED',
        });
      read = found;
    } else {
      const now = this.deps.clock.now();
      cursor = { scrollId: randomUUID(), offset: 0 };
      const snapshot = {
        id: cursor.scrollId,
        viewerId,
        viewerRole: role,
        now,
        expiresAt: new Date(now.getTime() + SCROLL_TTL_MS),
      };
      read = isScored(rules)
        ? await this.deps.repo.storeSnapshot(
            snapshot,
            await this.scoredIds(role, rules, viewerId),
            windowAt(0, limit),
          )
        : await this.deps.repo.createSnapshot(
            { ...snapshot, rules, size: SNAPSHOT_SIZE, window: SCORING_WINDOW },
            windowAt(0, limit),
          );
    }
    const { length } = read;
    const rows: PageRow[] = [];
    let offset = cursor.offset;
    for (;;) {
      for (const row of read.rows) {
        offset = Number(row.pos);
        if (row.visible) rows.push(row);
        if (rows.length === limit) break;
      }
      if (rows.length === limit || offset >= length || read.rows.length === 0) break;
      // Many positions of this window were skipped (blocked or banned since): read on.
      const more = await this.deps.repo.readPage(
        cursor.scrollId,
        viewerId,
        windowAt(offset, limit - rows.length),
      );
      if (!more) break;
      read = more;
    }
    const cards = await Promise.all(
      rows.map(async (row) => ({
        userId: row.user_id as string,
        displayName: row.display_name,
        photo: row.photo_id ? await this.photoUrl(principal, row.photo_id) : null,
        online: row.online ?? false,
        onlineSince: row.online ? row.online_since : null,
        lastSeenAt: row.last_seen_at,
        country: row.country,
        languages: row.languages ?? [],
      })),
    );
    return {
      scrollId: cursor.scrollId,
      cards,
      nextCursor: offset < length ? encodeCursor({ scrollId: cursor.scrollId, offset }) : null,
    };
  }

  /**
   * A scored order for one viewer: the role's scored window (shared by every viewer of the node for
   * WINDOW_CACHE_MS), minus the viewer and its blocks, with the seen penalty applied; ties keep the
   * order keys. The same order the single-statement version gives, computed once per second
   * instead of once per scroll.
   */
  private async scoredIds(role: GalleryViewerRole, rules: GalleryRules, viewerId: string): Promise<string[]> {
    const [window, { blocked, seen }] = await Promise.all([
      this.windowCache.getOrLoad(`${role}\n${JSON.stringify(rules)}`, () =>
        this.deps.repo.scoredWindow(rules, SCORING_WINDOW),
      ),
      this.deps.repo.viewerExclusions(viewerId),
    ]);
    return window
      .filter((c) => c.userId !== viewerId && !blocked.has(c.userId))
      .map((c) => ({ ...c, score: c.boost - (seen.has(c.userId) ? rules.seenPenalty : 0) }))
      .sort((a, b) => b.score - a.score || a.rank - b.rank)
      .slice(0, SNAPSHOT_SIZE)
      .map((c) => c.userId);
  }

  private async photoUrl(principal: Principal, photoId: string) {
    return this.photoCache.getOrLoad(
      photoId,
      async () => {
        try {
          return await this.deps.photos.thumbnailUrl(principal, photoId);
        } catch (error) {
          // A photo rejected since the page was read: the card shows without it this once.
          if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
          throw error;
        }
      },
      (value) => (value ? value.expiresAt.getTime() - 60_000 : this.deps.clock.now().getTime()),
    );
  }

  /** The ids a scroll holds, for its change subscription; NOT_FOUND when it is not the viewer's. */
  async scrollIds(viewerId: string, scrollId: string): Promise<Set<string>> {
    const id = parseOrThrow(z.uuid('must be a scrollId from galleryFeed'), scrollId, 'scrollId');
    const ids = await this.deps.repo.sessionIds(id, viewerId);
    if (!ids) throw notFound('Scroll');
    return new Set(ids);
  }

  blockedEitherWay(a: string, b: string): Promise<boolean> {
    return this.deps.repo.blockedEitherWay(a, b);
  }

  /** The rules of a role: the stored row, or the defaults when it holds something no longer valid. */
  async rules(role: GalleryViewerRole): Promise<GalleryRulesView> {
    return this.rulesCache.getOrLoad(role, async () => {
      const row = await this.deps.repo.findRules(role);
      const parsed = galleryRulesSchema.safeParse(row?.rules);
      if (!parsed.success) {
        if (row)
          this.deps.logger.error({ role }, 'gallery: stored rules are not valid; serving the defaults');
        return { role, rules: DEFAULT_RULES[role], updatedAt: null, updatedBy: null };
      }
      return {
        role,
        rules: parsed.data,
        updatedAt: row?.updatedAt ?? null,
        updatedBy: row?.updatedBy ?? null,
      };
    });
  }

  /**
   * Replaces a role's rules (admin). Invalid rules are BAD_USER_INPUT naming the field and change
   * nothing; the change and its audit entry (`gallery.rules_updated`) commit together.
   */
  async updateRules(
    actor: AuditActor & { principal: Principal },
    role: string,
    input: unknown,
    reason: string | null,
  ): Promise<GalleryRulesView> {
    const viewerRole = parseOrThrow(z.enum(GALLERY_VIEWER_ROLES), role, 'role');
    const checked = checkRules(viewerRole, input);
    if (!checked.ok) throw badInput(checked.message, { field: checked.field });
    const why = reason === null ? null : parseOrThrow(reasonSchema, reason, 'reason');
    const now = this.deps.clock.now();
    await withTransaction(this.deps.db, async (tx) => {
      const before = await this.deps.repo.lockRules(tx, viewerRole);
      await this.deps.repo.saveRules(tx, viewerRole, checked.rules, actor.principal.userId, now);
      await this.deps.audit.record(tx, actor, {
        action: 'gallery.rules_updated',
        targetType: 'gallery_rules',
        targetId: viewerRole,
        before: before ? { rules: before.rules } : null,
        after: { rules: checked.rules },
        reason: why,
      });
    });
    this.rulesCache.delete(viewerRole);
    return { role: viewerRole, rules: checked.rules, updatedAt: now, updatedBy: actor.principal.userId };
  }

  /**
   * Takes an account out of every feed, or puts it back (moderators); audited. True when it changed.
   * Hiding needs a reason; it takes effect from the next page of every scroll.
   */
  async setHidden(
    actor: AuditActor & { principal: Principal },
    userId: string,
    hidden: boolean,
    reason: string | null,
  ): Promise<boolean> {
    const id = parseOrThrow(uuid, userId, 'userId');
    const why = hidden || reason !== null ? parseOrThrow(reasonSchema, reason ?? '', 'reason') : null;
    return withTransaction(this.deps.db, async (tx) => {
      const changed = hidden
        ? await this.deps.repo.hide(tx, id, why ?? '', actor.principal.userId, this.deps.clock.now())
        : await this.deps.repo.unhide(tx, id);
      if (changed) {
        await this.deps.audit.record(tx, actor, {
          action: hidden ? 'gallery.profile_hidden' : 'gallery.profile_unhidden',
          targetType: 'user',
          targetId: id,
          before: { hidden: !hidden },
          after: { hidden },
          reason: why,
        });
      }
      return changed;
    });
  }

  /** Re-reads these accounts' cards from the published views now (consumers, tests, tools). */
  async refreshCards(userIds: readonly string[]): Promise<void> {
    await this.deps.repo.refreshCards(this.deps.db, userIds);
  }

  /**
   * The drift repair: every card re-read from the views (changes no event reports: profile edits,
   * role changes), timed bans that ended lifted, expired scrolls purged.
   */
  async rebuild(): Promise<{ upserted: number; removed: number; bansLifted: number; scrollsPurged: number }> {
    const now = this.deps.clock.now();
    const { upserted, removed } = await this.deps.repo.refreshCards(this.deps.db, null);
    const bansLifted = await this.deps.repo.liftEndedBans(this.deps.db, now);
    const scrollsPurged = await this.deps.repo.purgeSessions(this.deps.db, now);
    return { upserted, removed, bansLifted, scrollsPurged };
  }
}
