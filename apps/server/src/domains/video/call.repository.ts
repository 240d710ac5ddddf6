import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { CallSide } from '../../providers/video/video.provider.ts';
import type { CallState, EndedBy, EndReason } from './call-state.ts';
import type { VideoTables } from './video.tables.ts';

type Executor = Db | Tx;
type CallRow = VideoTables['video.calls'] extends infer T
  ? { [K in keyof T]: T[K] extends import('kysely').ColumnType<infer S, unknown, unknown> ? S : T[K] }
  : never;

export type CallKind = 'direct' | 'roulette' | 'prerecorded';

export type CallRecord = {
  id: string;
  kind: CallKind;
  callerId: string;
  calleeId: string;
  payerId: string;
  earnerId: string;
  state: CallState;
  endReason: EndReason | null;
  endedBy: EndedBy | null;
  endNote: string | null;
  provider: string | null;
  providersFailed: string[];
  requestedAt: Date;
  ringingAt: Date | null;
  acceptedAt: Date | null;
  connectingAt: Date | null;
  connectedAt: Date | null;
  endedAt: Date | null;
  deadlineAt: Date | null;
  joinedAt: Record<CallSide, Date | null>;
  leftAt: Record<CallSide, Date | null>;
  seenAt: Record<CallSide, Date | null>;
  earnerPriorAvailability: string | null;
  callerName: string | null;
  charged: bigint;
  earned: bigint;
  version: number;
};

/** The columns a state change may set (snake_case, as stored). */
export type CallPatch = Partial<
  Omit<
    CallRow,
    'id' | 'kind' | 'caller_id' | 'callee_id' | 'payer_id' | 'earner_id' | 'requested_at' | 'version'
  >
>;

export type CallFilter = {
  userId?: string;
  /** As caller or callee (default either). */
  role?: 'caller' | 'callee';
  kind?: CallKind;
  endReason?: EndReason;
  provider?: string;
  live?: boolean;
  from?: Date;
  to?: Date;
};

export type CallCursor = { requestedAt: Date; id: string };

function toRecord(row: CallRow): CallRecord {
  return {
    id: row.id,
    kind: row.kind,
    callerId: row.caller_id,
    calleeId: row.callee_id,
    payerId: row.payer_id,
    earnerId: row.earner_id,
    state: row.state,
    endReason: row.end_reason,
    endedBy: row.ended_by,
    endNote: row.end_note,
    provider: row.provider,
    providersFailed: row.providers_failed,
    requestedAt: row.requested_at,
    ringingAt: row.ringing_at,
    acceptedAt: row.accepted_at,
    connectingAt: row.connecting_at,
    connectedAt: row.connected_at,
    endedAt: row.ended_at,
    deadlineAt: row.deadline_at,
    joinedAt: { caller: row.caller_joined_at, callee: row.callee_joined_at },
    leftAt: { caller: row.caller_left_at, callee: row.callee_left_at },
    seenAt: { caller: row.caller_seen_at, callee: row.callee_seen_at },
    earnerPriorAvailability: row.earner_prior_availability,
    callerName: row.caller_name,
    charged: row.charged,
    earned: row.earned,
    version: row.version,
  };
}

