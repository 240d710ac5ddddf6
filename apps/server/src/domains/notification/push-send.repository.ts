import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Executor } from './notification.repository.ts';
import type { AttemptOutcome, PushSendState } from './notification.tables.ts';

export type PushSendRow = {
  notificationId: string;
  tokenId: string;
  provider: string;
  state: PushSendState;
  tries: number;
};

export type OutboxRow = {
  id: bigint;
  notificationId: string;
  userId: string;
  tokenKind: string;
  token: string;
  payload: JsonObject;
  createdAt: Date;
};

/** The per-device push records (one per notification and device token) and the local outbox. */
export class PushSendRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Records "sending" before the provider call: a new row, or one more try on an existing one. */
  async startPushSend(
    ex: Executor,
    input: { notificationId: string; tokenId: string; provider: string; now: Date },
  ) {
    await ex
      .insertInto('notification.push_sends')
      .values({
        notification_id: input.notificationId,
        token_id: input.tokenId,
        provider: input.provider,
        state: 'sending',
        updated_at: input.now,
      })
      .onConflict((oc) =>
        oc.columns(['notification_id', 'token_id']).doUpdateSet({
          state: 'sending',
          tries: sql`notification.push_sends.tries + 1`,
          updated_at: input.now,
        }),
      )
      .execute();
  }

  /** The device's record after the provider answered, with its log entry: one statement. */
  async finishPushSend(
    ex: Executor,
    input: {
      notificationId: string;
      tokenId: string;
      state: PushSendState;
      providerId?: string | null;
      detail?: string | null;
      outcome: AttemptOutcome;
      provider: string;
      now: Date;
    },
  ): Promise<void> {
    await sql`
      with finished as (
        update notification.push_sends
        set state = ${input.state}, provider_id = ${input.providerId ?? null}, detail = ${input.detail ?? null},
            updated_at = ${input.now}
        where notification_id = ${input.notificationId} and token_id = ${input.tokenId}
      )
      insert into notification.attempts (notification_id, channel, outcome, provider, token_id, detail, created_at)
      values (${input.notificationId}, 'push', ${input.outcome}, ${input.provider}, ${input.tokenId},
              ${input.detail ?? null}, ${input.now})
    `.execute(ex);
  }

  /** Every device record of these notifications (the push job reads them once per run). */
  async pushSends(ex: Executor, notificationIds: readonly string[]): Promise<PushSendRow[]> {
    if (notificationIds.length === 0) return [];
    const rows = await ex
      .selectFrom('notification.push_sends')
      .select(['notification_id', 'token_id', 'provider', 'state', 'tries'])
      .where('notification_id', 'in', [...notificationIds])
      .execute();
    return rows.map((row) => ({
      notificationId: row.notification_id,
      tokenId: row.token_id,
      provider: row.provider,
      state: row.state,
      tries: row.tries,
    }));
  }

  // --- local outbox ---

  async recordOutbox(entry: {
    notificationId: string;
    userId: string;
    tokenKind: string;
    token: string;
    payload: JsonObject;
  }): Promise<string> {
    const row = await this.db
      .insertInto('notification.outbox')
      .values({
        notification_id: entry.notificationId,
        user_id: entry.userId,
        token_kind: entry.tokenKind,
        token: entry.token,
        payload: JSON.stringify(entry.payload),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return `local:${row.id}`;
  }

  async outbox(filter: { notificationId?: string; userId?: string }, first: number, after: bigint | null) {
    let query = this.db.selectFrom('notification.outbox').selectAll().orderBy('id', 'desc').limit(first);
    if (filter.notificationId) query = query.where('notification_id', '=', filter.notificationId);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (after !== null) query = query.where('id', '<', after);
    const rows = await query.execute();
    return rows.map(
      (r): OutboxRow => ({
        id: r.id,
        notificationId: r.notification_id,
        userId: r.user_id,
        tokenKind: r.token_kind,
        token: r.token,
        payload: r.payload,
        createdAt: r.created_at,
      }),
    );
  }
}
