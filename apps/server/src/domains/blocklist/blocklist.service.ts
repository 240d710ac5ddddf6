import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, conflict, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import { decodeCursor, type Page, pageLimit, toPage } from './blocklist.cursor.ts';
import { userBlocked, userUnblocked } from './blocklist.events.ts';
import type { Block, BlocklistRepository } from './blocklist.repository.ts';
import type { BlockReason } from './blocklist.tables.ts';

export const BLOCK_REASONS = ['nudity', 'harassment', 'spam', 'fake_profile', 'underage', 'other'] as const;
export const REPORT_STATUSES = ['open', 'dismissed', 'warned', 'banned'] as const;

export const accountId = z.uuid('must be an account id');
const blockInput = z
  .object({
    reason: z.enum(
      BLOCK_REASONS,
      'reason must be one of nudity, harassment, spam, fake_profile, underage, other',
    ),
    text: z
      .string('text must be a string')
      .trim()
      .max(1000, 'text is at most 1000 characters')
      .nullable()
      .transform((t) => (t === '' ? null : t)),
  })
  .refine((v) => v.reason !== 'other' || v.text !== null, {
    message: 'text is required when reason is other',
    path: ['text'],
  });

export type BlockPage = Page<Block>;

/** What the blocklist needs of an account (the user domain answers it). */
export type BlockTarget = {
  id: string;
  roles: readonly Role[];
  deletedAt: Date | null;
  ban: { until: Date | null } | null;
};
export type BlockTargets = { findTarget(id: string): Promise<BlockTarget | undefined> };

/** What one block call did. */
export type BlockResult = {
  block: Block;
  /** False when the pair was already blocked in that direction: nothing changed, nothing emitted. */
  created: boolean;
};

/**
 * Blocks between accounts. A block is one-directional but its effects are both ways (calls,
 * gallery, roulette, chat): other domains ask `isBlockedEitherWay` / `blockedEitherWay`, read the
 * `blocklist.active_blocks` view, or consume `user_blocked`. Every block carries a reason, kept
 * after unblocking, that feeds the rules (`BlocklistRules`, run by a consumer of `user_blocked`)
 * and the moderators' reports queue (`BlocklistModerationService`).
 */
export class BlocklistService {
  private readonly deps: {
    db: Db;
    repo: BlocklistRepository;
    users: BlockTargets;
    eventLog: EventSink;
    clock: Clock;
  };

  constructor(deps: BlocklistService['deps']) {
    this.deps = deps;
  }

  async isBlockedEitherWay(a: string, b: string): Promise<boolean> {
    if (a === b) return false;
    return this.deps.repo.isBlockedEitherWay(a, b);
  }

  async blockedEitherWay(userId: string): Promise<string[]> {
    return this.deps.repo.blockedEitherWay(userId);
  }

  /**
   * Blocks `userId` for `reason` (`text` required for other). Idempotent: blocking again returns the
   * current block, keeps its reason and emits nothing. The block and `user_blocked` commit together;
   * the effects elsewhere (the call ends, the rules) follow from the event.
   */
  async block(blockerId: string, userId: string, reason: string, text: string | null): Promise<BlockResult> {
    const blockedId = parseOrThrow(accountId, userId, 'userId');
    const parsed = blockInput.safeParse({ reason, text });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppError('BAD_USER_INPUT', issue?.message ?? 'reason is not valid', {
        field: issue?.path[0] === 'text' ? 'text' : 'reason',
      });
    }
    const input = parsed.data;
    if (blockedId === blockerId)
      throw new AppError('BAD_USER_INPUT', 'You cannot block yourself', { field: 'userId', reason: 'SELF' });
    const target = await this.deps.users.findTarget(blockedId);
    if (!target || target.deletedAt) throw notFound('User');
    return withTransaction(this.deps.db, async (tx): Promise<BlockResult> => {
      const block = await this.deps.repo.insertBlock(tx, {
        id: randomUUID(),
        blockerId,
        blockedId,
        reason: input.reason,
        text: input.text,
        at: this.deps.clock.now(),
      });
      if (!block) {
        const current = await this.deps.repo.currentBlock(tx, blockerId, blockedId);
        // Lifted between the insert and this read: the caller may simply try again.
        if (!current) throw conflict('The block changed meanwhile, try again');
        return { block: current, created: false };
      }
      await this.deps.eventLog.emit(
        tx,
        userBlocked.event(
          { blockId: block.id, blockerId, blockedId, reason: block.reason, text: block.text },
          { userId: blockerId },
        ),
      );
      return { block, created: true };
    });
  }

  /** Lifts the block; true when there was one (idempotent). The reason stays for analysis. */
  async unblock(blockerId: string, userId: string): Promise<boolean> {
    const blockedId = parseOrThrow(accountId, userId, 'userId');
    return withTransaction(this.deps.db, async (tx) => {
      const lifted = await this.deps.repo.unblock(tx, blockerId, blockedId, this.deps.clock.now());
      if (lifted)
        await this.deps.eventLog.emit(
          tx,
          userUnblocked.event({ blockerId, blockedId }, { userId: blockerId }),
        );
      return lifted;
    });
  }

  /** My current blocks, newest first. */
  async mine(blockerId: string, first: number, after?: string | null): Promise<BlockPage> {
    const limit = pageLimit(first);
    return toPage(await this.deps.repo.listMine(blockerId, limit + 1, decodeCursor(after)), limit);
  }

  /** `user_deleted`: see `BlocklistRepository.eraseAccount`. */
  async eraseAccount(tx: Tx, userId: string, at: Date) {
    return this.deps.repo.eraseAccount(tx, userId, at);
  }

  /** The blocklist part of the account's data export: the blocks it made; only a count of those it received. */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const made = await this.deps.repo.allBy(userId);
    return {
      blocks: made.map((b) => ({
        userId: b.blockedId,
        reason: b.reason,
        text: b.text,
        since: b.createdAt.toISOString(),
        unblockedAt: b.unblockedAt?.toISOString() ?? null,
      })),
      blockedByCount: await this.deps.repo.countReceived(userId),
    };
  }
}

export type { BlockReason };
