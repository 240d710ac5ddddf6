import { sql } from 'kysely';
import type { Role } from '../../platform/auth/roles.ts';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type {
  NotificationChannels,
  NotificationPriority,
  NotificationStatus,
  PushSendState,
} from './notification.tables.ts';

type Executor = Db | Tx;

export type NotificationRow = {
  id: string;
  seq: bigint;
  userId: string;
  kind: string;
  title: string;
  body: string;
  data: JsonObject;
  priority: NotificationPriority;
  channels: NotificationChannels;
  status: NotificationStatus;
  broadcastId: string | null;
  createdAt: Date;
  expiresAt: Date;
  deliveredAt: Date | null;
  acknowledgedAt: Date | null;
  readAt: Date | null;
};

export type NewNotification = {
  userId: string;
  kind: string;
  title: string;
  body: string;
  data: JsonObject;
  priority: NotificationPriority;
  channels: NotificationChannels;
  expiresAt: Date;
  dedupeKey: string | null;
  broadcastId: string | null;
  createdAt: Date;
};

export type AttemptRow = {
  id: bigint;
  notificationId: string;
  channel: 'in_app' | 'push';
  outcome: string;
  provider: string | null;
  tokenId: string | null;
  detail: string | null;
  createdAt: Date;
};

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

/** Who an admin broadcast goes to. Cohorts (the panel domain) plug in as another kind later. */
export type Audience = { kind: 'all' } | { kind: 'role'; role: Role } | { kind: 'users'; userIds: string[] };

const COLUMNS = [
  'id',
  'seq',
  'user_id',
  'kind',
  'title',
  'body',
  'data',
  'priority',
  'channels',
  'status',
  'broadcast_id',
  'created_at',
  'expires_at',
  'delivered_at',
  'acknowledged_at',
  'read_at',
] as const;

type Raw = {
  id: string;
  seq: bigint;
  user_id: string;
  kind: string;
  title: string;
  body: string;
  data: JsonObject;
  priority: NotificationPriority;
  channels: NotificationChannels;
  status: NotificationStatus;
  broadcast_id: string | null;
  created_at: Date;
  expires_at: Date;
  delivered_at: Date | null;
  acknowledged_at: Date | null;
  read_at: Date | null;
};

const toRow = (r: Raw): NotificationRow => ({
  id: r.id,
  seq: r.seq,
  userId: r.user_id,
  kind: r.kind,
  title: r.title,
  body: r.body,
  data: r.data,
  priority: r.priority,
  channels: r.channels,
  status: r.status,
  broadcastId: r.broadcast_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  deliveredAt: r.delivered_at,
  acknowledgedAt: r.acknowledged_at,
  readAt: r.read_at,
});

const values = (n: NewNotification) => ({
  user_id: n.userId,
  kind: n.kind,
  title: n.title,
  body: n.body,
  data: JSON.stringify(n.data),
  priority: n.priority,
  channels: n.channels,
  expires_at: n.expiresAt,
  dedupe_key: n.dedupeKey,
  broadcast_id: n.broadcastId,
  created_at: n.createdAt,
});

/** The only code that reads or writes the `notification` schema. */
export class NotificationRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async preferences(ex: Executor, userId: string): Promise<{ locale: string; mutedKinds: string[] }> {
    const row = await ex
      .selectFrom('notification.preferences')
      .select(['locale', 'muted_kinds'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return { locale: row?.locale ?? 'en', mutedKinds: row?.muted_kinds ?? [] };
  }

  /** Locale and mutes of many accounts at once (broadcasts); absent accounts have the defaults. */
  async preferencesOf(ex: Executor, userIds: readonly string[]) {
    if (userIds.length === 0) return new Map<string, { locale: string; mutedKinds: string[] }>();
    const rows = await ex
      .selectFrom('notification.preferences')
      .select(['user_id', 'locale', 'muted_kinds'])
      .where('user_id', 'in', [...userIds])
      .execute();
    return new Map(rows.map((r) => [r.user_id, { locale: r.locale, mutedKinds: r.muted_kinds }]));
  }

  async savePreferences(userId: string, locale: string, mutedKinds: string[], now: Date) {
    await this.db
      .insertInto('notification.preferences')
      .values({ user_id: userId, locale, muted_kinds: mutedKinds, updated_at: now })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({ locale, muted_kinds: mutedKinds, updated_at: now }),
      )
      .execute();
  }

