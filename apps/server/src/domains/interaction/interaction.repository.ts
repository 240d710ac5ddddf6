import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { InteractionKind } from './interaction.tables.ts';

/** One directional pair to count: userId did `kind` to otherId at `at`. */
export type PairTouch = { userId: string; otherId: string; kind: InteractionKind; at: Date };

export type Interaction = {
  userId: string;
  otherId: string;
  kind: InteractionKind;
  count: bigint;
  firstAt: Date;
  lastAt: Date;
};

/** The interaction tables: the only code with their SQL. */
export class InteractionRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Counts an event's pairs once: the event id is recorded first, and a second delivery (retry,
   * replay after a cursor reset) finds it and counts nothing. `minGapMs` (profile views) counts a
   * pair only when its last one is at least that old. Returns whether the event was new.
   */
  async apply(tx: Tx, eventId: string, touches: PairTouch[], at: Date, minGapMs = 0): Promise<boolean> {
    const fresh = await tx
      .insertInto('interaction.applied_events')
      .values({ event_id: eventId, applied_at: at })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!fresh) return false;
    for (const t of touches) {
      if (t.userId === t.otherId) continue;
      await tx
        .insertInto('interaction.counters')
        .values({
          user_id: t.userId,
          other_id: t.otherId,
          kind: t.kind,
          count: 1,
          first_at: t.at,
          last_at: t.at,
        })
        .onConflict((oc) => {
          const update = oc.columns(['user_id', 'other_id', 'kind']).doUpdateSet({
            count: sql`interaction.counters.count + 1`,
            // Events can arrive slightly out of time order: the last time only moves forward.
            last_at: sql`greatest(interaction.counters.last_at, excluded.last_at)`,
          });
          return minGapMs > 0
            ? update.where(
                sql<boolean>`interaction.counters.last_at <= excluded.last_at - ${`${minGapMs} milliseconds`}::interval`,
              )
            : update;
        })
        .execute();
    }
    return true;
  }

  async lastAt(userId: string, otherId: string, kind: InteractionKind): Promise<Date | undefined> {
    const row = await this.db
      .selectFrom('interaction.counters')
      .select('last_at')
      .where('user_id', '=', userId)
      .where('other_id', '=', otherId)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row?.last_at;
  }

  /** Which of `otherIds` the user touched with one of `kinds`. */
  async touched(
    userId: string,
    otherIds: readonly string[],
    kinds: readonly InteractionKind[],
  ): Promise<string[]> {
    if (otherIds.length === 0 || kinds.length === 0) return [];
    const rows = await this.db
      .selectFrom('interaction.counters')
      .select('other_id')
      .distinct()
      .where('user_id', '=', userId)
      .where('other_id', 'in', [...otherIds])
      .where('kind', 'in', [...kinds])
      .execute();
    return rows.map((r) => r.other_id);
  }

  /** The accounts the user touched with `kind` since `since`, most recent first. */
  async recent(userId: string, kind: InteractionKind, since: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('interaction.counters')
      .select('other_id')
      .where('user_id', '=', userId)
      .where('kind', '=', kind)
      .where('last_at', '>=', since)
      .orderBy('last_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.other_id);
  }

  /** Both directions of the user's pairs (staff), most recent first. */
  async list(filter: {
    userId: string;
    otherId: string | null;
    kind: InteractionKind | null;
    bothDirections: boolean;
    limit: number;
  }): Promise<Interaction[]> {
    let query = this.db
      .selectFrom('interaction.counters')
      .select(['user_id', 'other_id', 'kind', 'count', 'first_at', 'last_at']);
    const { userId, otherId, kind } = filter;
    query = query.where((eb) => {
      const forward = otherId
        ? eb.and([eb('user_id', '=', userId), eb('other_id', '=', otherId)])
        : eb('user_id', '=', userId);
      if (!filter.bothDirections) return forward;
      const backward = otherId
        ? eb.and([eb('user_id', '=', otherId), eb('other_id', '=', userId)])
        : eb('other_id', '=', userId);
      return eb.or([forward, backward]);
    });
    if (kind) query = query.where('kind', '=', kind);
    const rows = await query.orderBy('last_at', 'desc').limit(filter.limit).execute();
    return rows.map((r) => ({
      userId: r.user_id,
      otherId: r.other_id,
      kind: r.kind,
      count: BigInt(r.count),
      firstAt: r.first_at,
      lastAt: r.last_at,
    }));
  }

  async eraseAccount(tx: Tx, userId: string): Promise<void> {
    await tx
      .deleteFrom('interaction.counters')
      .where((eb) => eb.or([eb('user_id', '=', userId), eb('other_id', '=', userId)]))
      .execute();
  }

  /**
   * Deletes the ids applied before `before`, `chunk` rows per statement (short transactions, no long
   * lock on a table every consumer writes to); returns how many went.
   */
  async pruneApplied(before: Date, chunk = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await sql`
        delete from interaction.applied_events
        where event_id in (
          select event_id from interaction.applied_events where applied_at < ${before} limit ${chunk}
        )
      `.execute(this.db);
      const deleted = Number(result.numAffectedRows ?? 0n);
      total += deleted;
      if (deleted < chunk) return total;
    }
  }
}
