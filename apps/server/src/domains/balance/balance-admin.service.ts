import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { type AccountRef, accounts, type LedgerReceipt } from './balance.accounts.ts';
import type { LedgerService } from './ledger.service.ts';

export type AdjustableAccount = 'wallet_paid' | 'wallet_bonus' | 'earnings_pending' | 'earnings_available';

/**
 * Corrections by staff: a signed amount onto one of a user's accounts, against the platform's
 * `adjustments` account (bonus coins against `promotions`), with a reason, audited in the same
 * transaction. An adjustment never takes an account below zero.
 */
export class BalanceAdminService {
  private readonly deps: { db: Db; ledger: LedgerService; audit: AuditLog };

  constructor(deps: BalanceAdminService['deps']) {
    this.deps = deps;
  }

  async adjust(
    actor: AuditActor,
    input: {
      userId: string;
      account: AdjustableAccount;
      amount: bigint;
      reason: string;
      idempotencyKey: string;
    },
  ): Promise<LedgerReceipt> {
    if (input.amount === 0n) throw badInput('amount must not be zero', { field: 'amount' });
    const target = accountOf(input.userId, input.account);
    const counterparty = input.account === 'wallet_bonus' ? accounts.promotions : accounts.adjustments;
    return withTransaction(this.deps.db, async (tx) => {
      const receipt = await this.deps.ledger.post(tx, {
        idempotencyKey: `adjust:${input.idempotencyKey}`,
        kind: 'adjustment',
        postings: [
          { account: target, amount: input.amount },
          { account: counterparty, amount: -input.amount },
        ],
        metadata: { reason: input.reason },
        actorId: actor.principal?.userId ?? null,
      });
      if (!receipt.replayed) {
        const posting = receipt.postings.find((p) => p.ownerId === input.userId);
        await this.deps.audit.record(tx, actor, {
          action: 'balance.adjusted',
          targetType: 'user',
          targetId: input.userId,
          before: {
            account: input.account,
            balance: ((posting?.balanceAfter ?? 0n) - input.amount).toString(),
          },
          after: {
            account: input.account,
            balance: (posting?.balanceAfter ?? 0n).toString(),
            amount: input.amount.toString(),
            transactionId: receipt.transactionId,
          },
          reason: input.reason,
        });
      }
      return receipt;
    });
  }
}

function accountOf(userId: string, account: AdjustableAccount): AccountRef {
  switch (account) {
    case 'wallet_paid':
      return accounts.walletPaid(userId);
    case 'wallet_bonus':
      return accounts.walletBonus(userId);
    case 'earnings_pending':
      return accounts.earningsPending({ kind: 'user', id: userId });
    case 'earnings_available':
      return accounts.earningsAvailable({ kind: 'user', id: userId });
  }
}
