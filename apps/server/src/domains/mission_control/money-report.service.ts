import { badInput } from '../../platform/errors/app-error.ts';
import type { LedgerTransactionKind } from '../balance/balance.accounts.ts';
import type { LedgerDailyCell, LedgerDailyCount, LedgerReports } from '../balance/ledger-reports.ts';

/** Money taken by the stores on one day, in one currency (from the payment domain). */
export type StoreRevenue = {
  store: string;
  /** ISO 4217; null for the sandbox store, which charges nothing. */
  currency: string | null;
  purchases: number;
  /** Coins credited by these purchases, bonus coins included. */
  coins: bigint;
  /** In the currency's minor unit. */
  amountMinor: bigint;
  refunds: number;
  refundedCoins: bigint;
  refundedAmountMinor: bigint;
};

/** What the payment domain offers reports (`services.payments.dailyRevenue`). */
export type RevenueSource = {
  dailyRevenue(from: Date, to: Date): Promise<Array<StoreRevenue & { day: string }>>;
};

/** One UTC day of money movements, in coins (from the ledger) and counts of ledger transactions. */
export type MoneyReportDay = {
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** Paid coins credited to wallets by purchases. */
  coinsBought: bigint;
  /** Bonus coins credited with purchases and grants. */
  bonusCoinsGranted: bigint;
  /** Paid coins taken back by store refunds and revocations. */
  coinsRefunded: bigint;
  coinsSpentOnCalls: bigint;
  coinsSpentOnGifts: bigint;
  /** Net platform revenue from calls and gifts (what is left after the earners' shares). */
  platformRevenue: bigint;
  /** Credited to streamers' pending earnings by calls and gifts. */
  streamerEarnings: bigint;
  /** Credited to agencies' pending earnings by calls and gifts. */
  agencyEarnings: bigint;
  /** Taken back from earnings after refunds. */
  earningsClawedBack: bigint;
  payoutsRequested: bigint;
  payoutsReturned: bigint;
  payoutsPaid: bigint;
  purchases: number;
  refunds: number;
  gifts: number;
  payoutRequests: number;
  payoutsPaidCount: number;
  /** Purchases and refunds per store and currency, from the payment domain's records. */
  revenue: StoreRevenue[];
};

const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

const KIND_COUNTS = {
  purchases: ['purchase'],
  refunds: ['purchase_refund'],
  gifts: ['gift'],
  payoutRequests: ['payout_hold'],
  payoutsPaidCount: ['payout_settle'],
} as const satisfies Record<string, readonly LedgerTransactionKind[]>;

const emptyDay = (day: string): MoneyReportDay => ({
  day,
  coinsBought: 0n,
  bonusCoinsGranted: 0n,
  coinsRefunded: 0n,
  coinsSpentOnCalls: 0n,
  coinsSpentOnGifts: 0n,
  platformRevenue: 0n,
  streamerEarnings: 0n,
  agencyEarnings: 0n,
  earningsClawedBack: 0n,
  payoutsRequested: 0n,
  payoutsReturned: 0n,
  payoutsPaid: 0n,
  purchases: 0,
  refunds: 0,
  gifts: 0,
  payoutRequests: 0,
  payoutsPaidCount: 0,
  revenue: [],
});

/** Folds one ledger cell into its day. Pure: the rules of what counts as what live here. */
export function addCell(day: MoneyReportDay, cell: LedgerDailyCell): void {
  const net = cell.credits - cell.debits;
  const wallet = cell.accountKind === 'wallet_paid' || cell.accountKind === 'wallet_bonus';
  switch (cell.transactionKind) {
    case 'purchase':
      if (cell.accountKind === 'wallet_paid') day.coinsBought += cell.credits;
      if (cell.accountKind === 'wallet_bonus') day.bonusCoinsGranted += cell.credits;
      break;
    case 'bonus_grant':
      if (cell.accountKind === 'wallet_bonus') day.bonusCoinsGranted += cell.credits;
      break;
    case 'purchase_refund':
      if (cell.accountKind === 'wallet_paid') day.coinsRefunded += cell.debits;
      break;
    case 'call_charge':
    case 'gift':
      if (wallet) {
        if (cell.transactionKind === 'call_charge') day.coinsSpentOnCalls += cell.debits - cell.credits;
        else day.coinsSpentOnGifts += cell.debits - cell.credits;
      }
      if (cell.accountKind === 'platform_revenue') day.platformRevenue += net;
      if (cell.accountKind === 'earnings_pending' && cell.ownerKind === 'user') day.streamerEarnings += net;
      if (cell.accountKind === 'earnings_pending' && cell.ownerKind === 'agency') day.agencyEarnings += net;
      break;
    case 'clawback':
      if (cell.accountKind === 'earnings_pending' || cell.accountKind === 'earnings_available') {
        day.earningsClawedBack += cell.debits;
      }
      break;
    case 'payout_hold':
      if (cell.accountKind === 'payouts_in_flight') day.payoutsRequested += cell.credits;
      break;
    case 'payout_return':
      if (cell.accountKind === 'payouts_in_flight') day.payoutsReturned += cell.debits;
      break;
    case 'payout_settle':
      if (cell.accountKind === 'payouts_settled') day.payoutsPaid += cell.credits;
      break;
    default:
      break;
  }
}

export function addCount(day: MoneyReportDay, count: LedgerDailyCount): void {
  for (const [field, kinds] of Object.entries(KIND_COUNTS) as Array<
    [keyof typeof KIND_COUNTS, readonly LedgerTransactionKind[]]
  >) {
    if (kinds.includes(count.transactionKind)) day[field] += Number(count.transactions);
  }
}

/** The admins' money report: one row per UTC day of [from, to), from the ledger's postings. */
export class MoneyReportService {
  private readonly reports: Pick<LedgerReports, 'dailyCells' | 'dailyCounts'>;
  private readonly revenue: RevenueSource;

  constructor(reports: Pick<LedgerReports, 'dailyCells' | 'dailyCounts'>, revenue: RevenueSource) {
    this.reports = reports;
    this.revenue = revenue;
  }

  async daily(from: Date, to: Date): Promise<MoneyReportDay[]> {
    if (to <= from) throw badInput('`to` must be after `from`', { field: 'to' });
    if (to.getTime() - from.getTime() > MAX_DAYS * DAY_MS) {
      throw badInput(`The report covers at most ${MAX_DAYS} days`, { field: 'to' });
    }
    const [cells, counts, revenue] = await Promise.all([
      this.reports.dailyCells(from, to),
      this.reports.dailyCounts(from, to),
      this.revenue.dailyRevenue(from, to),
    ]);
    const days = new Map<string, MoneyReportDay>();
    // Every day of the period, so days without movement show as zeros.
    for (let t = Math.floor(from.getTime() / DAY_MS) * DAY_MS; t < to.getTime(); t += DAY_MS) {
      const key = new Date(t).toISOString().slice(0, 10);
      days.set(key, emptyDay(key));
    }
    const dayOf = (key: string) => {
      let day = days.get(key);
      if (!day) {
        day = emptyDay(key);
        days.set(key, day);
      }
      return day;
    };
    for (const cell of cells) addCell(dayOf(cell.day), cell);
    for (const count of counts) addCount(dayOf(count.day), count);
    for (const { day, ...row } of revenue) dayOf(day).revenue.push(row);
    return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
  }
}
