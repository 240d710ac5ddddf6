import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { RouletteEntryState, RouletteSide } from './roulette.tables.ts';

type Executor = Db | Tx;

export type RouletteEntry = {
  userId: string;
  side: RouletteSide;
  state: RouletteEntryState;
  joinedAt: Date;
  heartbeatAt: Date;
  wantLanguage: string | null;
  wantCountry: string | null;
  languages: string[];
  country: string | null;
  callId: string | null;
  matchedAt: Date | null;
};

export type NewRouletteEntry = Pick<
  RouletteEntry,
  'userId' | 'side' | 'wantLanguage' | 'wantCountry' | 'languages' | 'country'
> & { at: Date };

/** The moments the matcher compares against, all from the server's clock. */
export type MatchWindow = {
  /** Entries heartbeating since then are alive. */
  aliveSince: Date;
  /** Entries waiting since before then have their preferences dropped. */
  widenBefore: Date;
  /** A pair that skipped each other after then is still cooling down. */
  coolSince: Date;
  /** Pairs already turned down in this transaction (blocked, or the call could not start). */
  exclude: ReadonlyArray<{ userId: string; streamerId: string }>;
};

type EntryRow = {
  user_id: string;
  side: RouletteSide;
  state: RouletteEntryState;
  joined_at: Date;
  heartbeat_at: Date;
  want_language: string | null;
  want_country: string | null;
  languages: string[];
  country: string | null;
  call_id: string | null;
  matched_at: Date | null;
};

const toEntry = (row: EntryRow): RouletteEntry => ({
  userId: row.user_id,
  side: row.side,
  state: row.state,
  joinedAt: row.joined_at,
  heartbeatAt: row.heartbeat_at,
  wantLanguage: row.want_language,
  wantCountry: row.want_country,
  languages: row.languages,
  country: row.country,
  callId: row.call_id,
  matchedAt: row.matched_at,
});

