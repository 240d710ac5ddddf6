import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import type { CallSide } from '../../providers/video/video.provider.ts';
import type { BillingService } from '../billing/billing.service.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { Availability } from '../user/presence/presence.tables.ts';
import { callEnded } from './call.events.ts';
import type { CallPatch, CallRecord, CallRepository } from './call.repository.ts';
import { type CallChannelMessage, callChannel, connectedSeconds, sideOf } from './call-party.ts';
import {
  type CallAction,
  type EndedBy,
  type EndReason,
  IllegalTransition,
  transition,
} from './call-state.ts';
import type { ProviderSelector } from './provider-selector.ts';

export const CALL_DEADLINE_JOB = 'video.call_deadline';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const asAppError = (error: unknown): never => {
  if (error instanceof IllegalTransition) throw conflict(error.message);
  throw error;
};

export const callJobKey = (callId: string) => `video:call:${callId}`;

export type Presence = {
  setAvailability(userId: string, availability: Availability, tx?: Tx): Promise<unknown>;
  getPresence(
    userIds: readonly string[],
    tx?: Tx,
  ): Promise<Array<{ userId: string; availability: Availability }>>;
};

export type CallBilling = Pick<BillingService, 'canStart' | 'start' | 'stop' | 'affordableSeconds'>;

export type EngineDeps = {
  db: Db;
  repo: CallRepository;
  selector: ProviderSelector;
  billing: CallBilling;
  presence: Presence;
  eventLog: EventLog;
  jobs: Pick<JobQueue, 'schedule' | 'cancel'>;
  settings: Pick<SettingsService, 'get'>;
  pubsub: Pick<PubSub, 'publish'>;
  clock: Clock;
  logger: Logger;
};

/** What one change did, handed to the work after commit (realtime hints, vendor clean-up). */
export type AfterCommit = { published: CallRecord[]; roomsToEnd: Array<{ provider: string; room: string }> };

/**
 * The transactional core of calls: every change runs under the call's row lock, checks the move
 * with the pure state machine, records the transition, keeps the call's timer job in step, and —
 * only after the commit — tells both sides (a rolled-back change is never announced).
 */
export class CallEngine {
  readonly deps: EngineDeps;

  constructor(deps: EngineDeps) {
    this.deps = deps;
  }

  now(): Date {
    return this.deps.clock.now();
  }

  /**
   * Runs `work` on the locked call in a transaction, then announces every call it changed. `work`
   * returns the call as it should be reported.
   */
  async change<T>(work: (tx: Tx, after: AfterCommit) => Promise<T>): Promise<T> {
    const after: AfterCommit = { published: [], roomsToEnd: [] };
    const result = await withTransaction(this.deps.db, async (tx) => {
      after.published = [];
      after.roomsToEnd = [];
      return work(tx, after);
    });
    await this.announce(after);
    return result;
  }

  /** Applies a state-machine action and its column changes; records the transition. */
  async apply(
    tx: Tx,
    after: AfterCommit,
    call: CallRecord,
    action: CallAction,
    patch: CallPatch,
    actor: string,
    detail?: object,
  ): Promise<CallRecord> {
    const next = transition(call.state, action);
    if (next.state === 'ended') {
      const endedBy: EndedBy =
        action.type === 'cancel'
          ? 'caller'
          : action.type === 'decline'
            ? 'callee'
            : action.type === 'hangup'
              ? action.by
              : 'system';
      return this.end(
        tx,
        after,
        call,
        next.reason ?? 'error',
        actor === 'staff' ? 'staff' : endedBy,
        patch.end_note ?? null,
        detail,
      );
    }
    const updated = await this.deps.repo.update(tx, call.id, { ...patch, state: next.state });
    await this.deps.repo.addTransition(tx, {
      callId: call.id,
      state: next.state,
      reason: null,
      actor,
      at: this.now(),
      ...(detail ? { detail } : {}),
    });
    await this.scheduleTimer(tx, updated);
    after.published.push(updated);
    return updated;
  }

