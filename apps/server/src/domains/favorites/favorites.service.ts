import { z } from 'zod';
import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { BlockCheck } from '../video/call-party.ts';
import { favoriteAdded, favoriteRemoved } from './favorites.events.ts';
import type { Favorite, FavoriteCursor, FavoritesRepository, FollowerCount } from './favorites.repository.ts';

const uuid = z.uuid('must be an account id');
const firstSchema = z.number().int().min(1, 'first must be at least 1').max(100, 'first is at most 100');

export type FavoritePage = { items: Favorite[]; nextCursor: string | null };

/** What the rule needs of an account (the user domain answers it). */
export type FavoriteTarget = { id: string; roles: Role[]; status: string; deletedAt: Date | null };

const encodeCursor = (createdAt: Date, id: string) =>
  Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');

function decodeCursor(cursor: string): FavoriteCursor {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !uuid.safeParse(id).success || Number.isNaN(createdAt.getTime()))
    throw badInput('after must be a cursor from a previous page');
  return { createdAt, id };
}

/**
 * Favourites: a user follows streamers. The rule: only an account with the streamer role, not deleted
 * and not banned, can be favourited; not oneself, and not across a block (either way). Add and remove
 * are idempotent: repeating one changes nothing, emits nothing and succeeds. Removing is always
 * allowed (even once the streamer is banned or the pair blocked), so a user can always clean up.
 */
export class FavoritesService {
  private readonly deps: {
    db: Db;
    repo: FavoritesRepository;
    users: { findTarget(id: string): Promise<FavoriteTarget | undefined> };
    blocks: BlockCheck;
    eventLog: EventLog;
    clock: Clock;
  };

  constructor(deps: FavoritesService['deps']) {
    this.deps = deps;
  }

  /** Adds the streamer to the user's favourites; true when it was not one already. */
  async add(userId: string, favoriteId: string): Promise<boolean> {
    const id = parseOrThrow(uuid, favoriteId, 'userId');
    if (id === userId)
      throw new AppError('BAD_USER_INPUT', 'You cannot favourite yourself', { reason: 'SELF' });
    const target = await this.deps.users.findTarget(id);
    if (!target || target.deletedAt) throw notFound('User');
    if (!target.roles.includes('streamer'))
      throw new AppError('FORBIDDEN', 'Only streamers can be favourited', { reason: 'NOT_A_STREAMER' });
    if (target.status !== 'active')
      throw new AppError('FORBIDDEN', 'This streamer cannot be favourited now', { reason: 'UNAVAILABLE' });
    if (await this.deps.blocks(userId, id))
      throw new AppError('FORBIDDEN', 'This streamer cannot be favourited', { reason: 'BLOCKED' });
    return withTransaction(this.deps.db, async (tx) => {
      const added = await this.deps.repo.add(tx, userId, id, this.deps.clock.now());
      if (added)
        await this.deps.eventLog.emit(tx, favoriteAdded.event({ userId, favoriteId: id }, { userId }));
      return added;
    });
  }

  /** Removes it; true when it was a favourite. */
  async remove(userId: string, favoriteId: string): Promise<boolean> {
    const id = parseOrThrow(uuid, favoriteId, 'userId');
    return withTransaction(this.deps.db, async (tx) => {
      const removed = await this.deps.repo.remove(tx, userId, id);
      if (removed)
        await this.deps.eventLog.emit(tx, favoriteRemoved.event({ userId, favoriteId: id }, { userId }));
      return removed;
    });
  }

  async isFavorite(userId: string, favoriteId: string): Promise<boolean> {
    return this.deps.repo.isFavorite(userId, favoriteId);
  }

  async mine(userId: string, first: number, after?: string | null): Promise<FavoritePage> {
    const limit = parseOrThrow(firstSchema, first, 'first');
    const rows = await this.deps.repo.listMine(userId, limit + 1, after ? decodeCursor(after) : undefined);
    return page(rows, limit, (f) => f.favoriteId);
  }

  async followers(favoriteId: string, first: number, after?: string | null): Promise<FavoritePage> {
    const limit = parseOrThrow(firstSchema, first, 'first');
    const rows = await this.deps.repo.listFollowers(
      favoriteId,
      limit + 1,
      after ? decodeCursor(after) : undefined,
    );
    return page(rows, limit, (f) => f.userId);
  }

  async followerCount(favoriteId: string): Promise<bigint> {
    return this.deps.repo.followerCount(parseOrThrow(uuid, favoriteId, 'userId'));
  }

  /** Staff: the most-followed streamers, or one streamer's count. */
  async adminCounts(first: number, favoriteId: string | null): Promise<FollowerCount[]> {
    const limit = parseOrThrow(firstSchema, first, 'first');
    const id = favoriteId === null ? null : parseOrThrow(uuid, favoriteId, 'userId');
    return this.deps.repo.topCounts(limit, id);
  }

  /** The favorites part of the account's data export: whom it follows (followers are others' data). */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const all: Favorite[] = [];
    let after: FavoriteCursor | undefined;
    for (;;) {
      // Everything stored, also favourites hidden by a block: the export is the account's own data.
      const rows = await this.deps.repo.listMine(userId, 1000, after, { includeBlocked: true });
      all.push(...rows);
      const last = rows.at(-1);
      if (rows.length < 1000 || !last) break;
      after = { createdAt: last.createdAt, id: last.favoriteId };
    }
    const followers = await this.deps.repo.followerCount(userId);
    return {
      favorites: all.map((f) => ({ userId: f.favoriteId, since: f.createdAt.toISOString() })),
      followerCount: followers.toString(),
    };
  }
}

function page(rows: Favorite[], limit: number, idOf: (f: Favorite) => string): FavoritePage {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, idOf(last)) : null };
}
