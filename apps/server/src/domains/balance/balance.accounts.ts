/**
 * The ledger's accounts. Every coin sits in exactly one of them; a transaction moves coins between
 * them with postings that sum to zero.
 *
 * - `wallet_paid` / `wallet_bonus`: a user's coins, bought or granted; spent in the configured order.
 * - `earnings_pending` → `earnings_available`: a streamer's (or an agency's) earnings, held for the
 *   configured period so a refund can still claw them back, then payable.
 * - platform accounts: `platform_revenue` (the platform's share), `store_clearing` (the other side of
 *   every coin bought: it goes negative as coins are sold), `promotions` (the other side of bonus
 *   coins), `payouts_in_flight` (requested payouts, held), `payouts_settled` (paid out, gone),
 *   `adjustments` (the other side of a moderator's correction).
 */
export type OwnerRef = { kind: 'user'; id: string } | { kind: 'agency'; id: string } | { kind: 'platform' };

export type OwnerKind = OwnerRef['kind'];

export const WALLET_KINDS = ['wallet_paid', 'wallet_bonus'] as const;
export const EARNINGS_KINDS = ['earnings_pending', 'earnings_available'] as const;
export const PLATFORM_KINDS = [
  'platform_revenue',
  'store_clearing',
  'promotions',
  'payouts_in_flight',
  'payouts_settled',
  'adjustments',
] as const;

export type WalletKind = (typeof WALLET_KINDS)[number];
export type EarningsKind = (typeof EARNINGS_KINDS)[number];
export type PlatformKind = (typeof PLATFORM_KINDS)[number];
export type AccountKind = WalletKind | EarningsKind | PlatformKind;

export type AccountRef =
  | { owner: { kind: 'user'; id: string }; kind: WalletKind | EarningsKind }
  | { owner: { kind: 'agency'; id: string }; kind: EarningsKind }
  | { owner: { kind: 'platform' }; kind: PlatformKind };

/**
 * Platform accounts take a posting from almost every transaction. Each is split into shard rows and a
 * posting picks one at random, so concurrent transactions do not queue on one row; the balance is
 * the sum of the shards. They may go negative, so nothing needs to read the sum to post.
 */
export const PLATFORM_SHARDS = 16;

const platform = (kind: PlatformKind): AccountRef => ({ owner: { kind: 'platform' }, kind });

export const accounts = {
  walletPaid: (userId: string): AccountRef => ({ owner: { kind: 'user', id: userId }, kind: 'wallet_paid' }),
  walletBonus: (userId: string): AccountRef => ({
    owner: { kind: 'user', id: userId },
    kind: 'wallet_bonus',
  }),
  earningsPending: (owner: { kind: 'user' | 'agency'; id: string }): AccountRef =>
    owner.kind === 'user'
      ? { owner: { kind: 'user', id: owner.id }, kind: 'earnings_pending' }
      : { owner: { kind: 'agency', id: owner.id }, kind: 'earnings_pending' },
  earningsAvailable: (owner: { kind: 'user' | 'agency'; id: string }): AccountRef =>
    owner.kind === 'user'
      ? { owner: { kind: 'user', id: owner.id }, kind: 'earnings_available' }
      : { owner: { kind: 'agency', id: owner.id }, kind: 'earnings_available' },
  platformRevenue: platform('platform_revenue'),
  storeClearing: platform('store_clearing'),
  promotions: platform('promotions'),
  payoutsInFlight: platform('payouts_in_flight'),
  payoutsSettled: platform('payouts_settled'),
  adjustments: platform('adjustments'),
} as const;

export function isPlatformAccount(ref: AccountRef): boolean {
  return ref.owner.kind === 'platform';
}

export function accountKey(ref: AccountRef): string {
  return ref.owner.kind === 'platform'
    ? `platform:${ref.kind}`
    : `${ref.owner.kind}:${ref.owner.id}:${ref.kind}`;
}

/** What a ledger transaction is for. Reports group by it. */
export const TRANSACTION_KINDS = [
  'purchase',
  'purchase_refund',
  'bonus_grant',
  'call_charge',
  'gift',
  'adjustment',
  'penalty',
  'earnings_release',
  'clawback',
  'payout_hold',
  'payout_return',
  'payout_settle',
] as const;
export type LedgerTransactionKind = (typeof TRANSACTION_KINDS)[number];

export type LedgerPosting = { account: AccountRef; amount: bigint };

export type LedgerCommand = {
  /** Unique per operation (`call:{id}:cp:{n}`, `apple:{transactionId}`, …): a replay returns the first receipt. */
  idempotencyKey: string;
  kind: LedgerTransactionKind;
  /** Positive credits, negative debits. With `spend`, they must sum to `spend.amount`; else to zero. */
  postings: LedgerPosting[];
  /**
   * Debits the user's coin wallet by `amount`, split between bonus and paid coins in the configured
   * spending order. Refused with INSUFFICIENT_FUNDS (nothing written) when the wallet cannot pay or
   * is in debt.
   */
  spend?: { userId: string; amount: bigint };
  /**
   * Lets `wallet_paid` go below zero: only for refunds and revocations of coins already spent. Every
   * other non-platform account never goes below zero.
   */
  allowOverdraft?: boolean;
  /** Stored with the transaction and part of its identity (a replay with other metadata is a CONFLICT). */
  metadata?: Record<string, string | number | boolean | null>;
  /** Who caused it, when a person did (a moderator's adjustment, a payout decision). */
  actorId?: string | null;
};

export type ReceiptPosting = {
  accountKey: string;
  kind: AccountKind;
  ownerKind: OwnerKind;
  ownerId: string | null;
  amount: bigint;
  /** The account's balance after this posting; null for platform accounts (their shards are summed when read). */
  balanceAfter: bigint | null;
  /** The account's version after this posting; null for platform accounts. */
  version: bigint | null;
};

export type LedgerReceipt = {
  transactionId: string;
  seq: bigint;
  kind: LedgerTransactionKind;
  /** True when the idempotency key had already been used with the same command: nothing was written. */
  replayed: boolean;
  createdAt: Date;
  postings: ReceiptPosting[];
  /** How a `spend` was split. */
  spent: { paid: bigint; bonus: bigint } | null;
};
