import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { Availability } from '../user/presence/presence.tables.ts';

/**
 * A current block between the accounts in two columns, either way (the blocklist's published view):
 * a favourite made before a block stays stored but is hidden from both until it is lifted.
 */
const blockBetween = (left: string, right: string) => {
  const [l, r] = [sql.ref(left), sql.ref(right)];
  return sql<number>`(select 1 from blocklist.active_blocks ab
    where (ab.blocker_id = ${l} and ab.blocked_id = ${r}) or (ab.blocker_id = ${r} and ab.blocked_id = ${l}))`;
};

export type Favorite = {
  userId: string;
  favoriteId: string;
  createdAt: Date;
  /** From the presence domain's published view; null when it has no row for the account. */
  online: boolean;
  availability: Availability | null;
};

/** Where a page ended: newest first, ties broken by the other account's id. */
export type FavoriteCursor = { createdAt: Date; id: string };

export type FollowerCount = { favoriteId: string; followers: bigint };

/** The favorites tables: the only code with their SQL. */
export class FavoritesRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Inserts the row unless it exists; true when it was new (then the count moves in the same tx). */
  async add(tx: Tx, userId: string, favoriteId: string, at: Date): Promise<boolean> {
    const inserted = await tx
      .insertInto('favorites.favorites')
      .values({ user_id: userId, favorite_id: favoriteId, created_at: at })
      .onConflict((oc) => oc.columns(['user_id', 'favorite_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    if (!inserted) return false;
    await tx
      .insertInto('favorites.follower_counts')
      .values({ favorite_id: favoriteId, followers: 1 })
      .onConflict((oc) =>
        oc.column('favorite_id').doUpdateSet({ followers: sql`favorites.follower_counts.followers + 1` }),
      )
      .execute();
    return true;
  }

  async remove(tx: Tx, userId: string, favoriteId: string): Promise<boolean> {
    const deleted = await tx
      .deleteFrom('favorites.favorites')
      .where('user_id', '=', userId)
      .where('favorite_id', '=', favoriteId)
      .returning('user_id')
      .executeTakeFirst();
    if (!deleted) return false;
    await this.decrement(tx, [favoriteId]);
    return true;
  }

  private async decrement(tx: Tx, favoriteIds: string[]): Promise<void> {
    if (favoriteIds.length === 0) return;
    await tx
      .updateTable('favorites.follower_counts')
      .set({ followers: sql`greatest(followers - 1, 0)` })
      .where('favorite_id', 'in', favoriteIds)
      .execute();
  }

  async isFavorite(userId: string, favoriteId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('favorites.favorites')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('favorite_id', '=', favoriteId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The account's favourites, newest first, with their presence; across a current block only with `includeBlocked` (its export). */
  listMine(
    userId: string,
    limit: number,
    after: FavoriteCursor | undefined,
    options: { includeBlocked?: boolean } = {},
  ): Promise<Favorite[]> {
    return this.listSide('f.user_id', 'f.favorite_id', userId, limit, after, options.includeBlocked ?? false);
  }

  /** A streamer's followers, newest first, leaving out pairs blocked either way. */
  listFollowers(favoriteId: string, limit: number, after: FavoriteCursor | undefined): Promise<Favorite[]> {
    return this.listSide('f.favorite_id', 'f.user_id', favoriteId, limit, after, false);
  }

  /**
   * One page of one side of the relation: rows whose `own` column is `id`, newest first, ties broken
   * by the `other` column (the cursor's id), with the other account's presence (one join on the
   * published view: cheap).
   */
  private async listSide(
    own: 'f.user_id' | 'f.favorite_id',
    other: 'f.user_id' | 'f.favorite_id',
    id: string,
    limit: number,
    after: FavoriteCursor | undefined,
    includeBlocked: boolean,
  ): Promise<Favorite[]> {
    let query = this.db
      .selectFrom('favorites.favorites as f')
      .leftJoin('presence.user_presence as p', 'p.user_id', other)
      .select(['f.user_id', 'f.favorite_id', 'f.created_at', 'p.online', 'p.availability'])
      .where(own, '=', id);
    if (!includeBlocked) {
      query = query.where(({ not, exists }) => not(exists(blockBetween('f.user_id', 'f.favorite_id'))));
    }
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('f.created_at', '<', after.createdAt),
          eb.and([eb('f.created_at', '=', after.createdAt), eb(other, '<', after.id)]),
        ]),
      );
    }
    const rows = await query.orderBy('f.created_at', 'desc').orderBy(other, 'desc').limit(limit).execute();
    return rows.map((r) => ({
      userId: r.user_id,
      favoriteId: r.favorite_id,
      createdAt: r.created_at,
      online: r.online ?? false,
      availability: r.availability ?? null,
    }));
  }

  /**
   * One batch of a streamer's followers for the came-online fan-out, by follower id (a stable keyset
   * that needs no sort by time), without the pairs blocked either way (blocklist's published view).
   */
  async followersToNotify(
    tx: Tx,
    favoriteId: string,
    afterUserId: string | null,
    limit: number,
  ): Promise<string[]> {
    // Two anti-joins rather than one with an OR, and no "after is null or" in the keyset: both let the
    // planner walk favorites_followers_by_id from the cursor and probe the blocks by index.
    const keyset = afterUserId === null ? sql`` : sql`and f.user_id > ${afterUserId}::uuid`;
    const result = await sql<{ user_id: string }>`
      select f.user_id
      from favorites.favorites f
      where f.favorite_id = ${favoriteId}
        ${keyset}
        and not exists (
          select 1 from blocklist.active_blocks b
          where b.blocker_id = f.user_id and b.blocked_id = ${favoriteId}
        )
        and not exists (
          select 1 from blocklist.active_blocks b
          where b.blocker_id = ${favoriteId} and b.blocked_id = f.user_id
        )
      order by f.user_id
      limit ${limit}
    `.execute(tx);
    return result.rows.map((r) => r.user_id);
  }

  async followerCount(favoriteId: string): Promise<bigint> {
    const row = await this.db
      .selectFrom('favorites.follower_counts')
      .select('followers')
      .where('favorite_id', '=', favoriteId)
      .executeTakeFirst();
    return row ? BigInt(row.followers) : 0n;
  }

  /** Most-followed first (admin). */
  async topCounts(limit: number, favoriteId: string | null): Promise<FollowerCount[]> {
    let query = this.db.selectFrom('favorites.follower_counts').select(['favorite_id', 'followers']);
    if (favoriteId) query = query.where('favorite_id', '=', favoriteId);
    const rows = await query.orderBy('followers', 'desc').orderBy('favorite_id').limit(limit).execute();
    return rows.map((r) => ({ favoriteId: r.favorite_id, followers: BigInt(r.followers) }));
  }

  /** A deleted account: its favourites (moving the counts down) and its followers go. */
  async eraseAccount(tx: Tx, userId: string): Promise<void> {
    const mine = await tx
      .deleteFrom('favorites.favorites')
      .where('user_id', '=', userId)
      .returning('favorite_id')
      .execute();
    await this.decrement(
      tx,
      mine.map((r) => r.favorite_id),
    );
    await tx.deleteFrom('favorites.favorites').where('favorite_id', '=', userId).execute();
    await tx.deleteFrom('favorites.follower_counts').where('favorite_id', '=', userId).execute();
  }
}
