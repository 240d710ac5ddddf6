import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, notFound } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { EarningsSplit } from '../balance/earnings-split.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { balanceRunningLow } from './billing.events.ts';
import type {
  BillingCharge,
  BillingRepository,
  BillingSession,
  TariffVersion,
} from './billing.repository.ts';
import { type BillingLedger, chargeCheckpoint } from './checkpoint-charge.ts';
import { billingJobKey, cutOff, emitSessionEnded } from './session-end.ts';

import type { TariffService } from './tariff.service.ts';
import {
  CALL_KINDS,
  type CallKind,
  chargesUpTo,
  checkpointsFrom,
  firstUnaffordable,
  type Tariff,
  type TariffCheckpoint,
} from './tariff.ts';

export const BILLING_CHECKPOINT_JOB = 'billing.checkpoint';

export type StartInput = {
  callId: string;
  kind: CallKind;
  payerId: string;
  earnerId: string;
  connectedAt: Date;
};

export type CanStart = {
  allowed: boolean;
  /** What the payer is charged up to the first stretch (setting billing.first_stretch_seconds). */
  needed: bigint;
  balance: bigint;
  tariffVersionId: bigint;
};

export type SessionView = BillingSession & { tariff: TariffVersion; charges: BillingCharge[] };

// A session whose work is this overdue is picked up by the reconciler (the job should have run it).
const RECONCILE_GRACE_MS = 3_000;
const RECONCILE_BATCH = 500;
// Bounds one runDue: a call more checkpoints behind than this continues on its next job run.
const MAX_CATCH_UP_ROUNDS = 1_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const dueAt = (session: BillingSession, second: number) =>
  new Date(session.connectedAt.getTime() + second * 1000);

/**
 * Bills connected calls checkpoint by checkpoint. Each checkpoint is one ledger transaction (key
 * `call:{callId}:cp:{n}`) plus one billing.charges row, written under the session's row lock, so a
 * checkpoint is charged at most once whoever runs it (the durable job, the reconciler, `stop`).
 */
export class BillingService {
  private readonly deps: {
    db: Db;
    repo: BillingRepository;
    tariffs: TariffService;
    ledger: BillingLedger;
    earningsSplit: EarningsSplit;
    eventLog: EventLog;
    jobs: Pick<JobQueue, 'schedule' | 'cancel'>;
    settings: Pick<SettingsService, 'get'>;
    clock: Clock;
    logger: Logger;
  };

  constructor(deps: BillingService['deps']) {
    this.deps = deps;
  }

  /** Whether the payer's wallet covers the first stretch of a `kind` call under the tariff that applies to them. */
  async canStart(payerId: string, kind: CallKind, tx?: Tx): Promise<CanStart> {
    const tariff = await this.deps.tariffs.resolveFor(payerId, kind, tx);
    const stretch = await this.deps.settings.get('billing.first_stretch_seconds');
    const needed = chargesUpTo(tariff.tariff, stretch).payer;
    const wallet = await this.deps.ledger.wallet(payerId, tx);
    return {
      allowed: !wallet.inDebt && wallet.total >= needed,
      needed,
      balance: wallet.total,
      tariffVersionId: tariff.id,
    };
  }

