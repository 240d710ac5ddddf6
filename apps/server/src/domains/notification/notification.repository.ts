import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type {
  NotificationChannels,
  NotificationPriority,
  NotificationStatus,
} from './notification.tables.ts';

export type Executor = Db | Tx;

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

export const COLUMNS = [
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

export type Raw = {
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

export const toRow = (r: Raw): NotificationRow => ({
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

export const values = (n: NewNotification) => ({
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

/**
 * Notifications and their owners' preferences: what `notify` writes, the delivery jobs' status
 * changes and the notification centre. The attempt log, push records and broadcasts have their own
 * repositories in this folder; together they are the only code with SQL for the `notification` schema.
 */
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
}
