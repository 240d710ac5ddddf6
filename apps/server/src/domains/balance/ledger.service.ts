import { createHash, randomInt } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict } from '../../platform/errors/app-error.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import {
  type AccountKind,
  type AccountRef,
  accountKey,
  accounts,
  type LedgerCommand,
  type LedgerPosting,
  type LedgerReceipt,
  type OwnerKind,
  type ReceiptPosting,
  TRANSACTION_KINDS,
} from './balance.accounts.ts';
import { balanceChanged, walletOverdrawn } from './balance.events.ts';
import type { LedgerRepository, StoredPosting, StoredTransaction } from './ledger.repository.ts';

export type Wallet = {
  paid: bigint;
  bonus: bigint;
  total: bigint;
  inDebt: boolean;
  paidVersion: bigint;
  bonusVersion: bigint;
};
export type Earnings = {
  pending: bigint;
  available: bigint;
  pendingVersion: bigint;
  availableVersion: bigint;
};

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
const MAX_METADATA_BYTES = 2000;

type Resolved = {
  ref: AccountRef;
  key: string;
  accountId: bigint;
  shard: number;
  ownerKind: OwnerKind;
  ownerId: string | null;
  kind: AccountKind;
  /** For single-shard accounts: the locked balance before this transaction. */
  before: bigint | null;
  delta: bigint;
};

/**
 * The coin ledger (double entry, event sourced). Every change is one transaction of postings
 * summing to zero, recorded append-only; the balance rows are a projection updated in the same
 * database transaction. Wallets and earnings never go below zero through spending; platform
 * accounts may (store clearing is negative by the coins sold) and are sharded so they do not
 * serialise traffic.
 */
export class LedgerService {
  private readonly deps: {
    db: Db;
    repo: LedgerRepository;
    eventLog: EventLog;
    settings: SettingsService;
    clock: Clock;
  };

  /**
   * The platform-account shard each database transaction writes to. Random per transaction (so
   * concurrent transactions spread over the shards) but fixed within one: a transaction that posts
   * several times would otherwise lock two shards in random order and deadlock against another.
   */
  private readonly shards = new WeakMap<Tx, number>();

  constructor(deps: LedgerService['deps']) {
    this.deps = deps;
  }

  private shardFor(tx: Tx, shards: number): number {
    let base = this.shards.get(tx);
    if (base === undefined) {
      base = randomInt(1 << 30);
      this.shards.set(tx, base);
    }
    return base % shards;
  }

  /** Runs the command in its own transaction (retrying serialisation failures and deadlocks). */
  async execute(command: LedgerCommand): Promise<LedgerReceipt> {
    return withTransaction(this.deps.db, (tx) => this.post(tx, command));
  }

