import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/transaction.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import type { LedgerCommand, LedgerReceipt } from '../balance/balance.accounts.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { Earnings } from '../balance/ledger.service.ts';
import type { EventInput } from '../event_log/event-catalogue.ts';
import type { SettingKey, SettingValue } from '../settings/settings.definitions.ts';
import { userFined, userFlagged, userWarned } from './blocklist.events.ts';
import type { BlockTargets } from './blocklist.service.ts';
import type { BlockReason, FlagOutcome } from './blocklist.tables.ts';
import type { BlocklistRulesRepository, Flag } from './blocklist-rules.repository.ts';

/** The ledger operations the fine needs (the balance domain's LedgerService). */
export type FineLedger = {
  earnings(owner: { kind: 'user'; id: string }, executor?: Tx): Promise<Earnings>;
  post(tx: Tx, command: LedgerCommand): Promise<LedgerReceipt>;
};

/** Bans an account on the platform's behalf (the user domain's ModerationService, audited there). */
export type AutoBan = (userId: string, reason: string) => Promise<void>;

/** One block, as the rules see it (the `user_blocked` payload and when it happened). */
export type BlockFact = {
  blockId: string;
  blockerId: string;
  blockedId: string;
  reason: BlockReason;
  at: Date;
};

export type RulesOutcome = {
  flag: Flag | null;
  penalty: { kind: 'warning' | 'fine'; coins: bigint } | null;
};

/**
 * What a block does to the blocked account, by its reason, as configured in settings `blocklist.*`:
 * the harassment threshold (flag or ban, once per crossing) and the nudity penalty for streamers
 * (a warning, or a fine through the ledger). Runs in the transaction of the consumer of
 * `user_blocked`, which takes one event at a time (its cursor row is locked for the batch, on
 * every node): the counts are exact, a failure is retried, and blocking never fails because of a
 * rule.
 */
export class BlocklistRules {
  private readonly deps: {
    repo: BlocklistRulesRepository;
    users: BlockTargets;
    settings: { get<K extends SettingKey>(key: K): Promise<SettingValue<K>> };
    ledger: FineLedger;
    autoBan: AutoBan;
  };

  constructor(deps: BlocklistRules['deps']) {
    this.deps = deps;
  }

  async apply(
    tx: Tx,
    block: BlockFact,
    emit: (event: EventInput) => Promise<unknown>,
  ): Promise<RulesOutcome> {
    const flag = block.reason === 'harassment' ? await this.harassment(tx, block, emit) : null;
    const penalty = block.reason === 'nudity' ? await this.nudity(tx, block, emit) : null;
    return { flag, penalty };
  }

  /**
   * When distinct accounts blocking for harassment within the window reach the threshold, act once.
   * The blocks counted are marked with the flag, so they never count again: the next crossing needs
   * as many new ones. Lifted blocks still count (unblocking does not withdraw the complaint).
   */
  private async harassment(
    tx: Tx,
    block: BlockFact,
    emit: (event: EventInput) => Promise<unknown>,
  ): Promise<Flag | null> {
    const [threshold, windowHours, action] = await Promise.all([
      this.deps.settings.get('blocklist.harassment_threshold'),
      this.deps.settings.get('blocklist.harassment_window_hours'),
      this.deps.settings.get('blocklist.harassment_action'),
    ]);
    if (action === 'none') return null;
    const userId = block.blockedId;
    await this.deps.repo.lockRules(tx, userId);
    const since = new Date(block.at.getTime() - windowHours * 3_600_000);
    const counted = await this.deps.repo.uncountedHarassment(tx, userId, since);
    if (counted.blockers < threshold) return null;
    const outcome: FlagOutcome =
      action === 'ban'
        ? await this.ban(
            userId,
            `Blocked for harassment by ${counted.blockers} accounts within ${windowHours} hours`,
            block.at,
          )
        : 'flagged';
    const flag: Flag = {
      id: randomUUID(),
      userId,
      rule: 'harassment',
      action,
      outcome,
      blockCount: counted.blockers,
      status: 'open',
      createdAt: block.at,
      resolvedBy: null,
      resolvedAt: null,
    };
    await this.deps.repo.insertFlag(tx, flag, counted.ids);
    await emit(
      userFlagged.event(
        { flagId: flag.id, userId, action, outcome, blockCount: flag.blockCount },
        { userId },
      ),
    );
    return flag;
  }