  /**
   * Ends a live call: billing stops at the end time (charging what the connected time reached),
   * both accounts are free again, the earner's availability is restored, `call_ended` is emitted.
   */
  async end(
    tx: Tx,
    after: AfterCommit,
    call: CallRecord,
    reason: EndReason,
    endedBy: EndedBy,
    note: string | null,
    detail?: object,
  ): Promise<CallRecord> {
    if (call.state === 'ended') return call;
    const at = this.now();
    let charged = 0n;
    let earned = 0n;
    if (call.connectedAt) {
      const session = await this.deps.billing.stop(tx, call.id, at, reason);
      charged = session.charged;
      earned = session.earned;
    }
    const ended = await this.deps.repo.update(tx, call.id, {
      state: 'ended',
      end_reason: reason,
      ended_by: endedBy,
      end_note: note,
      ended_at: at,
      deadline_at: null,
      charged,
      earned,
    });
    await this.deps.repo.addTransition(tx, {
      callId: call.id,
      state: 'ended',
      reason,
      actor: endedBy,
      at,
      ...(detail ? { detail } : {}),
    });
    await this.deps.repo.releaseParties(tx, call.id);
    await this.deps.jobs.cancel(tx, callJobKey(call.id));
    await this.restoreAvailability(tx, ended);
    await this.deps.eventLog.emit(
      tx,
      callEnded.event({
        callId: call.id,
        kind: call.kind,
        callerId: call.callerId,
        calleeId: call.calleeId,
        payerId: call.payerId,
        earnerId: call.earnerId,
        provider: call.provider,
        callerName: call.callerName ?? 'Someone',
        reason,
        endedBy,
        answered: call.acceptedAt !== null,
        connected: call.connectedAt !== null,
        durationSeconds: connectedSeconds(ended, at),
        charged: charged.toString(),
        earned: earned.toString(),
      }),
    );
    if (call.provider && call.provider !== 'local' && call.acceptedAt) {
      after.roomsToEnd.push({ provider: call.provider, room: call.id });
    }
    after.published.push(ended);
    return ended;
  }

  /** Keeps the call's one timer job at its deadline (or removes it). */
  async scheduleTimer(tx: Tx, call: CallRecord): Promise<void> {
    if (call.state === 'ended' || !call.deadlineAt) {
      await this.deps.jobs.cancel(tx, callJobKey(call.id));
      return;
    }
    await this.deps.jobs.schedule(
      tx,
      CALL_DEADLINE_JOB,
      { callId: call.id },
      { jobKey: callJobKey(call.id), runAt: call.deadlineAt, maxAttempts: 10 },
    );
  }

  /** When a connected call next needs checking: the earliest moment a side's absence exceeds the grace. */
  connectedDeadline(call: CallRecord, graceSeconds: number): Date {
    const sides: CallSide[] = ['caller', 'callee'];
    const times = sides.map((side) => {
      const since = call.leftAt[side] ?? call.seenAt[side] ?? call.connectedAt ?? this.now();
      return since.getTime() + graceSeconds * 1000;
    });
    return new Date(Math.min(...times));
  }

  private async restoreAvailability(tx: Tx, call: CallRecord): Promise<void> {
    const prior = call.earnerPriorAvailability as Availability | null;
    if (!prior || prior === 'busy') return;
    const [current] = await this.deps.presence.getPresence([call.earnerId], tx);
    // They may have changed it themselves during the call: only undo what the call did.
    if (current?.availability === 'busy') {
      await this.deps.presence.setAvailability(call.earnerId, prior, tx);
    }
  }

  private async announce(after: AfterCommit): Promise<void> {
    const latest = new Map<string, CallRecord>();
    for (const call of after.published) latest.set(call.id, call);
    for (const call of latest.values()) {
      const message: CallChannelMessage = { type: 'call', callId: call.id, version: call.version };
      for (const userId of [call.callerId, call.calleeId]) {
        await this.deps.pubsub
          .publish(callChannel(userId), message)
          .catch((error: unknown) =>
            this.deps.logger.warn({ err: error, callId: call.id }, 'call update not published'),
          );
      }
    }
    for (const { provider, room } of after.roomsToEnd) {
      const vendor = this.deps.selector.byName(provider);
      await vendor
        ?.endRoom(room)
        .catch((error: unknown) =>
          this.deps.logger.warn(
            { err: error, provider, room },
            'video room could not be ended at the provider',
          ),
        );
    }
  }

  /** One call, for one of its sides. */
  async forSide(userId: string, callId: string): Promise<CallRecord> {
    if (!UUID.test(callId)) throw badInput('callId must be an id', { field: 'callId' });
    const call = await this.deps.repo.find(callId);
    if (!call || !sideOf(call, userId)) throw notFound('Call');
    return call;
  }

  /** Locks the call, checks the account is the side `who` allows, and runs `work`. */
  async act(
    userId: string,
    callId: string,
    who: CallSide | 'either',
    work: (tx: Tx, after: AfterCommit, call: CallRecord, side: CallSide) => Promise<CallRecord>,
  ): Promise<CallRecord> {
    if (!UUID.test(callId)) throw badInput('callId must be an id', { field: 'callId' });
    return this.change(async (tx, after) => {
      const call = await this.deps.repo.lock(tx, callId);
      const side = call ? sideOf(call, userId) : null;
      if (!call || !side) throw notFound('Call');
      if (who !== 'either' && side !== who) throw forbidden(`Only the ${who} can do this`);
      return work(tx, after, call, side);
    }).catch(asAppError);
  }
}