/** The only code that touches the video schema's call tables. */
export class CallRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(
    tx: Tx,
    call: Pick<
      CallRow,
      'id' | 'kind' | 'caller_id' | 'callee_id' | 'payer_id' | 'earner_id' | 'requested_at'
    > &
      CallPatch & { state: CallState },
  ): Promise<CallRecord> {
    const row = await tx.insertInto('video.calls').values(call).returningAll().executeTakeFirstOrThrow();
    return toRecord(row as CallRow);
  }

  async find(id: string, ex: Executor = this.db): Promise<CallRecord | undefined> {
    const row = await ex.selectFrom('video.calls').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row as CallRow) : undefined;
  }

  async lock(tx: Tx, id: string): Promise<CallRecord | undefined> {
    const row = await tx
      .selectFrom('video.calls')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row ? toRecord(row as CallRow) : undefined;
  }

  async update(tx: Tx, id: string, patch: CallPatch): Promise<CallRecord> {
    const row = await tx
      .updateTable('video.calls')
      .set({ ...patch, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row as CallRow);
  }

  /** A connected side's heartbeat: no version bump, nobody is told. */
  async touch(tx: Tx, id: string, side: CallSide, at: Date): Promise<CallRecord> {
    const row = await tx
      .updateTable('video.calls')
      .set(side === 'caller' ? { caller_seen_at: at } : { callee_seen_at: at })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row as CallRow);
  }

  /** Claims the accounts for a new live call; the ids that are already in one come back (nothing claimed then). */
  async claimParties(tx: Tx, callId: string, userIds: readonly string[]): Promise<string[]> {
    // Fixed order, so two calls claiming the same two accounts cannot deadlock.
    const ordered = [...userIds].sort();
    const claimed = await tx
      .insertInto('video.live_parties')
      .values(ordered.map((userId) => ({ user_id: userId, call_id: callId })))
      .onConflict((oc) => oc.column('user_id').doNothing())
      .returning('user_id')
      .execute();
    const got = new Set(claimed.map((r) => r.user_id));
    return ordered.filter((id) => !got.has(id));
  }

  async releaseParties(tx: Tx, callId: string): Promise<void> {
    await tx.deleteFrom('video.live_parties').where('call_id', '=', callId).execute();
  }

  /** The live call of an account, if any. */
  async liveCallOf(userId: string, ex: Executor = this.db): Promise<CallRecord | undefined> {
    const row = await ex
      .selectFrom('video.live_parties as p')
      .innerJoin('video.calls as c', 'c.id', 'p.call_id')
      .selectAll('c')
      .where('p.user_id', '=', userId)
      .executeTakeFirst();
    return row ? toRecord(row as CallRow) : undefined;
  }

  async liveCallIdsOf(userIds: readonly string[], ex: Executor = this.db): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await ex
      .selectFrom('video.live_parties')
      .select('call_id')
      .distinct()
      .where('user_id', 'in', userIds)
      .execute();
    return rows.map((r) => r.call_id);
  }

  async hasConnectedCallAsPayer(tx: Tx, payerId: string, exceptCallId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('video.calls')
      .select('id')
      .where('payer_id', '=', payerId)
      .where('connected_at', 'is not', null)
      .where('id', '<>', exceptCallId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async addTransition(
    tx: Tx,
    entry: {
      callId: string;
      state: CallState;
      reason: string | null;
      actor: string;
      detail?: object;
      at: Date;
    },
  ): Promise<void> {
    await tx
      .insertInto('video.call_transitions')
      .values({
        call_id: entry.callId,
        seq: sql<number>`(select coalesce(max(seq), 0) + 1 from video.call_transitions where call_id = ${entry.callId})`,
        state: entry.state,
        reason: entry.reason,
        actor: entry.actor,
        detail: JSON.stringify(entry.detail ?? {}),
        at: entry.at,
      })
      .execute();
  }

  async transitions(callId: string) {
    return this.db
      .selectFrom('video.call_transitions')
      .select(['seq', 'state', 'reason', 'actor', 'detail', 'at'])
      .where('call_id', '=', callId)
      .orderBy('seq')
      .execute();
  }

  /** Records a webhook event once; false when it was already applied (a replay). */
  async recordReceipt(
    tx: Tx,
    receipt: { provider: string; eventId: string; callId: string | null; type: string; at: Date },
  ): Promise<boolean> {
    const inserted = await tx
      .insertInto('video.webhook_receipts')
      .values({
        provider: receipt.provider,
        event_id: receipt.eventId,
        call_id: receipt.callId,
        type: receipt.type,
        received_at: receipt.at,
      })
      .onConflict((oc) => oc.columns(['provider', 'event_id']).doNothing())
      .returning('event_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /** Live calls whose timer is due by `dueBy` (what the sweep ends or re-schedules). */
  async overdue(dueBy: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('video.calls')
      .select('id')
      .where('state', '<>', 'ended')
      .where('deadline_at', '<=', dueBy)
      .orderBy('deadline_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async list(filter: CallFilter, first: number, after?: CallCursor): Promise<CallRecord[]> {
    let query = this.db.selectFrom('video.calls').selectAll();
    if (filter.userId) {
      const userId = filter.userId;
      if (filter.role === 'caller') query = query.where('caller_id', '=', userId);
      else if (filter.role === 'callee') query = query.where('callee_id', '=', userId);
      else query = query.where((eb) => eb.or([eb('caller_id', '=', userId), eb('callee_id', '=', userId)]));
    }
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    if (filter.endReason) query = query.where('end_reason', '=', filter.endReason);
    if (filter.provider) query = query.where('provider', '=', filter.provider);
    if (filter.live === true) query = query.where('state', '<>', 'ended');
    if (filter.live === false) query = query.where('state', '=', 'ended');
    if (filter.from) query = query.where('requested_at', '>=', filter.from);
    if (filter.to) query = query.where('requested_at', '<', filter.to);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('requested_at', '<', after.requestedAt),
          eb.and([eb('requested_at', '=', after.requestedAt), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query.orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(first).execute();
    return rows.map((row) => toRecord(row as CallRow));
  }
}
