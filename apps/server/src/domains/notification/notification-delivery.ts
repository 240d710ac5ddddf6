import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { channels, type PubSub } from '../../platform/realtime/pubsub.ts';
import type { PushProviders } from '../../providers/push/create-push-providers.ts';
import type { PushMessage, PushProvider, PushTarget } from '../../providers/push/push.provider.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { PushTokenService } from '../user/push-tokens.service.ts';
import type { NotificationRepository, NotificationRow, PushSendRow } from './notification.repository.ts';
import { JOB_PRIORITY, PUSH_JOB, pushJobKey } from './notification.service.ts';
import type { PushSendState } from './notification.tables.ts';
import { isNotificationKind, type KindDefinition, kindDefinition } from './notification-kinds.ts';
import { selectTargets } from './push-targets.ts';

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
// Devices pushed to at once within one job.
const PUSH_CONCURRENCY = 32;

type Presence = {
  getPresence(userIds: readonly string[]): Promise<Array<{ userId: string; online: boolean }>>;
};

export type DeliveryDeps = {
  repo: NotificationRepository;
  jobs: JobQueue;
  pubsub: PubSub;
  presence: Presence;
  pushTokens: Pick<PushTokenService, 'list' | 'removeInvalid'>;
  settings: Pick<SettingsService, 'get'>;
  providers: PushProviders;
  clock: Clock;
  logger: Logger;
};

export class RetryLater extends Error {
  override name = 'RetryLater';
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

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
 * The two durable steps of delivery. `deliver` sends in-app to the accounts that are online and
 * schedules the push that follows unless an acknowledgement comes first; offline accounts get the
 * push job at once. `push` sends to each device at most once per (notification, device), recorded
 * in notification.push_sends around each provider call. Both are safe to run again after a crash.
 */
export class NotificationDelivery {
  private readonly deps: DeliveryDeps;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
  }

  private definition(kind: string): KindDefinition | undefined {
    return isNotificationKind(kind) ? kindDefinition(kind) : undefined;
  }

  private async ackTimeoutSeconds(kind: string): Promise<number> {
    const overrides = await this.deps.settings.get('notification.ack_timeout_seconds');
    return overrides[kind] ?? this.definition(kind)?.ackTimeoutSeconds ?? 10;
  }

