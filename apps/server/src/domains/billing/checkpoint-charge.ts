import type { Clock } from '../../platform/clock.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerCommand, type LedgerReceipt } from '../balance/balance.accounts.ts';
import type { EarningsSplit } from '../balance/earnings-split.ts';
import type { BillingRepository, BillingSession } from './billing.repository.ts';
import type { TariffCheckpoint } from './tariff.ts';

export const checkpointLedgerKey = (callId: string, n: number) => `call:${callId}:cp:${n}`;

/** What billing needs of the ledger (balance domain's LedgerService). */
export type BillingLedger = {
  post(tx: Tx, command: LedgerCommand): Promise<LedgerReceipt>;
  wallet(userId: string, tx?: Tx): Promise<{ total: bigint; inDebt: boolean }>;
};

export type ChargeDeps = {
  repo: BillingRepository;
  ledger: BillingLedger;
  earningsSplit: EarningsSplit;
  clock: Clock;
};

const isInsufficientFunds = (error: unknown) =>
  error instanceof AppError && error.code === 'INSUFFICIENT_FUNDS';

/**
 * One checkpoint, in the caller's transaction (the session row is locked): the ledger transaction
 * `call:{callId}:cp:{n}` — the payer's spend, the earner's credit through the earnings split, the
 * platform's share (payer − earner) — and the billing.charges row. False, with nothing written, when
 * the payer's wallet cannot pay it.
 */
export async function chargeCheckpoint(
  deps: ChargeDeps,
  tx: Tx,
  session: BillingSession,
  checkpoint: TariffCheckpoint,
  due: Date,
): Promise<boolean> {
  let transactionId: string | null = null;
  if (checkpoint.payer > 0n || checkpoint.earner > 0n) {
    const earnerPostings =
      checkpoint.earner > 0n ? await deps.earningsSplit(tx, session.earnerId, checkpoint.earner) : [];
    const platform = checkpoint.payer - checkpoint.earner;
    const command: LedgerCommand = {
      idempotencyKey: checkpointLedgerKey(session.callId, checkpoint.n),
      kind: 'call_charge',
      postings: [
        ...earnerPostings,
        ...(platform !== 0n ? [{ account: accounts.platformRevenue, amount: platform }] : []),
      ],
      ...(checkpoint.payer > 0n ? { spend: { userId: session.payerId, amount: checkpoint.payer } } : {}),
      metadata: { callId: session.callId, n: checkpoint.n, second: checkpoint.second },
    };
    try {
      transactionId = (await deps.ledger.post(tx, command)).transactionId;
    } catch (error) {
      // The ledger refuses before writing anything, so the transaction is still clean.
      if (isInsufficientFunds(error)) return false;
      throw error;
    }
  }
  await deps.repo.insertCharge(tx, {
    callId: session.callId,
    n: checkpoint.n,
    second: checkpoint.second,
    payerCoins: checkpoint.payer,
    earnerCoins: checkpoint.earner,
    ledgerTransactionId: transactionId,
    dueAt: due,
    chargedAt: deps.clock.now(),
  });
  return true;
}
