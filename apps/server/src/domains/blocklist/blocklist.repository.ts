import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { BlockReason, ReportStatus } from './blocklist.tables.ts';

export type Block = {
  id: string;
  blockerId: string;
  blockedId: string;
  reason: BlockReason;
  text: string | null;
  createdAt: Date;
  unblockedAt: Date | null;
  reportStatus: ReportStatus;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewNote: string | null;
};

/** Where a page ended: newest first, ties broken by id. */
export type PageCursor = { createdAt: Date; id: string };

export type ReportFilter = {
  reason: BlockReason | null;
  status: ReportStatus | null;
  /** The blocked account (whom the report is about). */
  userId: string | null;
};

export type BlockStats = {
  userId: string;
  /** Blocks against the account, ever, by reason. */
  receivedByReason: Record<BlockReason, number>;
  receivedTotal: number;
  /** Current blocks against / by the account. */
  activeReceived: number;
  activeGiven: number;
  openReports: number;
  flags: number;
  warnings: number;
  fines: number;
  fineCoins: bigint;
};

type BlockRow = {
  id: string;
  blocker_id: string;
  blocked_id: string;
  reason: BlockReason;
  reason_text: string | null;
  created_at: Date;
  unblocked_at: Date | null;
  report_status: ReportStatus;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_note: string | null;
};

const toBlock = (r: BlockRow): Block => ({
  id: r.id,
  blockerId: r.blocker_id,
  blockedId: r.blocked_id,
  reason: r.reason,
  text: r.reason_text,
  createdAt: r.created_at,
  unblockedAt: r.unblocked_at,
  reportStatus: r.report_status,
  reviewedBy: r.reviewed_by,
  reviewedAt: r.reviewed_at,
  reviewNote: r.review_note,
});

const REASONS: BlockReason[] = ['nudity', 'harassment', 'spam', 'fake_profile', 'underage', 'other'];

/** Keyset condition for "newest first, after this cursor" (a row comparison, as the sort). */
export const before = (after: PageCursor) =>
  sql<boolean>`(created_at, id) < (${after.createdAt}, ${after.id}::uuid)`;

