import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerCommand, type LedgerReceipt } from '../balance/balance.accounts.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { StaffActor } from './agency.service.ts';
import type { AuditLog } from './audit-log.ts';
import { payoutRequested, payoutStatusChanged } from './payout.events.ts';
import type { Payout, PayoutRepository } from './payout.repository.ts';
import type { PayoutOwnerKind, PayoutStatus } from './payout.tables.ts';

const isUniqueViolation = (error: unknown, constraint: string) =>
  (error as { code?: unknown })?.code === '23505' &&
  (error as { constraint?: unknown }).constraint === constraint;

export type PayoutOwner = { kind: PayoutOwnerKind; id: string };

/** What payouts need from the ledger (`LedgerService`). */
export type PayoutLedger = {
  post(tx: Tx, command: LedgerCommand): Promise<LedgerReceipt>;
};

/**
 * Payout requests. The requested amount leaves the owner's available earnings at once (`payout_hold`,
 * into `payouts_in_flight`), so it cannot be spent or requested twice; staff approve it (still held),
 * reject it (`payout_return`: back to available) or mark it paid with the transfer's reference
 * (`payout_settle`: in flight → settled). One open request (requested or approved) per owner.
 */
export class PayoutService {
  private readonly deps: {
    db: Db;
    repo: PayoutRepository;
    ledger: PayoutLedger;
    kyc: { isApproved(userId: string): Promise<boolean> };
    agencies: { requireManager(userId: string, agencyId: string): Promise<void> };
    settings: Pick<SettingsService, 'get'>;
    audit: AuditLog;
    eventLog: EventLog;
    clock: Clock;
  };

  constructor(deps: PayoutService['deps']) {
    this.deps = deps;
  }

  /** A streamer's request for their own earnings. */
  async requestForStreamer(userId: string, amount: bigint): Promise<Payout> {
    await this.checkAmount(amount);
    if (!(await this.deps.kyc.isApproved(userId))) {
      throw forbidden('Payouts need an approved identity check (KYC)');
    }
    return this.request({ kind: 'user', id: userId }, userId, amount);
  }

  /** A manager's request for the agency's earnings. */
  async requestForAgency(managerId: string, agencyId: string, amount: bigint): Promise<Payout> {
    await this.deps.agencies.requireManager(managerId, agencyId);
    await this.checkAmount(amount);
    return this.request({ kind: 'agency', id: agencyId }, managerId, amount);
  }

  async get(id: string): Promise<Payout> {
    const payout = await this.deps.repo.find(id);
    if (!payout) throw notFound('Payout');
    return payout;
  }

  async listForOwner(owner: PayoutOwner, limit: number, before: bigint | undefined): Promise<Payout[]> {
    return this.deps.repo.listForOwner(owner.kind, owner.id, limit, before);
  }

  async listByStatus(
    status: PayoutStatus | null,
    limit: number,
    after: bigint | undefined,
  ): Promise<Payout[]> {
    return this.deps.repo.listByStatus(status, limit, after);
  }

  /** The payout part of the account's data export: the streamer's requests, newest first. */
  async exportFor(userId: string): Promise<Array<Record<string, unknown>>> {
    const payouts = await this.deps.repo.listForOwner('user', userId, 100_000, undefined);
    return payouts.map((p) => ({
      id: p.id,
      amount: p.amount.toString(),
      status: p.status,
      reason: p.reason,
      reference: p.reference,
      decidedAt: p.decidedAt?.toISOString() ?? null,
      createdAt: p.createdAt.toISOString(),
    }));
  }

  async approve(actor: StaffActor, id: string): Promise<Payout> {
    return this.decide(actor, id, ['requested'], 'approved', {});
  }

  async reject(actor: StaffActor, id: string, reason: string): Promise<Payout> {
    if (!reason.trim()) throw badInput('A rejection needs a reason', { field: 'reason' });
    return this.decide(actor, id, ['requested', 'approved'], 'rejected', { reason }, (tx, payout) =>
      this.deps.ledger.post(tx, {
        idempotencyKey: `payout:${payout.id}:return`,
        kind: 'payout_return',
        postings: [
          { account: accounts.payoutsInFlight, amount: -payout.amount },
          { account: accounts.earningsAvailable(payout.owner), amount: payout.amount },
        ],
        metadata: { payoutId: payout.id },
        actorId: actor.principal.userId,
      }),
    );
  }