  /** Effective expiry: a call never outlives its ring time-out. */
  private async expiresAt(row: NotificationRow): Promise<Date> {
    if (!this.definition(row.kind)?.call) return row.expiresAt;
    const ring = await this.deps.settings.get('call.ring_timeout_seconds');
    return new Date(Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + ring * 1000));
  }

  async deliver(payload: unknown): Promise<void> {
    const { ids, key } = jobPayloadSchema.parse(payload);
    const { repo, clock } = this.deps;
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
      await repo.addAttempts(tx, [
        ...expired.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'expired',
          at: now,
        })),
        ...inApp.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'in_app_sent',
          at: now,
        })),
        ...offlinePush.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'offline',
          detail: 'not online: push at once',
          at: now,
        })),
        ...offlineKept.map((r) => ({
          notificationId: r.id,
          channel: 'in_app' as const,
          outcome: 'offline',
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
            maxAttempts: 10,
            priority: JOB_PRIORITY,
          },
        );
      }
      if (offlinePush.length > 0) {
        await this.deps.jobs.schedule(
          tx,
          PUSH_JOB,
          { ids: offlinePush.map((r) => r.id), key: `${key}:offline` },
          { jobKey: pushJobKey(`${key}:offline`), maxAttempts: 10, priority: JOB_PRIORITY },
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

  async push(payload: unknown): Promise<void> {
    const { ids } = jobPayloadSchema.parse(payload);
    const { repo, clock } = this.deps;
    const now = clock.now();
    const rows = await repo.getMany(repo.db, ids);
    // Claimed against a concurrent acknowledgement: the one that commits first wins.
    const claimed = await withTransaction(repo.db, async (tx) => {
      const locked = await Promise.all(rows.map((r) => repo.get(tx, r.id, { forUpdate: true })));
      const due = locked.filter(
        (r): r is NotificationRow =>
          r !== undefined &&
          r.acknowledgedAt === null &&
          (r.status === 'pending' || r.status === 'in_app_sent' || r.status === 'pushing'),
      );
      const expired: NotificationRow[] = [];
      const pushing: NotificationRow[] = [];
      for (const r of due) ((await this.expiresAt(r)).getTime() <= now.getTime() ? expired : pushing).push(r);
      await repo.setStatus(
        tx,
        expired.map((r) => r.id),
        'expired',
      );
      await repo.addAttempts(
        tx,
        expired.map((r) => ({ notificationId: r.id, channel: 'push' as const, outcome: 'expired', at: now })),
      );
      await repo.setStatus(
        tx,
        pushing.filter((r) => r.status !== 'pushing').map((r) => r.id),
        'pushing',
      );
      return pushing;
    });
    // One read of the device records for the whole batch; each device is then one write before and
    // one after its provider call, and the notifications' final statuses are two updates.
    const records = new Map(
      (
        await repo.pushSends(
          repo.db,
          claimed.map((r) => r.id),
        )
      ).map((p) => [`${p.notificationId}:${p.tokenId}`, p]),
    );
    const finished = { pushed: [] as string[], push_failed: [] as string[], noDevices: [] as string[] };
    let retry = false;
    await mapLimit(claimed, PUSH_CONCURRENCY, async (row) => {
      const outcome = await this.pushOne(row, records);
      if (outcome === 'retry') retry = true;
      else if (outcome === 'no_devices') finished.noDevices.push(row.id);
      else finished[outcome].push(row.id);
    });
    const done = clock.now();
    await withTransaction(repo.db, async (tx) => {
      await repo.setStatus(tx, finished.pushed, 'pushed');
      await repo.setStatus(tx, [...finished.push_failed, ...finished.noDevices], 'push_failed');
      await repo.addAttempts(
        tx,
        finished.noDevices.map((id) => ({
          notificationId: id,
          channel: 'push' as const,
          outcome: 'push_failed',
          detail: 'no push devices',
          at: done,
        })),
      );
    });
    if (retry) throw new RetryLater('some devices answered with a transient failure; retried with back-off');
  }

  /** Pushes one notification to the account's devices. */
  private async pushOne(
    row: NotificationRow,
    records: Map<string, PushSendRow>,
  ): Promise<'pushed' | 'push_failed' | 'no_devices' | 'retry'> {
    const definition = this.definition(row.kind);
    const tokens = (await this.deps.pushTokens.list(row.userId)).map(
      (t): PushTarget => ({
        tokenId: t.id,
        userId: row.userId,
        kind: t.kind,
        platform: t.platform,
        token: t.token,
      }),
    );
    const targets = selectTargets(definition ?? {}, tokens);
    if (targets.length === 0) return 'no_devices';
    const message: PushMessage = {
      notificationId: row.id,
      kind: row.kind,
      title: row.title,
      body: row.body,
      data: Object.fromEntries(
        Object.entries(row.data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      ),
      priority: row.priority,
      expiresAt: await this.expiresAt(row),
      call: definition?.call === true,
    };
    const states = await Promise.all(
      targets.map((target) =>
        this.sendToDevice(row, target, message, records.get(`${row.id}:${target.tokenId}`)),
      ),
    );
    if (states.includes('retry')) return 'retry';
    return states.includes('sent') ? 'pushed' : 'push_failed';
  }

  private async sendToDevice(
    row: NotificationRow,
    target: PushTarget,
    message: PushMessage,
    existing: PushSendRow | undefined,
  ): Promise<PushSendState> {
    const { repo, clock } = this.deps;
    const provider: PushProvider = this.deps.providers.forKind(target.kind);
    if (existing && existing.state !== 'sending' && existing.state !== 'retry') return existing.state;
    if (existing?.state === 'sending' && provider.redelivery(target, message) === 'at_most_once') {
      // A previous run died between "sending" and the answer: it may have gone out. Not resent.
      await repo.finishPushSend(repo.db, {
        notificationId: row.id,
        tokenId: target.tokenId,
        state: 'unknown',
        detail: 'interrupted during send; not resent (at-most-once)',
        outcome: 'push_unknown',
        provider: provider.name,
        now: clock.now(),
      });
      return 'unknown';
    }
    await repo.startPushSend(repo.db, {
      notificationId: row.id,
      tokenId: target.tokenId,
      provider: provider.name,
      now: clock.now(),
    });
    const result = await provider.send(target, message);
    const state: PushSendState =
      result.outcome === 'sent'
        ? 'sent'
        : result.outcome === 'invalid_token'
          ? 'invalid_token'
          : result.outcome === 'retry'
            ? 'retry'
            : 'failed';
    const outcome = {
      sent: 'push_sent',
      invalid_token: 'invalid_token',
      retry: 'push_retry',
      failed: 'push_failed',
    }[result.outcome];
    await repo.finishPushSend(repo.db, {
      notificationId: row.id,
      tokenId: target.tokenId,
      state,
      providerId: result.outcome === 'sent' ? (result.providerId ?? null) : null,
      detail: result.outcome === 'sent' ? null : result.reason,
      outcome,
      provider: provider.name,
      now: clock.now(),
    });
    if (result.outcome === 'invalid_token') {
      const removed = await this.deps.pushTokens.removeInvalid(target.kind, [target.token]);
      this.deps.logger.info(
        { notificationId: row.id, kind: target.kind, removed },
        'push token rejected by provider; removed',
      );
    }
    return state;
  }
}