  /**
   * Records the command in the caller's transaction. Refusals (bad input, CONFLICT, INSUFFICIENT_FUNDS)
   * are thrown before anything is written, so the caller's transaction stays usable.
   */
  async post(tx: Tx, command: LedgerCommand): Promise<LedgerReceipt> {
    const { repo, clock } = this.deps;
    const postings = validate(command);
    const spend = command.spend;
    const userRefs = uniqueRefs([
      ...postings.map((p) => p.account),
      ...(spend ? [accounts.walletPaid(spend.userId), accounts.walletBonus(spend.userId)] : []),
    ]).filter((ref) => ref.owner.kind !== 'platform');

    // Lock first: a concurrent command with the same key waits here and then sees it committed.
    let locked = await repo.lockAccounts(tx, userRefs);
    if (locked.length < userRefs.length) {
      await repo.createAccounts(
        tx,
        userRefs.filter((ref) => !locked.some((row) => sameAccount(row, ref))),
      );
      locked = await repo.lockAccounts(tx, userRefs);
    }
    const requestHash = hashCommand(command, postings);
    const existing = await repo.findTransaction(tx, command.idempotencyKey);
    if (existing) return this.replay(tx, existing, requestHash);

    const all = [...postings];
    let spent: { paid: bigint; bonus: bigint } | null = null;
    if (spend) {
      const paid = locked.find((row) => sameAccount(row, accounts.walletPaid(spend.userId)));
      const bonus = locked.find((row) => sameAccount(row, accounts.walletBonus(spend.userId)));
      spent = await this.splitSpend(paid?.balance ?? 0n, bonus?.balance ?? 0n, spend.amount);
      if (spent.bonus > 0n) all.push({ account: accounts.walletBonus(spend.userId), amount: -spent.bonus });
      if (spent.paid > 0n) all.push({ account: accounts.walletPaid(spend.userId), amount: -spent.paid });
    }

    const resolved: Resolved[] = [];
    for (const [key, { ref, amount }] of mergeByAccount(all)) {
      if (ref.owner.kind === 'platform') {
        const account = await repo.platformAccount(tx, ref);
        resolved.push({
          ref,
          key,
          accountId: account.id,
          shard: this.shardFor(tx, account.shards),
          ownerKind: 'platform',
          ownerId: null,
          kind: ref.kind,
          before: null,
          delta: amount,
        });
        continue;
      }
      const row = locked.find((r) => sameAccount(r, ref));
      if (!row) throw new Error(`ledger account ${key} was not locked`);
      const after = row.balance + amount;
      const overdraftAllowed = command.allowOverdraft === true && ref.kind === 'wallet_paid';
      if (amount < 0n && after < 0n && !overdraftAllowed) {
        throw new AppError('INSUFFICIENT_FUNDS', `Not enough coins in ${ref.kind.replace('_', ' ')}`, {
          account: ref.kind,
          available: row.balance.toString(),
          required: (-amount).toString(),
        });
      }
      resolved.push({
        ref,
        key,
        accountId: row.id,
        shard: 0,
        ownerKind: row.ownerKind,
        ownerId: row.ownerId,
        kind: row.kind,
        before: row.balance,
        delta: amount,
      });
    }

    const now = clock.now();
    const stored = await repo.insertTransaction(tx, {
      idempotencyKey: command.idempotencyKey,
      requestHash,
      kind: command.kind,
      metadata: command.metadata ?? {},
      actorId: command.actorId ?? null,
      spent,
      createdAt: now,
    });
    // Taken between our check and our insert: only possible for commands without user accounts.
    if (!stored) {
      const winner = await repo.findTransaction(tx, command.idempotencyKey);
      if (!winner) throw new Error('ledger idempotency key vanished');
      return this.replay(tx, winner, requestHash);
    }

    resolved.sort((a, b) =>
      a.accountId === b.accountId ? a.shard - b.shard : a.accountId < b.accountId ? -1 : 1,
    );
    const updated = await repo.applyDeltas(
      tx,
      resolved.map((r) => ({ accountId: r.accountId, shard: r.shard, delta: r.delta })),
      now,
    );
    const receiptPostings: ReceiptPosting[] = [];
    const rows = resolved.map((r) => {
      const row = updated.find((u) => u.accountId === r.accountId && u.shard === r.shard);
      if (!row) throw new Error(`ledger balance row ${r.key}/${r.shard} missing`);
      const isPlatform = r.ownerKind === 'platform';
      receiptPostings.push({
        accountKey: r.key,
        kind: r.kind,
        ownerKind: r.ownerKind,
        ownerId: r.ownerId,
        amount: r.delta,
        balanceAfter: isPlatform ? null : row.balance,
        version: isPlatform ? null : row.version,
      });
      return {
        transactionId: stored.id,
        accountId: r.accountId,
        shard: r.shard,
        amount: r.delta,
        balanceAfter: row.balance,
        version: row.version,
        createdAt: now,
      };
    });
    await repo.insertPostings(tx, rows);

    const holdHours = await this.deps.settings.get('balance.earnings_hold_hours');
    await repo.insertHolds(
      tx,
      resolved
        .filter((r) => r.kind === 'earnings_pending' && r.delta > 0n)
        .map((r) => ({
          accountId: r.accountId,
          transactionId: stored.id,
          amount: r.delta,
          releaseAt: new Date(now.getTime() + holdHours * 3_600_000),
        })),
    );
    await this.announce(tx, stored, receiptPostings);
    return {
      transactionId: stored.id,
      seq: stored.seq,
      kind: command.kind,
      replayed: false,
      createdAt: stored.createdAt,
      postings: receiptPostings,
      spent,
    };
  }