  /** Inserts, or returns the notification already made under the same dedupe key. */
  async insert(ex: Executor, n: NewNotification): Promise<{ row: NotificationRow; created: boolean }> {
    const inserted = await ex
      .insertInto('notification.notifications')
      .values(values(n))
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (inserted) return { row: toRow(inserted), created: true };
    const existing = await ex
      .selectFrom('notification.notifications')
      .select(COLUMNS)
      .where('dedupe_key', '=', n.dedupeKey)
      .executeTakeFirstOrThrow();
    return { row: toRow(existing), created: false };
  }

  async insertMany(ex: Executor, rows: NewNotification[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const inserted = await ex
      .insertInto('notification.notifications')
      .values(rows.map(values))
      .returning('id')
      .execute();
    return inserted.map((r) => r.id);
  }

  async get(ex: Executor, id: string, options: { forUpdate?: boolean } = {}) {
    let query = ex.selectFrom('notification.notifications').select(COLUMNS).where('id', '=', id);
    if (options.forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? toRow(row) : undefined;
  }

  async getMany(ex: Executor, ids: readonly string[]): Promise<NotificationRow[]> {
    if (ids.length === 0) return [];
    const rows = await ex
      .selectFrom('notification.notifications')
      .select(COLUMNS)
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(toRow);
  }

  async setStatus(
    ex: Executor,
    ids: readonly string[],
    status: NotificationStatus,
    extra: { deliveredAt?: Date } = {},
  ): Promise<void> {
    if (ids.length === 0) return;
    await ex
      .updateTable('notification.notifications')
      .set({ status, ...(extra.deliveredAt ? { delivered_at: extra.deliveredAt } : {}) })
      .where('id', 'in', [...ids])
      .execute();
  }

  /**
   * Marks the caller's notification acknowledged, logs the first acknowledgement and removes the
   * pending push job of a single notification, in one statement (acknowledgements arrive in bursts
   * after a broadcast: one round trip each). Undefined when the notification is not the caller's.
   */
  async acknowledge(ex: Executor, userId: string, id: string, now: Date, pushJobKey: string) {
    const result = await sql<Raw & { cancelled: boolean }>`
      with target as (
        select id, acknowledged_at, broadcast_id from notification.notifications
        where id = ${id} and user_id = ${userId}
        for update
      ), updated as (
        update notification.notifications n
        set acknowledged_at = coalesce(n.acknowledged_at, ${now}),
            status = case when n.status in ('pending', 'in_app_sent') then 'acknowledged' else n.status end
        from target where n.id = target.id
        returning n.*
      ), logged as (
        insert into notification.attempts (notification_id, channel, outcome, created_at)
        select id, 'in_app', 'acknowledged', ${now} from target where acknowledged_at is null
      ), relaxed as (
        -- No wait for the WAL flush: an acknowledgement lost in a crash costs one redundant push,
        -- and after a broadcast thousands arrive at once.
        select set_config('synchronous_commit', 'off', true)
      ), cancelled as (
        -- A broadcast chunk shares one push job (it checks the flag); a single notification's goes.
        select graphile_worker.remove_job(${pushJobKey}) from target
        where acknowledged_at is null and broadcast_id is null
      )
      -- Referenced so that it runs (a plain select in WITH runs only when read).
      select updated.*, (select count(*) from cancelled) + (select count(*) from relaxed) >= 0 as cancelled
      from updated
    `.execute(ex);
    const row = result.rows[0];
    return row ? toRow(row) : undefined;
  }

  async addAttempts(
    ex: Executor,
    attempts: Array<{
      notificationId: string;
      channel: 'in_app' | 'push';
      outcome: string;
      provider?: string | null;
      tokenId?: string | null;
      detail?: string | null;
      at: Date;
    }>,
  ): Promise<void> {
    if (attempts.length === 0) return;
    await ex
      .insertInto('notification.attempts')
      .values(
        attempts.map((a) => ({
          notification_id: a.notificationId,
          channel: a.channel,
          outcome: a.outcome,
          provider: a.provider ?? null,
          token_id: a.tokenId ?? null,
          detail: a.detail ?? null,
          created_at: a.at,
        })),
      )
      .execute();
  }

  async attempts(notificationId: string): Promise<AttemptRow[]> {
    const rows = await this.db
      .selectFrom('notification.attempts')
      .selectAll()
      .where('notification_id', '=', notificationId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      channel: r.channel,
      outcome: r.outcome,
      provider: r.provider,
      tokenId: r.token_id,
      detail: r.detail,
      createdAt: r.created_at,
    }));
  }

