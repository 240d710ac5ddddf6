import type { Principal } from '../../platform/auth/principal.ts';
import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerPosting } from '../balance/balance.accounts.ts';
import type { EarningsSplit } from '../balance/earnings-split.ts';
import type { Agency, AgencyManager, AgencyMembership, AgencyRepository } from './agency.repository.ts';
import type { AuditActor, AuditLog } from './audit-log.ts';

const isUniqueViolation = (error: unknown, constraint: string) =>
  (error as { code?: unknown })?.code === '23505' &&
  (error as { constraint?: unknown }).constraint === constraint;

export type StaffActor = AuditActor & { principal: Principal };

export type Earnings = { pending: bigint; available: bigint };

/** What agencies read from the ledger: balances now, and coins credited to earnings over a period. */
export type AgencyLedgerReader = {
  earnings(owner: { kind: 'user' | 'agency'; id: string }): Promise<Earnings>;
  /** Coins credited to each owner's pending earnings in its window [from, to), keyed by the request's index. */
  earnedBetween(
    requests: ReadonlyArray<{ owner: { kind: 'user' | 'agency'; id: string }; from: Date; to: Date }>,
  ): Promise<bigint[]>;
};

export type AgencyUsers = {
  getUser(id: string): Promise<{ id: string; roles: Role[]; deletedAt: Date | null }>;
};

export type AgencyStreamerReport = {
  streamerId: string;
  /** When the streamer's latest membership in the period started, and ended (null: still a member). */
  since: Date;
  until: Date | null;
  earnings: Earnings;
  /** Coins the streamer earned (their own share) while a member, within the period. */
  earnedInPeriod: bigint;
};

export type AgencyReport = {
  agency: Agency;
  from: Date;
  to: Date;
  earnings: Earnings;
  /** The agency's own share credited within the period. */
  earnedInPeriod: bigint;
  streamers: AgencyStreamerReport[];
};

/**
 * The share of `amount` that goes to an agency taking `shareBps` basis points: rounded down, so the
 * streamer keeps the rounding.
 */
export function agencyShare(amount: bigint, shareBps: number): bigint {
  if (amount < 0n) throw new Error('earnings to split must not be negative');
  return (amount * BigInt(shareBps)) / 10_000n;
}

/**
 * Agencies: companies that recruit streamers and take a share of what they earn. A streamer belongs to
 * at most one agency at a time (memberships keep the history); agency managers are ordinary accounts
 * linked to one agency, allowed to see its numbers. Every staff change is audited.
 */
export class AgencyService {
  private readonly deps: {
    db: Db;
    repo: AgencyRepository;
    audit: AuditLog;
    clock: Clock;
    users: AgencyUsers;
    ledger: AgencyLedgerReader;
  };

  constructor(deps: AgencyService['deps']) {
    this.deps = deps;
  }

  /** The `EarningsSplit` the ledger's earners are credited through (wired as `services.earningsSplit`). */
  readonly earningsSplit: EarningsSplit = (tx, streamerId, amount) =>
    this.earningsPostings(tx, streamerId, amount);

  /**
   * Credits `amount` earned by a streamer: the agency's share (floor) to the agency's pending earnings
   * when the streamer belongs to an active agency, the rest to the streamer's. Read in the caller's
   * transaction so the split matches the membership at the moment of the charge.
   */
  async earningsPostings(tx: Tx, streamerId: string, amount: bigint): Promise<LedgerPosting[]> {
    if (amount < 0n) throw new Error('earnings to split must not be negative');
    if (amount === 0n) return [];
    const membership = await this.deps.repo.currentMembership(tx, streamerId);
    const share = membership?.agency.active ? agencyShare(amount, membership.agency.shareBps) : 0n;
    const postings: LedgerPosting[] = [];
    if (amount - share > 0n) {
      postings.push({
        account: accounts.earningsPending({ kind: 'user', id: streamerId }),
        amount: amount - share,
      });
    }
    if (membership && share > 0n) {
      postings.push({
        account: accounts.earningsPending({ kind: 'agency', id: membership.agencyId }),
        amount: share,
      });
    }
    return postings;
  }

  async get(id: string): Promise<Agency> {
    const agency = await this.deps.repo.find(id);
    if (!agency) throw notFound('Agency');
    return agency;
  }