  async wallet(userId: string, executor?: Tx): Promise<Wallet> {
    const rows = await this.deps.repo.balancesOf(executor ?? this.deps.db, { kind: 'user', id: userId });
    const paid = rows.find((r) => r.kind === 'wallet_paid');
    const bonus = rows.find((r) => r.kind === 'wallet_bonus');
    const paidBalance = paid?.balance ?? 0n;
    const bonusBalance = bonus?.balance ?? 0n;
    return {
      paid: paidBalance,
      bonus: bonusBalance,
      total: paidBalance + bonusBalance,
      inDebt: paidBalance < 0n || bonusBalance < 0n,
      paidVersion: paid?.version ?? 0n,
      bonusVersion: bonus?.version ?? 0n,
    };
  }

  /** Whether the wallet could pay `amount` now (no lock: a later spend may still be refused). */
  async canSpend(userId: string, amount: bigint, executor?: Tx): Promise<boolean> {
    const wallet = await this.wallet(userId, executor);
    return !wallet.inDebt && wallet.total >= amount;
  }

  async earnings(owner: { kind: 'user' | 'agency'; id: string }, executor?: Tx): Promise<Earnings> {
    const rows = await this.deps.repo.balancesOf(executor ?? this.deps.db, owner);
    const pending = rows.find((r) => r.kind === 'earnings_pending');
    const available = rows.find((r) => r.kind === 'earnings_available');
    return {
      pending: pending?.balance ?? 0n,
      available: available?.balance ?? 0n,
      pendingVersion: pending?.version ?? 0n,
      availableVersion: available?.version ?? 0n,
    };
  }

  async balanceOf(ref: AccountRef, executor?: Tx): Promise<bigint> {
    return this.deps.repo.balanceOf(executor ?? this.deps.db, ref);
  }

  async openHolds(owner: { kind: 'user' | 'agency'; id: string }) {
    return this.deps.repo.openHolds(this.deps.db, owner);
  }

  async history(
    filter: { ownerKind: OwnerKind; ownerId: string | null; kinds?: readonly AccountKind[] },
    limit: number,
    before?: bigint,
  ) {
    return this.deps.repo.history(this.deps.db, filter, limit, before);
  }

  /**
   * Moves held earnings whose hold period is over to `earnings_available`, one hold per transaction.
   * A hold is released for what is still pending (a clawback may have taken part of it).
   */
  async releaseDueEarnings(limit = 500): Promise<number> {
    let released = 0;
    for (let i = 0; i < limit; i++) {
      const done = await withTransaction(this.deps.db, async (tx) => {
        const [hold] = await this.deps.repo.lockDueHolds(tx, this.deps.clock.now(), 1);
        if (!hold) return false;
        const owner = { kind: hold.ownerKind as 'user' | 'agency', id: hold.ownerId };
        const [pending] = await this.deps.repo.lockAccounts(tx, [accounts.earningsPending(owner)]);
        const amount = pending && pending.balance < hold.amount ? pending.balance : hold.amount;
        if (amount > 0n) {
          await this.post(tx, {
            idempotencyKey: `release:${hold.id}`,
            kind: 'earnings_release',
            postings: [
              { account: accounts.earningsPending(owner), amount: -amount },
              { account: accounts.earningsAvailable(owner), amount },
            ],
            metadata: { holdId: hold.id.toString() },
          });
        }
        await this.deps.repo.markHoldReleased(tx, hold.id, this.deps.clock.now());
        return true;
      });
      if (!done) break;
      released++;
    }
    return released;
  }

