import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { conflict, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { decodeCursor, type Page, pageLimit, toPage } from './blocklist.cursor.ts';
import { userWarned } from './blocklist.events.ts';
import type { Block, BlocklistRepository, BlockStats } from './blocklist.repository.ts';
import { accountId, BLOCK_REASONS, REPORT_STATUSES } from './blocklist.service.ts';
import type { ReportStatus } from './blocklist.tables.ts';
import type { BlocklistRulesRepository, Flag, Penalty } from './blocklist-rules.repository.ts';

export const REPORT_ACTIONS = ['dismiss', 'warn', 'ban'] as const;
export type ReportAction = (typeof REPORT_ACTIONS)[number];

/** A moderator's ban through the ModerationService (audited there). */
export type StaffBan = (actor: AuditActor, userId: string, reason: string) => Promise<void>;

const noteSchema = z
  .string('note must be a string')
  .trim()
  .max(1000, 'note is at most 1000 characters')
  .nullable()
  .transform((n) => (n === '' ? null : n));

const STATUS_OF: Record<ReportAction, ReportStatus> = { dismiss: 'dismissed', warn: 'warned', ban: 'banned' };

/**
 * What moderators see and do: every block is a report about the blocked account (a queue by
 * status, reason and account), the rules' flags, per-account stats; and acting on a report
 * (dismiss, warn, ban), audited in the same transaction.
 */
export class BlocklistModerationService {
  private readonly deps: {
    db: Db;
    repo: BlocklistRepository;
    rules: BlocklistRulesRepository;
    staffBan: StaffBan;
    audit: AuditLog;
    eventLog: EventSink;
    clock: Clock;
  };

  constructor(deps: BlocklistModerationService['deps']) {
    this.deps = deps;
  }

  /** Blocks as reports, newest first, filtered by status, reason, blocked account. */
  async reports(
    filter: { reason?: string | null; status?: string | null; userId?: string | null },
    first: number,
    after?: string | null,
  ): Promise<Page<Block>> {
    const limit = pageLimit(first);
    const reason = filter.reason ? parseOrThrow(z.enum(BLOCK_REASONS), filter.reason, 'reason') : null;
    const status = filter.status ? parseOrThrow(z.enum(REPORT_STATUSES), filter.status, 'status') : null;
    const userId = filter.userId ? parseOrThrow(accountId, filter.userId, 'userId') : null;
    const rows = await this.deps.repo.reports({ reason, status, userId }, limit + 1, decodeCursor(after));
    return toPage(rows, limit);
  }

  /** The harassment rule's flags, newest first (open ones by default in the API). */
  async flags(status: 'open' | 'resolved' | null, first: number, after?: string | null): Promise<Page<Flag>> {
    const limit = pageLimit(first);
    return toPage(await this.deps.rules.flags(status, limit + 1, decodeCursor(after)), limit);
  }

  async stats(userId: string): Promise<BlockStats> {
    return this.deps.repo.stats(parseOrThrow(accountId, userId, 'userId'));
  }

  async flagsFor(userId: string): Promise<Flag[]> {
    return this.deps.rules.flagsFor(parseOrThrow(accountId, userId, 'userId'));
  }

  async penaltiesFor(userId: string): Promise<Penalty[]> {
    return this.deps.rules.penaltiesFor(parseOrThrow(accountId, userId, 'userId'));
  }

  /** Resolves an open flag without acting on a report (a false alarm, or handled elsewhere); audited. */
  async resolveFlag(actor: AuditActor, flagId: string, note: string | null): Promise<Flag> {
    const id = parseOrThrow(z.uuid('must be a flag id'), flagId, 'id');
    const cleanNote = parseOrThrow(noteSchema, note, 'note');
    const by = actor.principal?.userId ?? null;
    return withTransaction(this.deps.db, async (tx) => {
      const flag = await this.deps.rules.lockFlag(tx, id);
      if (!flag) throw notFound('Flag');
      if (flag.status !== 'open') throw conflict('The flag was already resolved');
      const now = this.deps.clock.now();
      await this.deps.rules.resolveFlag(tx, id, by, now);
      await this.deps.audit.record(tx, actor, {
        action: 'blocklist.flag_resolved',
        targetType: 'blocklist_flag',
        targetId: id,
        before: { status: flag.status },
        after: { status: 'resolved', userId: flag.userId, outcome: flag.outcome },
        reason: cleanNote,
      });
      return { ...flag, status: 'resolved' as const, resolvedBy: by, resolvedAt: now };
    });
  }

  /**
   * Acts on an open report: dismiss; warn (a stored warning and `user_warned`); or ban the blocked
   * account through the ModerationService. Warn and ban also resolve the account's open flags.
   * A report that is no longer open is CONFLICT: two moderators cannot both act.
   */
  async actOnReport(
    actor: AuditActor,
    reportId: string,
    action: string,
    note: string | null,
  ): Promise<Block> {
    const id = parseOrThrow(z.uuid('must be a report id'), reportId, 'id');
    const act = parseOrThrow(z.enum(REPORT_ACTIONS, 'action must be dismiss, warn or ban'), action, 'action');
    const cleanNote = parseOrThrow(noteSchema, note, 'note');
    const status = STATUS_OF[act];
    const by = actor.principal?.userId ?? null;
    if (act === 'ban') {
      // Ban first: the ModerationService may refuse (an admin, a deleted account), and then the
      // report must stay open rather than say "banned". A concurrent action on the same report is
      // refused below; the ban it already made stays (and is audited) like any moderator's ban.
      const report = await this.deps.repo.findBlock(id);
      if (!report) throw notFound('Report');
      if (report.reportStatus !== 'open') throw conflict(`The report was already ${report.reportStatus}`);
      await this.deps.staffBan(actor, report.blockedId, cleanNote ?? `Block report ${id} (${report.reason})`);
    }
    return withTransaction(this.deps.db, async (tx) => {
      const report = await this.deps.repo.lockReport(tx, id);
      if (!report) throw notFound('Report');
      if (report.reportStatus !== 'open') throw conflict(`The report was already ${report.reportStatus}`);
      const now = this.deps.clock.now();
      await this.deps.repo.setReportStatus(tx, id, { status, by, at: now, note: cleanNote });
      if (act !== 'dismiss') await this.deps.rules.resolveFlags(tx, report.blockedId, by, now);
      if (act === 'warn') {
        await this.deps.rules.insertPenalty(tx, {
          id: randomUUID(),
          blockId: id,
          userId: report.blockedId,
          source: 'moderator',
          kind: 'warning',
          coins: 0n,
          ledgerTx: null,
          at: now,
        });
        await this.deps.eventLog.emit(
          tx,
          userWarned.event(
            { userId: report.blockedId, blockId: id, reason: report.reason, source: 'moderator' },
            { userId: report.blockedId },
          ),
        );
      }
      await this.deps.audit.record(tx, actor, {
        action: `blocklist.report_${status}`,
        targetType: 'block',
        targetId: id,
        before: { status: report.reportStatus },
        after: { status, blockedId: report.blockedId, reason: report.reason },
        reason: cleanNote,
      });
      return { ...report, reportStatus: status, reviewedBy: by, reviewedAt: now, reviewNote: cleanNote };
    });
  }
}