  async list(limit: number, after: bigint | undefined): Promise<Agency[]> {
    return this.deps.repo.list(limit, after);
  }

  async currentMembers(agencyId: string): Promise<AgencyMembership[]> {
    return this.deps.repo.currentMembers(agencyId);
  }

  async managers(agencyId: string): Promise<AgencyManager[]> {
    return this.deps.repo.managers(agencyId);
  }

  async membershipsOf(streamerId: string): Promise<AgencyMembership[]> {
    return this.deps.repo.membershipsOfStreamer(streamerId);
  }

  /** The agency this account manages, if any. */
  async managedAgency(userId: string): Promise<Agency | undefined> {
    const agencyId = await this.deps.repo.managedBy(userId);
    return agencyId ? this.deps.repo.find(agencyId) : undefined;
  }

  /** The permission behind every agency read by a manager: "is a manager of this agency". */
  async requireManager(userId: string, agencyId: string): Promise<void> {
    if ((await this.deps.repo.managedBy(userId)) !== agencyId)
      throw forbidden('You do not manage this agency');
  }

  async create(
    actor: StaffActor,
    input: { name: string; shareBps: number; active?: boolean },
  ): Promise<Agency> {
    validateShare(input.shareBps);
    return this.uniqueName(() =>
      withTransaction(this.deps.db, async (tx) => {
        const agency = await this.deps.repo.insert(tx, {
          name: input.name,
          shareBps: input.shareBps,
          active: input.active ?? true,
          at: this.deps.clock.now(),
        });
        await this.deps.audit.record(tx, actor, {
          action: 'agency.created',
          targetType: 'agency',
          targetId: agency.id,
          after: snapshot(agency),
        });
        return agency;
      }),
    );
  }

  async update(
    actor: StaffActor,
    id: string,
    patch: { name?: string | null; shareBps?: number | null; active?: boolean | null },
  ): Promise<Agency> {
    if (patch.shareBps !== undefined && patch.shareBps !== null) validateShare(patch.shareBps);
    return this.uniqueName(() =>
      withTransaction(this.deps.db, async (tx) => {
        const before = await this.deps.repo.lock(tx, id);
        if (!before) throw notFound('Agency');
        const after = await this.deps.repo.update(tx, id, {
          name: patch.name ?? before.name,
          shareBps: patch.shareBps ?? before.shareBps,
          active: patch.active ?? before.active,
          at: this.deps.clock.now(),
        });
        await this.deps.audit.record(tx, actor, {
          action: 'agency.updated',
          targetType: 'agency',
          targetId: id,
          before: snapshot(before),
          after: snapshot(after),
        });
        return after;
      }),
    );
  }

  /** Puts a streamer in the agency, ending their membership in another one (a move). */
  async assignStreamer(actor: StaffActor, agencyId: string, streamerId: string): Promise<AgencyMembership> {
    const user = await this.deps.users.getUser(streamerId);
    if (user.deletedAt || !user.roles.includes('streamer')) {
      throw badInput('Only streamers can belong to an agency', { field: 'streamerId' });
    }
    try {
      return await withTransaction(this.deps.db, async (tx) => {
        const agency = await this.deps.repo.lock(tx, agencyId);
        if (!agency) throw notFound('Agency');
        const current = await this.deps.repo.currentMembership(tx, streamerId);
        if (current?.agencyId === agencyId) throw conflict('The streamer already belongs to this agency');
        const at = this.deps.clock.now();
        const by = actor.principal.userId;
        if (current) await this.deps.repo.endMembership(tx, current.id, at, by);
        const membership = await this.deps.repo.startMembership(tx, { agencyId, streamerId, at, by });
        await this.deps.audit.record(tx, actor, {
          action: 'agency.streamer_assigned',
          targetType: 'user',
          targetId: streamerId,
          before: { agencyId: current?.agencyId ?? null },
          after: { agencyId },
        });
        return membership;
      });
    } catch (error) {
      // Two assignments of one streamer at once: the partial unique index lets one through.
      if (isUniqueViolation(error, 'agency_memberships_current'))
        throw conflict('The streamer was assigned to an agency concurrently');
      throw error;
    }
  }