  /**
   * After a refund took back coins the payer had already spent (their paid wallet is `debt` below
   * zero), takes up to `debt` back from the earnings those coins paid for, while they are still held:
   * newest spending first, each earner's share to platform revenue (`clawback`). The payer's debt
   * stays (they owe the coins); the platform stops paying out what was bought with money it returned.
   * Keys derive from the refund, so a replay claws back nothing twice. Returns the coins clawed back.
   */
  async clawBackHeldEarnings(
    tx: Tx,
    input: { payerId: string; debt: bigint; since: Date; refundTransactionId: string },
  ): Promise<bigint> {
    let left = input.debt;
    let clawed = 0n;
    const held = await this.deps.repo.heldEarningsFromPayer(tx, input.payerId, input.since);
    for (const earned of held) {
      if (left <= 0n) break;
      const owner = { kind: earned.ownerKind as 'user' | 'agency', id: earned.ownerId };
      const [pending] = await this.deps.repo.lockAccounts(tx, [accounts.earningsPending(owner)]);
      const available = pending?.balance ?? 0n;
      const amount = [earned.amount, left, available].reduce((least, v) => (v < least ? v : least));
      if (amount <= 0n) continue;
      await this.post(tx, {
        idempotencyKey: `clawback:${input.refundTransactionId}:${earned.transactionId}:${earned.ownerKind}:${earned.ownerId}`,
        kind: 'clawback',
        postings: [
          { account: accounts.earningsPending(owner), amount: -amount },
          { account: accounts.platformRevenue, amount },
        ],
        metadata: { refundTransactionId: input.refundTransactionId, earnedIn: earned.transactionId },
      });
      left -= amount;
      clawed += amount;
    }
    return clawed;
  }

  /** The balance part of the account's data export: balances and every posting on the user's accounts. */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const wallet = await this.wallet(userId);
    const earnings = await this.earnings({ kind: 'user', id: userId });
    const postings = await this.deps.repo.history(
      this.deps.db,
      { ownerKind: 'user', ownerId: userId },
      100_000,
    );
    return {
      wallet: { paid: wallet.paid.toString(), bonus: wallet.bonus.toString() },
      earnings: { pending: earnings.pending.toString(), available: earnings.available.toString() },
      postings: postings.map((p) => ({
        transactionId: p.transactionId,
        kind: p.transactionKind,
        account: p.accountKind,
        amount: p.amount.toString(),
        balanceAfter: p.balanceAfter.toString(),
        at: p.createdAt.toISOString(),
      })),
    };
  }

  /** Checks the projection against the postings (see `npm run ledger:check`). */
  async verify() {
    return this.deps.repo.verify(this.deps.db);
  }

  /** Rewrites drifted balance rows from the postings; returns how many rows changed. */
  async rebuildProjection(): Promise<number> {
    return withTransaction(this.deps.db, (tx) => this.deps.repo.rebuildProjection(tx));
  }

  private async splitSpend(
    paid: bigint,
    bonus: bigint,
    amount: bigint,
  ): Promise<{ paid: bigint; bonus: bigint }> {
    if (paid < 0n || bonus < 0n) {
      throw new AppError(
        'INSUFFICIENT_FUNDS',
        'The wallet is in debt after a refund: buy coins to spend again',
        {
          available: (paid + bonus).toString(),
          required: amount.toString(),
        },
      );
    }
    if (paid + bonus < amount) {
      throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins', {
        available: (paid + bonus).toString(),
        required: amount.toString(),
      });
    }
    const order = await this.deps.settings.get('balance.spending_order');
    if (order === 'bonus_first') {
      const fromBonus = bonus < amount ? bonus : amount;
      return { bonus: fromBonus, paid: amount - fromBonus };
    }
    const fromPaid = paid < amount ? paid : amount;
    return { paid: fromPaid, bonus: amount - fromPaid };
  }

  private async replay(tx: Tx, existing: StoredTransaction, requestHash: string): Promise<LedgerReceipt> {
    if (existing.requestHash !== requestHash) {
      throw conflict('This idempotency key was already used for a different operation');
    }
    const postings = await this.deps.repo.postingsOf(tx, existing.id);
    return {
      transactionId: existing.id,
      seq: existing.seq,
      kind: existing.kind,
      replayed: true,
      createdAt: existing.createdAt,
      postings: postings.map(toReceiptPosting),
      spent:
        existing.spentPaid === null ? null : { paid: existing.spentPaid, bonus: existing.spentBonus ?? 0n },
    };
  }

  /** One `balance_changed` per user touched (and `wallet_overdrawn` when a refund dug into spent coins). */
  private async announce(tx: Tx, stored: StoredTransaction, postings: ReceiptPosting[]): Promise<void> {
    const byUser = new Map<string, ReceiptPosting[]>();
    for (const posting of postings) {
      if (posting.ownerKind !== 'user' || !posting.ownerId) continue;
      byUser.set(posting.ownerId, [...(byUser.get(posting.ownerId) ?? []), posting]);
    }
    for (const [userId, own] of byUser) {
      await this.deps.eventLog.emit(
        tx,
        balanceChanged.event(
          {
            userId,
            transactionId: stored.id,
            transactionKind: stored.kind,
            accounts: own.map((p) => ({
              kind: p.kind as 'wallet_paid' | 'wallet_bonus' | 'earnings_pending' | 'earnings_available',
              delta: p.amount.toString(),
              balance: (p.balanceAfter ?? 0n).toString(),
              version: (p.version ?? 0n).toString(),
            })),
          },
          { userId },
        ),
      );
      const overdrawn = own.find(
        (p) => p.kind === 'wallet_paid' && p.amount < 0n && (p.balanceAfter ?? 0n) < 0n,
      );
      if (overdrawn) {
        await this.deps.eventLog.emit(
          tx,
          walletOverdrawn.event(
            { userId, transactionId: stored.id, paidBalance: (overdrawn.balanceAfter ?? 0n).toString() },
            { userId },
          ),
        );
      }
    }
  }
}

