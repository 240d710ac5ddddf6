import type { Tx } from '../../platform/db/transaction.ts';
import { accounts, type LedgerPosting } from './balance.accounts.ts';

/**
 * The postings that credit a streamer with `amount` earned coins. Billing and gifts credit earners
 * only through this, so a rule about who shares a streamer's earnings (agencies) lives in one place.
 */
export type EarningsSplit = (tx: Tx, streamerId: string, amount: bigint) => Promise<LedgerPosting[]>;

/** Everything to the streamer: what applies to a streamer outside any agency. */
export const creditStreamerOnly: EarningsSplit = async (_tx, streamerId, amount) =>
  amount === 0n ? [] : [{ account: accounts.earningsPending({ kind: 'user', id: streamerId }), amount }];
