import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import { before, type PageCursor } from './blocklist.repository.ts';
import type { FlagOutcome, FlagStatus } from './blocklist.tables.ts';

export type Flag = {
  id: string;
  userId: string;
  rule: 'harassment';
  action: 'flag' | 'ban';
  outcome: FlagOutcome;
  blockCount: number;
  status: FlagStatus;
  createdAt: Date;
  resolvedBy: string | null;
  resolvedAt: Date | null;
};

export type Penalty = {
  id: string;
  blockId: string;
  userId: string;
  source: 'nudity_rule' | 'moderator';
  kind: 'warning' | 'fine';
  coins: bigint;
  ledgerTx: string | null;
  createdAt: Date;
};

type FlagRow = {
  id: string;
  user_id: string;
  rule: 'harassment';
  action: 'flag' | 'ban';
  outcome: FlagOutcome;
  block_count: number;
  status: FlagStatus;
  created_at: Date;
  resolved_by: string | null;
  resolved_at: Date | null;
};

const toFlag = (r: FlagRow): Flag => ({
  id: r.id,
  userId: r.user_id,
  rule: r.rule,
  action: r.action,
  outcome: r.outcome,
  blockCount: r.block_count,
  status: r.status,
  createdAt: r.created_at,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
});

/** The rules' tables (flags, penalties) and the counts they need: the only code with their SQL. */
export class BlocklistRulesRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Serialises the rules for one account until the transaction ends. The rules consumer already
   * runs one event at a time; the lock keeps the count exact should anything else ever run them.
   */
  async lockRules(tx: Tx, userId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`blocklist:rules:${userId}`}, 0))`.execute(tx);
  }

  /**
   * Harassment blocks against the user since `since` not yet counted in a flag (lifted ones count
   * too: unblocking does not undo the report). Their ids, and how many distinct accounts made them.
   */
  async uncountedHarassment(
    tx: Tx,
    userId: string,
    since: Date,
  ): Promise<{ ids: string[]; blockers: number }> {
    const rows = await tx
      .selectFrom('blocklist.blocks')
      .select(['id', 'blocker_id'])
      .where('blocked_id', '=', userId)
      .where('reason', '=', 'harassment')
      .where('counted_in', 'is', null)
      .where('created_at', '>', since)
      .execute();
    return { ids: rows.map((r) => r.id), blockers: new Set(rows.map((r) => r.blocker_id)).size };
  }

  /** Records the crossing and marks the blocks it counted, so they never count towards another. */
  async insertFlag(tx: Tx, flag: Flag, countedBlockIds: string[]): Promise<void> {
    await tx
      .insertInto('blocklist.flags')
      .values({
        id: flag.id,
        user_id: flag.userId,
        rule: flag.rule,
        action: flag.action,
        outcome: flag.outcome,
        block_count: flag.blockCount,
        created_at: flag.createdAt,
        resolved_by: null,
        resolved_at: null,
      })
      .execute();
    if (countedBlockIds.length > 0)
      await tx
        .updateTable('blocklist.blocks')
        .set({ counted_in: flag.id })
        .where('id', 'in', countedBlockIds)
        .execute();
  }

  async flagsFor(userId: string): Promise<Flag[]> {
    const rows = await this.db
      .selectFrom('blocklist.flags')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toFlag);
  }

  /** The flags queue, newest first. */
  async flags(status: FlagStatus | null, limit: number, after: PageCursor | undefined): Promise<Flag[]> {
    let query = this.db.selectFrom('blocklist.flags').selectAll();
    if (status) query = query.where('status', '=', status);
    if (after) query = query.where(before(after));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toFlag);
  }

  async lockFlag(tx: Tx, id: string): Promise<Flag | undefined> {
    const row = await tx
      .selectFrom('blocklist.flags')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row ? toFlag(row) : undefined;
  }

  async resolveFlag(tx: Tx, id: string, by: string | null, at: Date): Promise<void> {
    await tx
      .updateTable('blocklist.flags')
      .set({ status: 'resolved', resolved_by: by, resolved_at: at })
      .where('id', '=', id)
      .execute();
  }

  /** Resolves the user's open flags (a moderator acted on them). */
  async resolveFlags(tx: Tx, userId: string, by: string | null, at: Date): Promise<number> {
    const rows = await tx
      .updateTable('blocklist.flags')
      .set({ status: 'resolved', resolved_by: by, resolved_at: at })
      .where('user_id', '=', userId)
      .where('status', '=', 'open')
      .returning('id')
      .execute();
    return rows.length;
  }

  /** Whether this blocker already caused a nudity penalty to this account (block/unblock cycles penalise once). */
  async hasNudityPenalty(tx: Tx, blockerId: string, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('blocklist.penalties as p')
      .innerJoin('blocklist.blocks as b', 'b.id', 'p.block_id')
      .select('p.id')
      .where('p.user_id', '=', userId)
      .where('p.source', '=', 'nudity_rule')
      .where('b.blocker_id', '=', blockerId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Records a penalty once per (block, source); true when it was new. */
  async insertPenalty(tx: Tx, p: Omit<Penalty, 'createdAt'> & { at: Date }): Promise<boolean> {
    const row = await tx
      .insertInto('blocklist.penalties')
      .values({
        id: p.id,
        block_id: p.blockId,
        user_id: p.userId,
        source: p.source,
        kind: p.kind,
        coins: p.coins,
        ledger_tx: p.ledgerTx,
        created_at: p.at,
      })
      .onConflict((oc) => oc.columns(['block_id', 'source']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async penaltiesFor(userId: string): Promise<Penalty[]> {
    const rows = await this.db
      .selectFrom('blocklist.penalties')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      blockId: r.block_id,
      userId: r.user_id,
      source: r.source,
      kind: r.kind,
      coins: BigInt(r.coins),
      ledgerTx: r.ledger_tx,
      createdAt: r.created_at,
    }));
  }
}