  /**
   * The ban runs in the user domain's own transaction (audited there, `user_banned` for the other
   * domains). Should this consumer's transaction then fail, the retry finds the account banned and
   * does not ban again: the action happens once. A refusal (an admin, a deleted account) is kept in
   * the flag's outcome for moderators instead of failing the consumer.
   */
  private async ban(userId: string, reason: string, at: Date): Promise<FlagOutcome> {
    const target = await this.deps.users.findTarget(userId);
    if (!target || target.deletedAt) return 'ban_refused';
    if (target.ban && (target.ban.until === null || target.ban.until > at)) return 'already_banned';
    try {
      await this.deps.autoBan(userId, reason);
      return 'banned';
    } catch (error) {
      if (error instanceof AppError && ['FORBIDDEN', 'CONFLICT', 'NOT_FOUND'].includes(error.code))
        return 'ban_refused';
      throw error;
    }
  }

  /**
   * For streamers: a warning, or a fine moved in the ledger from the streamer's earnings (available
   * first, then pending) to platform revenue, capped at what they hold so no account goes negative
   * (nothing to take: a warning instead). One per block (the ledger's idempotency key and the unique
   * penalty row) and one per blocker and streamer, so block/unblock cycles cannot fine repeatedly.
   */
  private async nudity(
    tx: Tx,
    block: BlockFact,
    emit: (event: EventInput) => Promise<unknown>,
  ): Promise<RulesOutcome['penalty']> {
    const [kind, configured] = await Promise.all([
      this.deps.settings.get('blocklist.nudity_penalty'),
      this.deps.settings.get('blocklist.nudity_fine_coins'),
    ]);
    if (kind === 'none') return null;
    const target = await this.deps.users.findTarget(block.blockedId);
    if (!target || target.deletedAt || !target.roles.includes('streamer')) return null;
    if (await this.deps.repo.hasNudityPenalty(tx, block.blockerId, block.blockedId)) return null;
    let coins = 0n;
    let ledgerTx: string | null = null;
    if (kind === 'fine') {
      const fine = BigInt(configured);
      const owner = { kind: 'user' as const, id: block.blockedId };
      // Read in this transaction; the ledger locks the accounts and refuses to go negative, so a
      // concurrent payout or release fails this attempt and the consumer's retry reads again.
      const earnings = await this.deps.ledger.earnings(owner, tx);
      const fromAvailable = earnings.available < fine ? earnings.available : fine;
      const rest = fine - fromAvailable;
      const fromPending = earnings.pending < rest ? earnings.pending : rest;
      coins = fromAvailable + fromPending;
      if (coins > 0n) {
        const receipt = await this.deps.ledger.post(tx, {
          idempotencyKey: `blocklist:nudity:${block.blockId}`,
          kind: 'penalty',
          postings: [
            { account: accounts.platformRevenue, amount: coins },
            ...(fromAvailable > 0n
              ? [{ account: accounts.earningsAvailable(owner), amount: -fromAvailable }]
              : []),
            ...(fromPending > 0n ? [{ account: accounts.earningsPending(owner), amount: -fromPending }] : []),
          ],
          metadata: { blockId: block.blockId, rule: 'nudity', configuredCoins: configured },
        });
        ledgerTx = receipt.transactionId;
      }
    }
    const applied = coins > 0n ? 'fine' : 'warning';
    const inserted = await this.deps.repo.insertPenalty(tx, {
      id: randomUUID(),
      blockId: block.blockId,
      userId: block.blockedId,
      source: 'nudity_rule',
      kind: applied,
      coins,
      ledgerTx,
      at: block.at,
    });
    if (!inserted) return null;
    const meta = { userId: block.blockedId };
    if (applied === 'fine' && ledgerTx)
      await emit(
        userFined.event(
          {
            userId: block.blockedId,
            blockId: block.blockId,
            coins: coins.toString(),
            ledgerTransactionId: ledgerTx,
          },
          meta,
        ),
      );
    else
      await emit(
        userWarned.event(
          { userId: block.blockedId, blockId: block.blockId, reason: 'nudity', source: 'nudity_rule' },
          meta,
        ),
      );
    return { kind: applied, coins };
  }
}