function validate(command: LedgerCommand): LedgerPosting[] {
  if (!KEY_PATTERN.test(command.idempotencyKey)) {
    throw badInput('idempotencyKey must be 1 to 200 printable characters without spaces');
  }
  if (!(TRANSACTION_KINDS as readonly string[]).includes(command.kind)) {
    throw badInput(`Unknown ledger transaction kind ${String(command.kind)}`);
  }
  if (command.spend && command.spend.amount <= 0n)
    throw badInput('A spend must be a positive number of coins');
  const postings = command.postings.filter((p) => p.amount !== 0n);
  const sum = postings.reduce((total, p) => total + p.amount, 0n);
  const expected = command.spend?.amount ?? 0n;
  if (sum !== expected) {
    throw badInput(
      `Ledger postings must sum to ${expected === 0n ? 'zero' : 'the amount spent'} (got ${sum})`,
    );
  }
  if (postings.length === 0 && !command.spend) throw badInput('A ledger transaction needs postings');
  if (command.metadata && JSON.stringify(command.metadata).length > MAX_METADATA_BYTES) {
    throw badInput('Ledger metadata is too large');
  }
  return postings;
}

function uniqueRefs(refs: AccountRef[]): AccountRef[] {
  const seen = new Map<string, AccountRef>();
  for (const ref of refs) seen.set(accountKey(ref), ref);
  return [...seen.values()];
}

function mergeByAccount(postings: LedgerPosting[]): Map<string, { ref: AccountRef; amount: bigint }> {
  const merged = new Map<string, { ref: AccountRef; amount: bigint }>();
  for (const posting of postings) {
    const key = accountKey(posting.account);
    const current = merged.get(key);
    merged.set(key, { ref: posting.account, amount: (current?.amount ?? 0n) + posting.amount });
  }
  for (const [key, value] of merged) if (value.amount === 0n) merged.delete(key);
  return merged;
}

function sameAccount(
  row: { ownerKind: OwnerKind; ownerId: string | null; kind: AccountKind },
  ref: AccountRef,
): boolean {
  return (
    row.kind === ref.kind &&
    row.ownerKind === ref.owner.kind &&
    row.ownerId === (ref.owner.kind === 'platform' ? null : ref.owner.id)
  );
}

/** The command's identity: what it moves, not who sent it or when. */
function hashCommand(command: LedgerCommand, postings: LedgerPosting[]): string {
  const canonical = JSON.stringify({
    kind: command.kind,
    postings: [...mergeByAccount(postings)]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, { amount }]) => [key, amount.toString()]),
    spend: command.spend ? [command.spend.userId, command.spend.amount.toString()] : null,
    allowOverdraft: command.allowOverdraft === true,
    metadata: Object.entries(command.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

function toReceiptPosting(p: StoredPosting): ReceiptPosting {
  const isPlatform = p.ownerKind === 'platform';
  return {
    accountKey: isPlatform ? `platform:${p.accountKind}` : `${p.ownerKind}:${p.ownerId}:${p.accountKind}`,
    kind: p.accountKind,
    ownerKind: p.ownerKind,
    ownerId: p.ownerId,
    amount: p.amount,
    balanceAfter: isPlatform ? null : p.balanceAfter,
    version: isPlatform ? null : p.version,
  };
}
