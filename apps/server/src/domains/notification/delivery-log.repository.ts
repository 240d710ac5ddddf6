import type { Db } from '../../platform/db/database.ts';
import { COLUMNS, type Executor, type NotificationRow, toRow } from './notification.repository.ts';
import type { AttemptOutcome, FailureOutcome, NotificationStatus } from './notification.tables.ts';

export type AttemptRow = {
  id: bigint;
  notificationId: string;
  channel: 'in_app' | 'push';
  outcome: AttemptOutcome;
  provider: string | null;
  tokenId: string | null;
  detail: string | null;
  createdAt: Date;
};

export type NewAttempt = {
  notificationId: string;
  channel: 'in_app' | 'push';
  outcome: AttemptOutcome;
  provider?: string | null;
  tokenId?: string | null;
  detail?: string | null;
  at: Date;
};

/** What admins narrow the log by; every field is optional and they combine with "and". */
export type DeliveryLogFilter = {
  userId?: string;
  status?: NotificationStatus;
  /** Notifications with at least one attempt of this outcome. */
  failure?: FailureOutcome;
};

/** The attempt log: every delivery step of every notification, never updated (the admins' view). */
export class DeliveryLogRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async addAttempts(ex: Executor, attempts: readonly NewAttempt[]): Promise<void> {
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

  /**
   * Notifications newest first (by `seq`, before `after`). By account it walks that account's index;
   * a failure reads the partial index of failed attempts; a status alone scans from the newest.
   */
  async notifications(
    filter: DeliveryLogFilter,
    first: number,
    after: bigint | null,
  ): Promise<NotificationRow[]> {
    let query = this.db
      .selectFrom('notification.notifications as n')
      .select(COLUMNS.map((c) => `n.${c}` as const))
      .orderBy('n.seq', 'desc')
      .limit(first);
    if (filter.userId) query = query.where('n.user_id', '=', filter.userId);
    if (filter.status) query = query.where('n.status', '=', filter.status);
    const failure = filter.failure;
    if (failure) {
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('notification.attempts as a')
            .select('a.id')
            .whereRef('a.notification_id', '=', 'n.id')
            .where('a.outcome', '=', failure),
        ),
      );
    }
    if (after !== null) query = query.where('n.seq', '<', after);
    return (await query.execute()).map(toRow);
  }
}
