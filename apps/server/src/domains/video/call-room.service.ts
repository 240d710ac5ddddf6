import type { Tx } from '../../platform/db/transaction.ts';
import { conflict } from '../../platform/errors/app-error.ts';
import type { CallSide, ParticipantCredentials } from '../../providers/video/video.provider.ts';
import { callConnected } from './call.events.ts';
import type { CallRecord } from './call.repository.ts';
import type { AfterCommit, CallEngine } from './call-engine.ts';
import { callChannel, otherSide, sideOf } from './call-party.ts';

// Privileges of a token issued before the call connected also cover the time it takes to connect.
const TOKEN_GRACE_SECONDS = 10;

/**
 * The media side of calls: who is in the call's room (vendor webhooks, or the local provider's
 * confirmations), connecting once both are, heartbeats, falling back to the next provider, the
 * participants' credentials and WebRTC signalling.
 */
export class CallRoomService {
  private readonly engine: CallEngine;

  constructor(engine: CallEngine) {
    this.engine = engine;
  }

  private get d() {
    return this.engine.deps;
  }

  /**
   * A side's media is flowing in the room (the local provider's stand-in for a vendor "joined"
   * webhook; vendors' joins come through `sideJoined` from their webhooks).
   */
  async confirmMedia(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.act(userId, callId, 'either', async (tx, after, call, side) =>
      // A prerecorded call is joined by the server when it starts; the recorded side's presence is
      // the video's length, which a confirmation must not reset.
      call.kind === 'prerecorded' ? call : this.sideJoined(tx, after, call, side),
    );
  }

  async sideJoined(tx: Tx, after: AfterCommit, call: CallRecord, side: CallSide): Promise<CallRecord> {
    if (call.state !== 'connecting' && call.state !== 'connected') return call;
    const now = this.engine.now();
    const joined = {
      [`${side}_joined_at`]: call.joinedAt[side] ?? now,
      [`${side}_left_at`]: null,
      [`${side}_seen_at`]: now,
    };
    if (call.state === 'connected') {
      const grace = await this.d.settings.get('call.reconnect_grace_seconds');
      const updated = await this.d.repo.update(tx, call.id, joined);
      const rescheduled = await this.d.repo.update(tx, call.id, {
        deadline_at: this.engine.connectedDeadline(updated, grace),
      });
      await this.engine.scheduleTimer(tx, rescheduled);
      after.published.push(rescheduled);
      return rescheduled;
    }
    const updated = await this.d.repo.update(tx, call.id, joined);
    if (!updated.joinedAt[otherSide(side)]) {
      after.published.push(updated);
      return updated;
    }
    return this.connect(tx, after, updated);
  }

  /** Both sides are in the room: billing starts now, with the tariff of the call's kind. */
  private async connect(tx: Tx, after: AfterCommit, call: CallRecord): Promise<CallRecord> {
    const afford = await this.d.billing.canStart(call.payerId, call.kind, tx);
    if (!afford.allowed) return this.engine.end(tx, after, call, 'insufficient_funds', 'system', null);
    const now = this.engine.now();
    const grace = await this.d.settings.get('call.reconnect_grace_seconds');
    const connected = await this.engine.apply(
      tx,
      after,
      call,
      { type: 'both_joined' },
      {
        connected_at: now,
        caller_seen_at: now,
        callee_seen_at: now,
        deadline_at: new Date(now.getTime() + grace * 1000),
      },
      'system',
    );
    await this.d.billing.start(tx, {
      callId: call.id,
      kind: call.kind,
      payerId: call.payerId,
      earnerId: call.earnerId,
      connectedAt: now,
    });
    const firstCall = !(await this.d.repo.hasConnectedCallAsPayer(tx, call.payerId, call.id));
    await this.d.eventLog.emit(
      tx,
      callConnected.event({
        callId: call.id,
        kind: call.kind,
        callerId: call.callerId,
        calleeId: call.calleeId,
        payerId: call.payerId,
        earnerId: call.earnerId,
        provider: call.provider ?? 'local',
        firstCall,
      }),
    );
    return connected;
  }

