import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { callRequested } from './call.events.ts';
import type { CallKind, CallRecord } from './call.repository.ts';
import type { AfterCommit, CallEngine } from './call-engine.ts';
import { type BlockCheck, type CallParties, sideOf } from './call-party.ts';
import { hangUpAction, isLive, type Termination } from './call-state.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Direct calls between a user and a streamer, on the server's clock: request, ring, accept, connect
 * (both sides joined: billing starts), and every way a call ends. See docs/video-calls.md.
 */
export class CallService {
  private readonly engine: CallEngine;
  private readonly parties: CallParties;
  private readonly blocks: BlockCheck;

  constructor(deps: { engine: CallEngine; parties: CallParties; blocks: BlockCheck }) {
    this.engine = deps.engine;
    this.parties = deps.parties;
    this.blocks = deps.blocks;
  }

  private get d() {
    return this.engine.deps;
  }

  /**
   * `callerId` calls `calleeId`. Exactly one of them must be a streamer (who earns); the other pays.
   * A callee already in a call (or busy) makes a record that ended `busy` at once.
   */
  async request(callerId: string, calleeId: string, kind: CallKind = 'direct'): Promise<CallRecord> {
    if (!UUID.test(calleeId)) throw badInput('calleeId must be an account id', { field: 'calleeId' });
    if (callerId === calleeId) throw badInput('You cannot call yourself', { field: 'calleeId' });
    const [caller, callee] = await Promise.all([
      this.parties.describe(callerId),
      this.parties.describe(calleeId),
    ]);
    if (caller?.status !== 'active') throw forbidden('Your account cannot make calls');
    if (callee?.status !== 'active') throw notFound('Account');
    const callerStreams = caller.roles.includes('streamer');
    const calleeStreams = callee.roles.includes('streamer');
    if (callerStreams === calleeStreams) {
      throw badInput('Calls are between a user and a streamer', { field: 'calleeId' });
    }
    if (await this.blocks(callerId, calleeId)) throw forbidden('You cannot call this account');
    const payerId = calleeStreams ? callerId : calleeId;
    const earnerId = calleeStreams ? calleeId : callerId;
    const afford = await this.d.billing.canStart(payerId, kind);
    if (!afford.allowed) {
      throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins to start this call', {
        needed: afford.needed.toString(),
        balance: afford.balance.toString(),
      });
    }
    const [earnerPresence] = await this.d.presence.getPresence([earnerId]);
    const ringSeconds = await this.d.settings.get('call.ring_timeout_seconds');
    const now = this.engine.now();
    const id = randomUUID();
    const base = {
      id,
      kind,
      caller_id: callerId,
      callee_id: calleeId,
      payer_id: payerId,
      earner_id: earnerId,
      requested_at: now,
    };
    return this.engine.change(async (tx, after) => {
      // The streamer must be available when they are the one called; a busy one (or one in a call) is busy.
      const calleeUnavailable = calleeStreams && earnerPresence?.availability !== 'available';
      const taken = calleeUnavailable ? [calleeId] : await this.claim(tx, id, [callerId, calleeId]);
      if (taken.length > 0) {
        const busy = await this.d.repo.insert(tx, {
          ...base,
          state: 'ended',
          end_reason: 'busy',
          ended_by: 'system',
          ended_at: now,
        });
        await this.d.repo.addTransition(tx, {
          callId: id,
          state: 'ended',
          reason: 'busy',
          actor: 'system',
          at: now,
        });
        if (taken.includes(callerId)) throw conflict('You are already in a call');
        after.published.push(busy);
        return busy;
      }
      const call = await this.d.repo.insert(tx, {
        ...base,
        state: 'requested',
        deadline_at: new Date(now.getTime() + ringSeconds * 1000),
        earner_prior_availability: earnerPresence?.availability ?? null,
        caller_name: caller.displayName,
      });
      await this.d.repo.addTransition(tx, {
        callId: id,
        state: 'requested',
        reason: null,
        actor: 'caller',
        at: now,
      });
      await this.d.presence.setAvailability(earnerId, 'busy', tx);
      await this.engine.scheduleTimer(tx, call);
      await this.d.eventLog.emit(
        tx,
        callRequested.event(
          {
            callId: id,
            kind,
            callerId,
            calleeId,
            callerName: caller.displayName ?? 'Someone',
            ringsUntil: (call.deadlineAt ?? now).toISOString(),
          },
          { userId: calleeId },
        ),
      );
      after.published.push(call);
      return call;
    });
  }

  /** Claims both accounts for call `id`; returns those already in a call (and then claims none). */
  private async claim(tx: Tx, id: string, userIds: string[]): Promise<string[]> {
    const taken = await this.d.repo.claimParties(tx, id, userIds);
    // Lost a race for one of the accounts: give back what this call claimed.
    if (taken.length > 0) await this.d.repo.releaseParties(tx, id);
    return taken;
  }

  /**
   * A call both sides already agreed to (a roulette match): no ringing, it
   * goes straight to `connecting` with a provider, in the caller's transaction (the matcher's).
   * Returns undefined, writing nothing, when either account is already in a call or the payer cannot
   * afford the first stretch.
   */
  async startAgreed(
    tx: Tx,
    after: AfterCommit,
    input: { userId: string; streamerId: string; kind: Exclude<CallKind, 'direct'>; providerName: string },
  ): Promise<CallRecord | undefined> {
    const afford = await this.d.billing.canStart(input.userId, input.kind, tx);
    if (!afford.allowed) return undefined;
    const id = randomUUID();
    if ((await this.claim(tx, id, [input.userId, input.streamerId])).length > 0) return undefined;
    const now = this.engine.now();
    const connectSeconds = await this.d.settings.get('call.connect_timeout_seconds');
    const [earner] = await this.d.presence.getPresence([input.streamerId], tx);
    const requested = await this.d.repo.insert(tx, {
      id,
      kind: input.kind,
      caller_id: input.userId,
      callee_id: input.streamerId,
      payer_id: input.userId,
      earner_id: input.streamerId,
      requested_at: now,
      state: 'requested',
      earner_prior_availability: earner?.availability ?? null,
    });
    await this.d.repo.addTransition(tx, {
      callId: id,
      state: 'requested',
      reason: null,
      actor: input.kind,
      at: now,
    });
    await this.d.presence.setAvailability(input.streamerId, 'busy', tx);
    const accepted = await this.engine.apply(
      tx,
      after,
      requested,
      { type: 'accept' },
      { accepted_at: now },
      input.kind,
    );
    return this.engine.apply(
      tx,
      after,
      accepted,
      { type: 'prepare' },
      {
        connecting_at: now,
        provider: input.providerName,
        deadline_at: new Date(now.getTime() + connectSeconds * 1000),
      },
      'system',
      { provider: input.providerName },
    );
  }

  /** The callee's device is ringing. */
  async ringing(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.act(userId, callId, 'callee', async (tx, after, call) =>
      call.state === 'requested'
        ? this.engine.apply(tx, after, call, { type: 'ring' }, { ringing_at: this.engine.now() }, 'callee')
        : call,
    );
  }

  /** The callee answers: a provider is chosen and both sides can fetch credentials for its room. */
  async accept(userId: string, callId: string): Promise<CallRecord> {
    const provider = await this.d.selector.choose();
    const connectSeconds = await this.d.settings.get('call.connect_timeout_seconds');
    return this.engine.act(userId, callId, 'callee', async (tx, after, call) => {
      const now = this.engine.now();
      const accepted = await this.engine.apply(
        tx,
        after,
        call,
        { type: 'accept' },
        { accepted_at: now },
        'callee',
      );
      return this.engine.apply(
        tx,
        after,
        accepted,
        { type: 'prepare' },
        {
          connecting_at: now,
          provider: provider.name,
          deadline_at: new Date(now.getTime() + connectSeconds * 1000),
        },
        'system',
        { provider: provider.name },
      );
    });
  }

  /** Hang up: the caller cancels or the callee declines before the answer; afterwards either side hangs up. */
  async hangUp(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.act(userId, callId, 'either', async (tx, after, call, side) => {
      if (!isLive(call.state)) return call;
      return this.engine.apply(tx, after, call, hangUpAction(call.state, side), {}, side);
    });
  }

  /** Ends a live call for a reason imposed from outside (billing cut-off, a block, a ban, staff). */
  async terminate(
    callId: string,
    reason: Termination,
    note: string | null = null,
  ): Promise<CallRecord | undefined> {
    return this.engine.change(async (tx, after) => {
      const call = await this.d.repo.lock(tx, callId);
      if (!call || !isLive(call.state)) return call;
      return this.engine.apply(
        tx,
        after,
        call,
        { type: 'terminate', reason },
        { end_note: note },
        reason === 'staff' ? 'staff' : 'system',
      );
    });
  }

  /** Ends the live call of an account (it was banned or deleted). */
  async terminateCallOf(userId: string, reason: Termination): Promise<CallRecord | undefined> {
    const call = await this.d.repo.liveCallOf(userId);
    return call ? this.terminate(call.id, reason) : undefined;
  }

  /** Ends the live call between two accounts, if they are in one together (one blocked the other). */
  async terminateCallBetween(a: string, b: string, reason: Termination): Promise<CallRecord | undefined> {
    const call = await this.d.repo.liveCallOf(a);
    if (!call || sideOf(call, b) === null) return undefined;
    return this.terminate(call.id, reason);
  }

  /**
   * The call's timer fired (the durable job, or the sweep): ends it as missed, media_failed or
   * disconnected when its deadline has passed on the server's clock, else moves the timer on.
   */
  async runDeadline(callId: string): Promise<CallRecord | undefined> {
    const grace = await this.d.settings.get('call.reconnect_grace_seconds');
    let failedProvider: string | null = null;
    const result = await this.engine.change(async (tx, after) => {
      const call = await this.d.repo.lock(tx, callId);
      if (!call || !isLive(call.state) || !call.deadlineAt) return call;
      const now = this.engine.now();
      if (call.deadlineAt > now) {
        await this.engine.scheduleTimer(tx, call);
        return call;
      }
      if (call.state === 'connected') {
        const next = this.engine.connectedDeadline(call, grace);
        if (next > now) {
          const moved = await this.d.repo.update(tx, call.id, { deadline_at: next });
          await this.engine.scheduleTimer(tx, moved);
          return moved;
        }
      }
      if (call.state === 'accepted' || call.state === 'connecting') failedProvider = call.provider;
      return this.engine.apply(tx, after, call, { type: 'timeout' }, {}, 'system');
    });
    if (failedProvider) {
      await this.d.selector.reportFailure(
        failedProvider,
        'connect_timeout',
        callId,
        'both sides did not join in time',
      );
    }
    return result;
  }

  /** Live calls whose timer is overdue (a job lost with a dead worker): the sweep's catch-up. */
  async sweep(): Promise<number> {
    const ids = await this.d.repo.overdue(new Date(this.engine.now().getTime() - 3_000), 500);
    for (const id of ids) await this.runDeadline(id);
    return ids.length;
  }

  /** One call, for one of its sides. */
  get(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.forSide(userId, callId);
  }

  async find(callId: string): Promise<CallRecord | undefined> {
    return UUID.test(callId) ? this.d.repo.find(callId) : undefined;
  }

  async activeCallOf(userId: string): Promise<CallRecord | undefined> {
    return this.d.repo.liveCallOf(userId);
  }
}