  async removeStreamer(actor: StaffActor, agencyId: string, streamerId: string): Promise<void> {
    await withTransaction(this.deps.db, async (tx) => {
      const current = await this.deps.repo.currentMembership(tx, streamerId);
      if (current?.agencyId !== agencyId) throw notFound('Membership of this streamer in this agency');
      await this.deps.repo.endMembership(tx, current.id, this.deps.clock.now(), actor.principal.userId);
      await this.deps.audit.record(tx, actor, {
        action: 'agency.streamer_removed',
        targetType: 'user',
        targetId: streamerId,
        before: { agencyId },
        after: { agencyId: null },
      });
    });
  }

  async addManager(actor: StaffActor, agencyId: string, userId: string): Promise<void> {
    const user = await this.deps.users.getUser(userId);
    if (user.deletedAt) throw badInput('The account was deleted', { field: 'userId' });
    await withTransaction(this.deps.db, async (tx) => {
      if (!(await this.deps.repo.lock(tx, agencyId))) throw notFound('Agency');
      const added = await this.deps.repo.addManager(tx, {
        agencyId,
        userId,
        by: actor.principal.userId,
        at: this.deps.clock.now(),
      });
      if (!added) throw conflict('The account already manages an agency');
      await this.deps.audit.record(tx, actor, {
        action: 'agency.manager_added',
        targetType: 'agency',
        targetId: agencyId,
        after: { managerId: userId },
      });
    });
  }

  async removeManager(actor: StaffActor, agencyId: string, userId: string): Promise<void> {
    await withTransaction(this.deps.db, async (tx) => {
      if (!(await this.deps.repo.removeManager(tx, agencyId, userId))) throw notFound('Agency manager');
      await this.deps.audit.record(tx, actor, {
        action: 'agency.manager_removed',
        targetType: 'agency',
        targetId: agencyId,
        before: { managerId: userId },
      });
    });
  }

  /**
   * The agency's numbers over [from, to): its own earnings, and each streamer who was a member at some
   * point of the period with what they earned while a member.
   */
  async report(agencyId: string, from: Date, to: Date): Promise<AgencyReport> {
    if (to <= from) throw badInput('`to` must be after `from`', { field: 'to' });
    const agency = await this.get(agencyId);
    const memberships = await this.deps.repo.memberships(agencyId, { from, to });
    const windows = memberships.map((m) => ({
      owner: { kind: 'user' as const, id: m.streamerId },
      from: m.startedAt > from ? m.startedAt : from,
      to: m.endedAt && m.endedAt < to ? m.endedAt : to,
    }));
    // The agency's own window goes last in the same read.
    const [earnedByWindow, agencyEarnings] = await Promise.all([
      this.deps.ledger.earnedBetween([...windows, { owner: { kind: 'agency', id: agencyId }, from, to }]),
      this.deps.ledger.earnings({ kind: 'agency', id: agencyId }),
    ]);
    const byStreamer = new Map<string, AgencyStreamerReport>();
    memberships.forEach((m, i) => {
      const earned = earnedByWindow[i] ?? 0n;
      const seen = byStreamer.get(m.streamerId);
      if (seen) {
        seen.earnedInPeriod += earned;
        seen.since = m.startedAt;
        seen.until = m.endedAt;
      } else {
        byStreamer.set(m.streamerId, {
          streamerId: m.streamerId,
          since: m.startedAt,
          until: m.endedAt,
          earnings: { pending: 0n, available: 0n },
          earnedInPeriod: earned,
        });
      }
    });
    const streamers = [...byStreamer.values()];
    await Promise.all(
      streamers.map(async (s) => {
        s.earnings = await this.deps.ledger.earnings({ kind: 'user', id: s.streamerId });
      }),
    );
    return {
      agency,
      from,
      to,
      earnings: agencyEarnings,
      earnedInPeriod: earnedByWindow[windows.length] ?? 0n,
      streamers,
    };
  }

  private async uniqueName<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isUniqueViolation(error, 'agencies_name'))
        throw conflict('An agency with this name already exists');
      throw error;
    }
  }
}

function validateShare(shareBps: number): void {
  if (!Number.isInteger(shareBps) || shareBps < 0 || shareBps > 10_000) {
    throw badInput('shareBps must be an integer from 0 to 10000', { field: 'shareBps' });
  }
}

const snapshot = (a: Agency) => ({ name: a.name, shareBps: a.shareBps, active: a.active });