/** The blocklist tables: the only code with their SQL. */
export class BlocklistRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Inserts the block unless one is current in that direction; the new row, or undefined. */
  async insertBlock(
    tx: Tx,
    row: {
      id: string;
      blockerId: string;
      blockedId: string;
      reason: BlockReason;
      text: string | null;
      at: Date;
    },
  ): Promise<Block | undefined> {
    const result = await sql<BlockRow>`
      insert into blocklist.blocks (id, blocker_id, blocked_id, reason, reason_text, created_at)
      values (${row.id}, ${row.blockerId}, ${row.blockedId}, ${row.reason}, ${row.text}, ${row.at})
      on conflict (blocker_id, blocked_id) where unblocked_at is null do nothing
      returning *
    `.execute(tx);
    const inserted = result.rows[0];
    return inserted ? toBlock(inserted) : undefined;
  }

  async currentBlock(executor: Db | Tx, blockerId: string, blockedId: string): Promise<Block | undefined> {
    const row = await executor
      .selectFrom('blocklist.blocks')
      .selectAll()
      .where('blocker_id', '=', blockerId)
      .where('blocked_id', '=', blockedId)
      .where('unblocked_at', 'is', null)
      .executeTakeFirst();
    return row ? toBlock(row) : undefined;
  }

  /** Ends the current block; true when there was one. */
  async unblock(tx: Tx, blockerId: string, blockedId: string, at: Date): Promise<boolean> {
    const row = await tx
      .updateTable('blocklist.blocks')
      .set({ unblocked_at: at })
      .where('blocker_id', '=', blockerId)
      .where('blocked_id', '=', blockedId)
      .where('unblocked_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async isBlockedEitherWay(a: string, b: string): Promise<boolean> {
    const result = await sql<{ blocked: boolean }>`
      select exists (
        select 1 from blocklist.active_blocks
        where (blocker_id = ${a} and blocked_id = ${b}) or (blocker_id = ${b} and blocked_id = ${a})
      ) as blocked
    `.execute(this.db);
    return result.rows[0]?.blocked === true;
  }

  /** Every account the user blocked or was blocked by (each once). */
  async blockedEitherWay(userId: string): Promise<string[]> {
    const result = await sql<{ id: string }>`
      select blocked_id as id from blocklist.active_blocks where blocker_id = ${userId}
      union
      select blocker_id as id from blocklist.active_blocks where blocked_id = ${userId}
    `.execute(this.db);
    return result.rows.map((r) => r.id);
  }

  async listMine(blockerId: string, limit: number, after: PageCursor | undefined): Promise<Block[]> {
    let query = this.db
      .selectFrom('blocklist.blocks')
      .selectAll()
      .where('blocker_id', '=', blockerId)
      .where('unblocked_at', 'is', null);
    if (after) query = query.where(before(after));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toBlock);
  }

  /** Every block the user made, current or lifted (the data export). */
  async allBy(blockerId: string): Promise<Block[]> {
    const rows = await this.db
      .selectFrom('blocklist.blocks')
      .selectAll()
      .where('blocker_id', '=', blockerId)
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map(toBlock);
  }

  async countReceived(userId: string): Promise<number> {
    const row = await this.db
      .selectFrom('blocklist.blocks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('blocked_id', '=', userId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async reports(filter: ReportFilter, limit: number, after: PageCursor | undefined): Promise<Block[]> {
    let query = this.db.selectFrom('blocklist.blocks').selectAll();
    if (filter.reason) query = query.where('reason', '=', filter.reason);
    if (filter.status) query = query.where('report_status', '=', filter.status);
    if (filter.userId) query = query.where('blocked_id', '=', filter.userId);
    if (after) query = query.where(before(after));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toBlock);
  }

  async findBlock(id: string): Promise<Block | undefined> {
    const row = await this.db
      .selectFrom('blocklist.blocks')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toBlock(row) : undefined;
  }

  async lockReport(tx: Tx, id: string): Promise<Block | undefined> {
    const row = await tx
      .selectFrom('blocklist.blocks')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row ? toBlock(row) : undefined;
  }

  async setReportStatus(
    tx: Tx,
    id: string,
    review: { status: ReportStatus; by: string | null; at: Date; note: string | null },
  ): Promise<void> {
    await tx
      .updateTable('blocklist.blocks')
      .set({
        report_status: review.status,
        reviewed_by: review.by,
        reviewed_at: review.at,
        review_note: review.note,
      })
      .where('id', '=', id)
      .execute();
  }

  async stats(userId: string): Promise<BlockStats> {
    const byReason = await this.db
      .selectFrom('blocklist.blocks')
      .select(['reason', (eb) => eb.fn.countAll<string>().as('n')])
      .where('blocked_id', '=', userId)
      .groupBy('reason')
      .execute();
    const counts = await sql<{
      active_received: string;
      active_given: string;
      open_reports: string;
      flags: string;
      warnings: string;
      fines: string;
      fine_coins: string;
    }>`
      select
        (select count(*) from blocklist.active_blocks where blocked_id = ${userId}) as active_received,
        (select count(*) from blocklist.active_blocks where blocker_id = ${userId}) as active_given,
        (select count(*) from blocklist.blocks where blocked_id = ${userId} and report_status = 'open') as open_reports,
        (select count(*) from blocklist.flags where user_id = ${userId}) as flags,
        (select count(*) from blocklist.penalties where user_id = ${userId} and kind = 'warning') as warnings,
        (select count(*) from blocklist.penalties where user_id = ${userId} and kind = 'fine') as fines,
        (select coalesce(sum(coins), 0) from blocklist.penalties where user_id = ${userId} and kind = 'fine') as fine_coins
    `.execute(this.db);
    const c = counts.rows[0];
    const receivedByReason = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<BlockReason, number>;
    for (const row of byReason) receivedByReason[row.reason] = Number(row.n);
    return {
      userId,
      receivedByReason,
      receivedTotal: Object.values(receivedByReason).reduce((a, b) => a + b, 0),
      activeReceived: Number(c?.active_received ?? 0),
      activeGiven: Number(c?.active_given ?? 0),
      openReports: Number(c?.open_reports ?? 0),
      flags: Number(c?.flags ?? 0),
      warnings: Number(c?.warnings ?? 0),
      fines: Number(c?.fines ?? 0),
      fineCoins: BigInt(c?.fine_coins ?? '0'),
    };
  }

  /**
   * Erases a deleted account from the blocklist. The blocks it received, its flags and penalties go
   * (the reports were about it), leaving only anonymised per-reason counts. The blocks it made stay
   * as reports about the other account (they feed its stats and moderation) but lose their free
   * text, the one part the deleted person wrote, and are lifted: a gone account blocks no one.
   * Running it twice changes nothing more.
   */
  async eraseAccount(tx: Tx, userId: string, at: Date): Promise<{ removed: number; anonymised: number }> {
    await sql`
      insert into blocklist.deleted_counts (reason, blocks)
      select reason, count(*) from blocklist.blocks where blocked_id = ${userId} group by reason
      on conflict (reason) do update set blocks = blocklist.deleted_counts.blocks + excluded.blocks
    `.execute(tx);
    await tx.deleteFrom('blocklist.penalties').where('user_id', '=', userId).execute();
    const removed = await tx
      .deleteFrom('blocklist.blocks')
      .where('blocked_id', '=', userId)
      .returning('id')
      .execute();
    await tx.deleteFrom('blocklist.flags').where('user_id', '=', userId).execute();
    const anonymised = await tx
      .updateTable('blocklist.blocks')
      .set((eb) => ({ reason_text: null, unblocked_at: eb.fn.coalesce('unblocked_at', sql<Date>`${at}`) }))
      .where('blocker_id', '=', userId)
      .where((eb) => eb.or([eb('reason_text', 'is not', null), eb('unblocked_at', 'is', null)]))
      .returning('id')
      .execute();
    return { removed: removed.length, anonymised: anonymised.length };
  }

  async deletedCounts(): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('blocklist.deleted_counts').selectAll().execute();
    return Object.fromEntries(rows.map((r) => [r.reason, Number(r.blocks)]));
  }
}
