import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { channels, type PubSub } from '../../platform/realtime/pubsub.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { DeliveryLogRepository } from './delivery-log.repository.ts';
import type { NotificationRepository, NotificationRow } from './notification.repository.ts';
import { JOB_PRIORITY, PUSH_JOB, PUSH_MAX_ATTEMPTS, pushJobKey } from './notification.service.ts';
import { isNotificationKind, type KindDefinition, kindDefinition } from './notification-kinds.ts';

/** What the `notifications` subscription carries on the account's channel. */
export type InAppMessage = {
  type: 'notification';
  occurredAt: string;
  payload: {
    id: string;
    kind: string;
    title: string;
    body: string;
    data: Record<string, unknown>;
    priority: string;
    createdAt: string;
    expiresAt: string;
  };
};

/**
 * Many notifications delivered at once (a broadcast's chunk) travel as one message on a shared topic
 * instead of one per account: one NOTIFY (stored by reference when large) instead of a thousand.
 * Every `notifications` subscription on every node sees it and takes only its own entry.
 */
export type InAppBatchMessage = {
  type: 'notification_batch';
  occurredAt: string;
  items: Record<string, InAppMessage['payload']>;
};
export const NOTIFICATION_BATCH_CHANNEL = channels.topic('notification-batches');
// Below this many in one delivery, per-account messages are cheaper than everyone reading a batch.
const BATCH_THRESHOLD = 50;

export const jobPayloadSchema = z.object({ ids: z.array(z.uuid()).min(1), key: z.string().min(1) });

// Presence is read at most this many accounts per query.
const PRESENCE_CHUNK = 200;

type Presence = {
  getPresence(userIds: readonly string[]): Promise<Array<{ userId: string; online: boolean }>>;
};

export type DeliveryDeps = {
  repo: NotificationRepository;
  log: DeliveryLogRepository;
  jobs: JobQueue;
  pubsub: PubSub;
  presence: Presence;
  settings: Pick<SettingsService, 'get'>;
  clock: Clock;
};

export const definitionOf = (kind: string): KindDefinition | undefined =>
  isNotificationKind(kind) ? kindDefinition(kind) : undefined;

export const inAppMessage = (row: NotificationRow, now: Date): InAppMessage => ({
  type: 'notification',
  occurredAt: now.toISOString(),
  payload: {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    data: row.data,
    priority: row.priority,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
  },
});

/**
 * The first durable step of delivery (`notification.deliver`): in-app to the accounts that are
 * online, and the push job that follows unless an acknowledgement comes first; offline accounts get
 * the push job at once. Safe to run again after a crash. The push step is push-delivery.ts.
 */
export class NotificationDelivery {
  private readonly deps: DeliveryDeps;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
  }

  private async ackTimeoutSeconds(kind: string): Promise<number> {
    const overrides = await this.deps.settings.get('notification.ack_timeout_seconds');
    return overrides[kind] ?? definitionOf(kind)?.ackTimeoutSeconds ?? 10;
  }

  async deliver(payload: unknown): Promise<void> {
    const { ids, key } = jobPayloadSchema.parse(payload);
    const { repo, log, clock } = this.deps;
    const rows = (await repo.getMany(repo.db, ids)).filter((r) => r.status === 'pending');
    if (rows.length === 0) return;
    const now = clock.now();
    const online = new Set<string>();
    const userIds = [...new Set(rows.map((r) => r.userId))];
    for (let i = 0; i < userIds.length; i += PRESENCE_CHUNK) {
      for (const p of await this.deps.presence.getPresence(userIds.slice(i, i + PRESENCE_CHUNK))) {
        if (p.online) online.add(p.userId);
      }
    }
    const expired = rows.filter((r) => r.expiresAt.getTime() <= now.getTime());
    const live = rows.filter((r) => r.expiresAt.getTime() > now.getTime());
    const inApp = live.filter((r) => online.has(r.userId));
    const offlinePush = live.filter((r) => !online.has(r.userId) && r.channels === 'in_app_then_push');
    const offlineKept = live.filter((r) => !online.has(r.userId) && r.channels === 'in_app');
    // Push after the longest time-out among the batch's kinds (a batch is one kind in practice).
    const waitSeconds = Math.max(
      0,
      ...(await Promise.all([...new Set(inApp.map((r) => r.kind))].map((k) => this.ackTimeoutSeconds(k)))),
    );
    await withTransaction(repo.db, async (tx) => {
      await repo.setStatus(
        tx,
        expired.map((r) => r.id),
        'expired',
      );
      await repo.setStatus(
        tx,
        inApp.map((r) => r.id),
        'in_app_sent',
        { deliveredAt: now },
      );
      await log.addAttempts(tx, [
        ...expired.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'expired' as const,
          at: now,
        })),
        ...inApp.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'in_app_sent' as const,
          at: now,
        })),
        ...offlinePush.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'offline' as const,
          detail: 'not online: push at once',
          at: now,
        })),
        ...offlineKept.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'offline' as const,
          detail: 'in-app only: kept in the notification centre',
          at: now,
        })),
      ]);
      const awaitingAck = inApp.filter((r) => r.channels === 'in_app_then_push').map((r) => r.id);
      if (awaitingAck.length > 0) {
        await this.deps.jobs.schedule(
          tx,
          PUSH_JOB,
          { ids: awaitingAck, key },
          {
            jobKey: pushJobKey(key),
            runAt: new Date(now.getTime() + waitSeconds * 1000),
            maxAttempts: PUSH_MAX_ATTEMPTS,
            priority: JOB_PRIORITY,
          },
        );
      }
      if (offlinePush.length > 0) {
        await this.deps.jobs.schedule(
          tx,
          PUSH_JOB,
          { ids: offlinePush.map((r) => r.id), key: `${key}:offline` },
          { jobKey: pushJobKey(`${key}:offline`), maxAttempts: PUSH_MAX_ATTEMPTS, priority: JOB_PRIORITY },
        );
      }
    });
    // After the commit: a crash before these publishes loses nothing, the push job follows.
    if (inApp.length >= BATCH_THRESHOLD) {
      const batch: InAppBatchMessage = {
        type: 'notification_batch',
        occurredAt: now.toISOString(),
        items: Object.fromEntries(inApp.map((r) => [r.userId, inAppMessage(r, now).payload])),
      };
      await this.deps.pubsub.publish(NOTIFICATION_BATCH_CHANNEL, batch);
    } else {
      await Promise.all(
        inApp.map((r) => this.deps.pubsub.publish(channels.user(r.userId), inAppMessage(r, now))),
      );
    }
  }
}