  /**
   * Starts billing a call that just connected, in the caller's transaction: INSUFFICIENT_FUNDS when the
   * payer cannot afford the first stretch. Charges what is already due (checkpoint 0 at second 0) and
   * schedules the next checkpoint. Starting a call twice returns the existing session.
   */
  async start(tx: Tx, input: StartInput): Promise<BillingSession> {
    if (!(CALL_KINDS as readonly string[]).includes(input.kind))
      throw badInput('Unknown call kind', { field: 'kind' });
    for (const field of ['callId', 'payerId', 'earnerId'] as const) {
      if (!UUID.test(input[field])) throw badInput(`${field} must be an id`, { field });
    }
    if (input.payerId === input.earnerId)
      throw badInput('A payer cannot be billed for a call with themselves');
    const existing = await this.deps.repo.lockSession(tx, input.callId);
    if (existing) {
      const same =
        existing.kind === input.kind &&
        existing.payerId === input.payerId &&
        existing.earnerId === input.earnerId;
      if (!same) throw conflict('This call is already billed with other parties');
      return existing;
    }
    const check = await this.canStart(input.payerId, input.kind, tx);
    if (!check.allowed) {
      throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins to start this call', {
        needed: check.needed.toString(),
        balance: check.balance.toString(),
      });
    }
    const now = this.deps.clock.now();
    await this.deps.repo.insertSession(tx, { ...input, tariffVersionId: check.tariffVersionId, at: now });
    const session = await this.deps.repo.lockSession(tx, input.callId);
    if (!session) throw new Error(`billing session ${input.callId} vanished`);
    const runUntil = new Date(Math.max(now.getTime(), input.connectedAt.getTime()));
    // At most one checkpoint here (see stop); a call that connected long ago catches up on its job.
    return this.advance(tx, session, runUntil, 'run', 1);
  }

  /**
   * Ends a call's billing at `endedAt`: every checkpoint the connected time reached is charged (if not
   * yet), nothing after it; the pending job is cancelled. Stopping again changes nothing.
   */
  async stop(tx: Tx, callId: string, endedAt: Date, reason: string): Promise<BillingSession> {
    const session = await this.deps.repo.lockSession(tx, callId);
    if (!session) throw notFound('Billing session');
    if (session.status !== 'live') return session;
    if (endedAt.getTime() < session.connectedAt.getTime()) {
      throw badInput('endedAt is before the call connected', { field: 'endedAt' });
    }
    const version = await this.deps.tariffs.versionById(session.tariffVersionId, tx);
    if (!version) throw new Error(`tariff version ${session.tariffVersionId} is missing`);
    let outstanding = 0;
    for (const checkpoint of checkpointsFrom(version.tariff, session.nextN)) {
      if (dueAt(session, checkpoint.second).getTime() > endedAt.getTime() || ++outstanding > 1) break;
    }
    if (outstanding > 1) {
      // Billing is behind (a crash, an overloaded worker). Several ledger postings in the caller's
      // transaction could deadlock with others doing the same, so the checkpoint job charges them,
      // one transaction each, at once; the session is 'ending' until then.
      const now = this.deps.clock.now();
      await this.deps.repo.updateSession(tx, callId, {
        status: 'ending',
        endedAt,
        endReason: reason,
        nextRunAt: now,
      });
      await this.deps.jobs.schedule(
        tx,
        BILLING_CHECKPOINT_JOB,
        { callId, n: session.nextN },
        { runAt: now, jobKey: billingJobKey(callId) },
      );
      return { ...session, status: 'ending', endedAt, endReason: reason, nextRunAt: now };
    }
    const after = await this.advance(tx, session, endedAt, 'stop');
    if (after.status !== 'live') return after;
    return this.finish(tx, { ...after, endedAt, endReason: reason });
  }

  /** Marks the session ended at its endedAt, cancels its job and announces the totals. */
  private async finish(tx: Tx, session: BillingSession): Promise<BillingSession> {
    const ended: BillingSession = { ...session, status: 'ended', nextRunAt: null };
    await this.deps.repo.updateSession(tx, session.callId, {
      status: 'ended',
      ...(session.endedAt ? { endedAt: session.endedAt } : {}),
      ...(session.endReason ? { endReason: session.endReason } : {}),
      nextRunAt: null,
    });
    await this.deps.jobs.cancel(tx, billingJobKey(session.callId));
    await emitSessionEnded(this.deps.eventLog, tx, ended);
    return ended;
  }

  /** One step of an 'ending' session: the next checkpoint its connected time reached, or the end. */
  private async continueEnding(tx: Tx, session: BillingSession): Promise<BillingSession> {
    const endedAt = session.endedAt ?? this.deps.clock.now();
    const after = await this.advance(tx, session, endedAt, 'stop', 1);
    if (after.status !== 'ending') return after;
    const version = await this.deps.tariffs.versionById(after.tariffVersionId, tx);
    const next = version && checkpointsFrom(version.tariff, after.nextN).next();
    if (next && !next.done && dueAt(after, next.value.second).getTime() <= endedAt.getTime()) {
      // When that work became due (never later than now), so runDue's loop goes straight on.
      const due = dueAt(after, next.value.second);
      const now = this.deps.clock.now();
      const nextRunAt = due.getTime() < now.getTime() ? due : now;
      await this.deps.repo.updateSession(tx, after.callId, { nextRunAt });
      return { ...after, nextRunAt };
    }
    return this.finish(tx, after);
  }

  /**
   * Seconds from now that the payer's wallet keeps a call going: until the first checkpoint it cannot
   * cover, at most `horizonSeconds`. For a call that is not billed yet, counted from its connection
   * (so 0 means it could not even start). What video tokens' privileges are limited to.
   */
  async affordableSeconds(
    call: { callId: string; payerId: string; kind: CallKind },
    horizonSeconds = 3600,
  ): Promise<number> {
    const session = await this.deps.repo.session(call.callId);
    const live = session && (session.status === 'live' || session.status === 'ending');
    const tariff = live
      ? await this.deps.tariffs.versionById(session.tariffVersionId)
      : await this.deps.tariffs.resolveFor(call.payerId, call.kind);
    if (!tariff) throw new Error(`tariff version ${session?.tariffVersionId} is missing`);
    const wallet = await this.deps.ledger.wallet(call.payerId);
    if (session && !live) return 0;
    const elapsed = session
      ? Math.max(0, (this.deps.clock.now().getTime() - session.connectedAt.getTime()) / 1000)
      : 0;
    const balance = wallet.inDebt ? -1n : wallet.total;
    const short = firstUnaffordable(tariff.tariff, session?.nextN ?? 0, balance, elapsed + horizonSeconds);
    if (!short) return horizonSeconds;
    return Math.max(0, Math.floor(short.checkpoint.second - elapsed));
  }

  /** The call's billing: totals, tariff version and every charged checkpoint. */
  async session(callId: string): Promise<SessionView | undefined> {
    const session = await this.deps.repo.session(callId);
    if (!session) return undefined;
    const [tariff, charges] = await Promise.all([
      this.deps.tariffs.versionById(session.tariffVersionId),
      this.deps.repo.charges(callId),
    ]);
    if (!tariff) throw new Error(`tariff version ${session.tariffVersionId} is missing`);
    return { ...session, tariff, charges };
  }

  /**
   * Does whatever is due for one call now: charges the checkpoints its connected time reached, cuts
   * it off when the wallet cannot pay, sends the low-balance warning, schedules the next run. The
   * checkpoint job and the reconciler both come here.
   */
  async runDue(callId: string): Promise<BillingSession | undefined> {
    // One checkpoint per database transaction: the ledger picks a random shard of the platform
    // account per posting, so several postings in one transaction could deadlock with another such
    // transaction. A call that is behind (after a crash) catches up one short transaction at a time.
    for (let round = 0; ; round++) {
      const now = this.deps.clock.now();
      const session = await withTransaction(this.deps.db, async (tx) => {
        const locked = await this.deps.repo.lockSession(tx, callId);
        if (locked?.status === 'ending') return this.continueEnding(tx, locked);
        if (locked?.status !== 'live') return locked;
        return this.advance(tx, locked, now, 'run', 1);
      });
      const pending = session?.status === 'live' || session?.status === 'ending';
      const behind = pending && session.nextRunAt !== null && session.nextRunAt <= now;
      if (!behind || round >= MAX_CATCH_UP_ROUNDS) return session;
    }
  }

  /**
   * Catches up live sessions whose work is overdue: after a crash their job may sit locked by a dead
   * worker for hours. Runs them through `runDue`, which also reschedules their job.
   */
  async reconcile(): Promise<{ sessions: number; failed: number }> {
    const dueBy = new Date(this.deps.clock.now().getTime() - RECONCILE_GRACE_MS);
    const ids = await this.deps.repo.overdueSessions(dueBy, RECONCILE_BATCH);
    let failed = 0;
    for (const callId of ids) {
      try {
        await this.runDue(callId);
      } catch (error) {
        failed++;
        this.deps.logger.error({ err: error, callId }, 'billing: reconciling a session failed');
      }
    }
    return { sessions: ids.length, failed };
  }

  /**
   * Charges every checkpoint due by `until` (in order, stopping at the first the payer cannot pay),
   * then, in 'run' mode, handles the warning and schedules the next run. The session row is locked.
   */
  private async advance(
    tx: Tx,
    start: BillingSession,
    until: Date,
    mode: 'run' | 'stop',
    maxCharges = Number.POSITIVE_INFINITY,
  ): Promise<BillingSession> {
    const version = await this.deps.tariffs.versionById(start.tariffVersionId, tx);
    if (!version) throw new Error(`tariff version ${start.tariffVersionId} is missing`);
    let session = { ...start };
    let next: TariffCheckpoint | undefined;
    const upcoming = checkpointsFrom(version.tariff, session.nextN);
    let charges = 0;
    for (;;) {
      const step = upcoming.next();
      if (step.done) break;
      const checkpoint = step.value;
      const due = dueAt(session, checkpoint.second);
      if (due.getTime() > until.getTime() || charges >= maxCharges) {
        next = checkpoint;
        break;
      }
      const charged = await chargeCheckpoint(this.deps, tx, session, checkpoint, due);
      if (!charged) return cutOff(this.deps, tx, session, checkpoint, due);
      charges++;
      session = {
        ...session,
        nextN: checkpoint.n + 1,
        charged: session.charged + checkpoint.payer,
        earned: session.earned + checkpoint.earner,
        checkpointsCharged: session.checkpointsCharged + 1,
      };
    }
    const patch = {
      nextN: session.nextN,
      charged: session.charged,
      earned: session.earned,
      checkpointsCharged: session.checkpointsCharged,
    };
    if (mode === 'stop') {
      await this.deps.repo.updateSession(tx, session.callId, patch);
      return session;
    }
    let nextRunAt = next ? dueAt(session, next.second) : null;
    if (next && !session.lowBalanceWarnedAt) {
      const warnAt = await this.warningDue(tx, session, version.tariff, next);
      if (warnAt && warnAt.at.getTime() <= until.getTime()) {
        session = { ...session, lowBalanceWarnedAt: until };
        await this.deps.eventLog.emit(
          tx,
          balanceRunningLow.event(
            {
              callId: session.callId,
              checkpoint: warnAt.checkpoint.n,
              second: warnAt.checkpoint.second,
              secondsLeft: Math.max(
                0,
                Math.round((dueAt(session, warnAt.checkpoint.second).getTime() - until.getTime()) / 1000),
              ),
              balance: warnAt.balance.toString(),
              needed: warnAt.needed.toString(),
            },
            { userId: session.payerId },
          ),
        );
      } else if (warnAt && nextRunAt && warnAt.at.getTime() < nextRunAt.getTime()) {
        nextRunAt = warnAt.at;
      }
    }
    session = { ...session, nextRunAt };
    await this.deps.repo.updateSession(tx, session.callId, {
      ...patch,
      nextRunAt,
      ...(session.lowBalanceWarnedAt ? { lowBalanceWarnedAt: session.lowBalanceWarnedAt } : {}),
    });
    if (next && nextRunAt) {
      await this.deps.jobs.schedule(
        tx,
        BILLING_CHECKPOINT_JOB,
        { callId: session.callId, n: next.n },
        { runAt: nextRunAt, jobKey: billingJobKey(session.callId) },
      );
    } else {
      // A finite tariff ran out: nothing more to charge for this call.
      await this.deps.jobs.cancel(tx, billingJobKey(session.callId));
    }
    return session;
  }

  /**
   * When to warn: `warning` seconds before the first upcoming checkpoint the wallet cannot cover. Only
   * checkpoints whose warning falls before the next checkpoint are looked at: the next run looks again
   * (with the wallet as it is then).
   */
  private async warningDue(tx: Tx, session: BillingSession, tariff: Tariff, next: TariffCheckpoint) {
    const warning = await this.deps.settings.get('billing.low_balance_warning_seconds');
    if (warning <= 0) return undefined;
    const wallet = await this.deps.ledger.wallet(session.payerId, tx);
    const balance = wallet.inDebt ? 0n : wallet.total;
    const short = firstUnaffordable(tariff, next.n, balance, next.second + warning);
    if (!short) return undefined;
    return { ...short, at: dueAt(session, short.checkpoint.second - warning), balance };
  }
}