  async page(userId: string, first: number, after: bigint | null): Promise<NotificationRow[]> {
    let query = this.db
      .selectFrom('notification.notifications')
      .select(COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('seq', 'desc')
      .limit(first);
    if (after !== null) query = query.where('seq', '<', after);
    return (await query.execute()).map(toRow);
  }

  async unreadCount(userId: string): Promise<number> {
    const row = await this.db
      .selectFrom('notification.notifications')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async markRead(userId: string, ids: readonly string[] | 'all', now: Date): Promise<number> {
    let query = this.db
      .updateTable('notification.notifications')
      .set({ read_at: now })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null);
    if (ids !== 'all') {
      if (ids.length === 0) return 0;
      query = query.where('id', 'in', [...ids]);
    }
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  // --- per-device push records ---

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
      outcome: string;
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

  // --- broadcasts ---

  /**
   * The accounts an audience names. Reads the user domain's accounts table (read-only; a published
   * view would be the cleaner seam once the panel domain's cohorts exist): active accounts only.
   */
  async audienceIds(
    ex: Executor,
    audience: Audience,
    limit: number,
    afterId: string | null,
  ): Promise<string[]> {
    let query = ex
      .selectFrom('user.users')
      .select('id')
      .where('status', '=', 'active')
      .orderBy('id')
      .limit(limit);
    if (audience.kind === 'role') query = query.where(sql<boolean>`${audience.role} = any(roles)`);
    if (audience.kind === 'users') query = query.where('id', 'in', audience.userIds);
    if (afterId) query = query.where('id', '>', afterId);
    return (await query.execute()).map((r) => r.id);
  }

  async audienceCount(audience: Audience): Promise<number> {
    let query = this.db
      .selectFrom('user.users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'active');
    if (audience.kind === 'role') query = query.where(sql<boolean>`${audience.role} = any(roles)`);
    if (audience.kind === 'users') query = query.where('id', 'in', audience.userIds);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  async insertBroadcast(
    ex: Executor,
    input: { audience: Audience; title: string; body: string; recipients: number; createdBy: string | null },
  ): Promise<string> {
    const row = await ex
      .insertInto('notification.broadcasts')
      .values({
        audience: JSON.stringify(input.audience),
        title: input.title,
        body: input.body,
        recipients: input.recipients,
        created_by: input.createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async setBroadcastRecipients(ex: Executor, id: string, recipients: number): Promise<void> {
    await ex.updateTable('notification.broadcasts').set({ recipients }).where('id', '=', id).execute();
  }

  /** The broadcast's notifications still waiting for an acknowledgement, in id order (the push sweep). */
  async unacknowledgedOfBroadcast(
    broadcastId: string,
    limit: number,
    afterId: string | null,
  ): Promise<string[]> {
    let query = this.db
      .selectFrom('notification.notifications')
      .select('id')
      .where('broadcast_id', '=', broadcastId)
      .where('acknowledged_at', 'is', null)
      .orderBy('id')
      .limit(limit);
    if (afterId) query = query.where('id', '>', afterId);
    return (await query.execute()).map((r) => r.id);
  }
}