  /** A side left the room (a vendor webhook): the reconnect grace starts. */
  async sideLeft(
    tx: Tx,
    after: AfterCommit,
    call: CallRecord,
    side: CallSide,
    at: Date,
  ): Promise<CallRecord> {
    if (call.state === 'connecting') {
      const updated = await this.d.repo.update(tx, call.id, { [`${side}_joined_at`]: null });
      after.published.push(updated);
      return updated;
    }
    if (call.state !== 'connected') return call;
    const grace = await this.d.settings.get('call.reconnect_grace_seconds');
    const updated = await this.d.repo.update(tx, call.id, { [`${side}_left_at`]: at });
    const rescheduled = await this.d.repo.update(tx, call.id, {
      deadline_at: this.engine.connectedDeadline(updated, grace),
    });
    await this.engine.scheduleTimer(tx, rescheduled);
    after.published.push(rescheduled);
    return rescheduled;
  }

  /** "Still here" from a connected side, every few seconds; no announcement. */
  async heartbeat(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.act(userId, callId, 'either', async (tx, _after, call, side) => {
      if (call.state !== 'connected') return call;
      // Only the viewer keeps a prerecorded call alive; the streamer is not in it.
      if (call.kind === 'prerecorded' && side === 'callee') return call;
      return this.d.repo.touch(tx, call.id, side, this.engine.now());
    });
  }

  /**
   * The client says the provider's media failed while connecting: the provider is reported to its
   * circuit breaker and the call moves to the next provider (fresh credentials for both sides).
   */
  async reportMediaFailure(userId: string, callId: string, reason: string): Promise<CallRecord> {
    const text = reason.trim().slice(0, 500) || 'unspecified';
    const call = await this.engine.forSide(userId, callId);
    if (call.state !== 'connecting' || !call.provider) return call;
    await this.d.selector.reportFailure(call.provider, 'client_report', call.id, text);
    const failed = [...call.providersFailed, call.provider];
    const next = await this.d.selector.choose(failed);
    if (failed.includes(next.name)) return call;
    const connectSeconds = await this.d.settings.get('call.connect_timeout_seconds');
    return this.engine.change(async (tx, after) => {
      const locked = await this.d.repo.lock(tx, callId);
      if (locked?.state !== 'connecting' || locked.provider !== call.provider) return locked ?? call;
      const now = this.engine.now();
      const moved = await this.d.repo.update(tx, callId, {
        provider: next.name,
        providers_failed: failed,
        caller_joined_at: null,
        callee_joined_at: null,
        deadline_at: new Date(now.getTime() + connectSeconds * 1000),
      });
      await this.d.repo.addTransition(tx, {
        callId,
        state: 'connecting',
        reason: null,
        actor: sideOf(call, userId) ?? 'system',
        at: now,
        detail: { fellBackFrom: call.provider, to: next.name, why: text },
      });
      await this.engine.scheduleTimer(tx, moved);
      after.published.push(moved);
      return moved;
    });
  }

  /** Credentials for the caller's side of the room, limited to what the payer can afford. */
  async credentials(userId: string, callId: string): Promise<ParticipantCredentials> {
    const call = await this.engine.forSide(userId, callId);
    const side = sideOf(call, userId);
    if (!side || !call.provider || !['accepted', 'connecting', 'connected'].includes(call.state)) {
      throw conflict('The call has no room to join now');
    }
    if (call.kind === 'prerecorded') throw conflict('A prerecorded video has no room to join');
    const provider = this.d.selector.byName(call.provider);
    if (!provider) throw new Error(`video provider ${call.provider} is not configured on this server`);
    const affordable = await this.d.billing.affordableSeconds({
      callId,
      payerId: call.payerId,
      kind: call.kind,
    });
    const validForSeconds = affordable + TOKEN_GRACE_SECONDS;
    return provider.credentials({ room: call.id, userId, side, validForSeconds, now: this.engine.now() });
  }

  /** Relays a WebRTC signalling message to the other side (local provider); nothing is stored. */
  async signal(userId: string, callId: string, kind: string, payload: string): Promise<void> {
    const call = await this.engine.forSide(userId, callId);
    const side = sideOf(call, userId);
    if (
      !side ||
      !['accepted', 'connecting', 'connected'].includes(call.state) ||
      call.kind === 'prerecorded'
    ) {
      throw conflict('The call is not being connected');
    }
    const other = side === 'caller' ? call.calleeId : call.callerId;
    await this.d.pubsub.publish(callChannel(other), { type: 'signal', callId, from: side, kind, payload });
  }
}