/** The only code that touches the roulette pool (and reads the call records for skips). */
export class RouletteRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async find(userId: string, ex: Executor = this.db): Promise<RouletteEntry | undefined> {
    const row = await ex
      .selectFrom('video.roulette_pool')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toEntry(row) : undefined;
  }

  /**
   * Puts the account in the pool as waiting. An account already waiting keeps its place (its
   * joined_at); one coming back from a match starts a new wait.
   */
  async enter(entry: NewRouletteEntry, ex: Executor = this.db): Promise<RouletteEntry> {
    const row = await ex
      .insertInto('video.roulette_pool')
      .values({
        user_id: entry.userId,
        side: entry.side,
        state: 'waiting',
        joined_at: entry.at,
        heartbeat_at: entry.at,
        want_language: entry.wantLanguage,
        want_country: entry.wantCountry,
        languages: entry.languages,
        country: entry.country,
      })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          side: entry.side,
          joined_at: sql<Date>`case when video.roulette_pool.state = 'waiting' then video.roulette_pool.joined_at else excluded.joined_at end`,
          state: 'waiting',
          heartbeat_at: entry.at,
          want_language: entry.wantLanguage,
          want_country: entry.wantCountry,
          languages: entry.languages,
          country: entry.country,
          call_id: null,
          matched_at: null,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toEntry(row);
  }

  async remove(userId: string, ex: Executor = this.db): Promise<boolean> {
    const result = await ex
      .deleteFrom('video.roulette_pool')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async heartbeat(userId: string, at: Date): Promise<RouletteEntry | undefined> {
    const row = await this.db
      .updateTable('video.roulette_pool')
      .set({ heartbeat_at: at })
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    return row ? toEntry(row) : undefined;
  }

  async markMatched(tx: Tx, userIds: readonly string[], callId: string, at: Date): Promise<void> {
    await tx
      .updateTable('video.roulette_pool')
      .set({ state: 'matched', call_id: callId, matched_at: at })
      .where('user_id', 'in', userIds)
      .execute();
  }

  /**
   * Removes entries silent since `before`: waiting ones, and matched ones whose call ended before
   * then (a live roulette call keeps its entries, whose clients heartbeat the call instead).
   */
  async dropSilent(before: Date): Promise<string[]> {
    const result = await sql<{ user_id: string }>`
      delete from video.roulette_pool r
      where r.heartbeat_at < ${before}
        and (
          r.state = 'waiting'
          or not exists (
            select 1 from video.calls k
            where k.id = r.call_id and (k.state <> 'ended' or k.ended_at >= ${before})
          )
        )
      returning r.user_id
    `.execute(this.db);
    return result.rows.map((r) => r.user_id);
  }

  /**
   * The next pair to match, both rows locked (skip locked: another process's candidates are left to
   * it): the longest-waiting live user who has a compatible streamer, with the longest-waiting such
   * streamer. Compatible: alive, waiting, available in presence, in no live call, preferences met on
   * both sides (or widened), not cooling down after a skip, neither blocked the other (the blocklist
   * domain's published view `blocklist.active_blocks`), not excluded. Filtering blocks here means a
   * blocked pair is never locked or tried; the caller's per-pair check is only a safety net.
   */
  async lockNextPair(
    tx: Tx,
    window: MatchWindow,
  ): Promise<{ userId: string; streamerId: string } | undefined> {
    const excludedUsers = window.exclude.map((p) => p.userId);
    const excludedStreamers = window.exclude.map((p) => p.streamerId);
    const result = await sql<{ user_id: string; streamer_id: string }>`
      select u.user_id, s.user_id as streamer_id
      from video.roulette_pool u
      cross join lateral (
        select c.user_id
        from video.roulette_pool c
        join presence.user_presence p on p.user_id = c.user_id
        where c.side = 'streamer' and c.state = 'waiting' and c.heartbeat_at >= ${window.aliveSince}
          and p.availability = 'available'
          and not exists (select 1 from video.live_parties lp where lp.user_id = c.user_id)
          and (u.want_language is null or u.joined_at <= ${window.widenBefore} or u.want_language = any(c.languages))
          and (u.want_country is null or u.joined_at <= ${window.widenBefore} or u.want_country = c.country)
          and (c.want_language is null or c.joined_at <= ${window.widenBefore} or c.want_language = any(u.languages))
          and (c.want_country is null or c.joined_at <= ${window.widenBefore} or c.want_country = u.country)
          and not exists (
            select 1 from video.calls k
            where k.caller_id = u.user_id and k.callee_id = c.user_id
              and k.kind = 'roulette' and k.end_reason = 'hangup' and k.ended_at > ${window.coolSince}
          )
          and not exists (
            select 1 from blocklist.active_blocks b
            where (b.blocker_id, b.blocked_id) in ((u.user_id, c.user_id), (c.user_id, u.user_id))
          )
          and not exists (
            select 1 from unnest(${excludedUsers}::uuid[], ${excludedStreamers}::uuid[]) as x(u, s)
            where x.u = u.user_id and x.s = c.user_id
          )
        order by c.joined_at, c.user_id
        limit 1
        for update of c skip locked
      ) s
      where u.side = 'user' and u.state = 'waiting' and u.heartbeat_at >= ${window.aliveSince}
        and not exists (select 1 from video.live_parties lp where lp.user_id = u.user_id)
        -- Uncorrelated, so evaluated once: with no streamer to offer, the users are not walked at all.
        and exists (
          select 1 from video.roulette_pool c
          join presence.user_presence p on p.user_id = c.user_id
          where c.side = 'streamer' and c.state = 'waiting' and c.heartbeat_at >= ${window.aliveSince}
            and p.availability = 'available'
            and not exists (select 1 from video.live_parties lp where lp.user_id = c.user_id)
        )
      order by u.joined_at, u.user_id
      limit 1
      for update of u skip locked
    `.execute(tx);
    const row = result.rows[0];
    return row ? { userId: row.user_id, streamerId: row.streamer_id } : undefined;
  }

  /** How many entries wait on each side (for status and the benchmark). */
  async waitingCounts(): Promise<Record<RouletteSide, number>> {
    const rows = await this.db
      .selectFrom('video.roulette_pool')
      .select(['side', (eb) => eb.fn.countAll<string>().as('count')])
      .where('state', '=', 'waiting')
      .groupBy('side')
      .execute();
    const counts: Record<RouletteSide, number> = { user: 0, streamer: 0 };
    for (const row of rows) counts[row.side] = Number(row.count);
    return counts;
  }
}