  async markPaid(actor: StaffActor, id: string, reference: string): Promise<Payout> {
    if (!reference.trim())
      throw badInput('A paid payout needs the transfer reference', { field: 'reference' });
    return this.decide(actor, id, ['approved'], 'paid', { reference }, (tx, payout) =>
      this.deps.ledger.post(tx, {
        idempotencyKey: `payout:${payout.id}:settle`,
        kind: 'payout_settle',
        postings: [
          { account: accounts.payoutsInFlight, amount: -payout.amount },
          { account: accounts.payoutsSettled, amount: payout.amount },
        ],
        metadata: { payoutId: payout.id, reference },
        actorId: actor.principal.userId,
      }),
    );
  }

  private async checkAmount(amount: bigint): Promise<void> {
    if (amount <= 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw badInput('amount must be a positive number of coins', { field: 'amount' });
    }
    const minimum = BigInt(await this.deps.settings.get('payout.minimum_coins'));
    if (amount < minimum) {
      throw badInput(`The smallest payout is ${minimum} coins`, {
        field: 'amount',
        minimum: Number(minimum),
      });
    }
  }

  private async request(owner: PayoutOwner, requestedBy: string, amount: bigint): Promise<Payout> {
    try {
      return await withTransaction(this.deps.db, async (tx) => {
        // The row first: a concurrent second request waits on the one-open index, then fails on it.
        const payout = await this.deps.repo.insert(tx, {
          ownerKind: owner.kind,
          ownerId: owner.id,
          requestedBy,
          amount,
          at: this.deps.clock.now(),
        });
        // INSUFFICIENT_FUNDS here rolls the row back with everything else.
        await this.deps.ledger.post(tx, {
          idempotencyKey: `payout:${payout.id}:hold`,
          kind: 'payout_hold',
          postings: [
            { account: accounts.earningsAvailable(owner), amount: -amount },
            { account: accounts.payoutsInFlight, amount },
          ],
          metadata: { payoutId: payout.id },
          actorId: requestedBy,
        });
        await this.deps.eventLog.emit(
          tx,
          payoutRequested.event(
            { payoutId: payout.id, owner, requestedBy, amount: Number(amount) },
            { userId: requestedBy },
          ),
        );
        return payout;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'payouts_one_open')) throw conflict('A payout request is already open');
      throw error;
    }
  }

  private async decide(
    actor: StaffActor,
    id: string,
    from: PayoutStatus[],
    status: 'approved' | 'rejected' | 'paid',
    details: { reason?: string; reference?: string },
    post?: (tx: Tx, payout: Payout & { owner: PayoutOwner }) => Promise<LedgerReceipt>,
  ): Promise<Payout> {
    return withTransaction(this.deps.db, async (tx) => {
      const before = await this.deps.repo.lock(tx, id);
      if (!before) throw notFound('Payout');
      if (!from.includes(before.status)) {
        throw conflict(`The payout is ${before.status}; it cannot become ${status}`);
      }
      const owner: PayoutOwner = { kind: before.ownerKind, id: before.ownerId };
      if (post) await post(tx, { ...before, owner });
      const after = await this.deps.repo.setStatus(tx, id, {
        status,
        ...details,
        decidedBy: actor.principal.userId,
        at: this.deps.clock.now(),
      });
      await this.deps.audit.record(tx, actor, {
        action: `payout.${status}`,
        targetType: 'payout',
        targetId: id,
        before: { status: before.status, amount: before.amount.toString(), owner },
        after: { status, amount: after.amount.toString(), owner, reference: after.reference },
        reason: details.reason ?? null,
      });
      await this.deps.eventLog.emit(
        tx,
        payoutStatusChanged.event(
          {
            payoutId: id,
            owner,
            requestedBy: before.requestedBy,
            amount: Number(before.amount),
            from: before.status as 'requested' | 'approved',
            status,
            reason: after.reason,
            reference: after.reference,
          },
          { userId: before.requestedBy },
        ),
      );
      return after;
    });
  }
}
