import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import { createPushProviders, type PushConfig } from '../../providers/push/create-push-providers.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { CronService } from '../timetable/cron.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { PresenceService } from '../user/presence/presence.service.ts';
import type { PushTokenService } from '../user/push-tokens.service.ts';
import { BroadcastRepository } from './broadcast.repository.ts';
import { BroadcastService } from './broadcast.service.ts';
import { DeliveryLogRepository } from './delivery-log.repository.ts';
import { registerNotificationConsumers } from './notification.consumers.ts';
import { NotificationRepository } from './notification.repository.ts';
import { DELIVER_JOB, NotificationService, PUSH_JOB } from './notification.service.ts';
import { NotificationDelivery } from './notification-delivery.ts';
import { PushDelivery } from './push-delivery.ts';
import { PushSendRepository } from './push-send.repository.ts';
import { registerSocialNotificationConsumers, type SocialLookups } from './social.consumers.ts';

export const SWEEP_DEAD_PUSHES_TASK = 'notification.sweep_dead_pushes';
/** A push run holding its lock this long is dead: a run's provider calls are bounded by their time-outs. */
export const DEAD_PUSH_LOCK_MS = 15 * 60_000;

/**
 * Wires the notification domain: service, delivery jobs, push providers, event consumers. The
 * providers hold connections (APNs keeps one HTTP/2 session): the server's shutdown closes them.
 */
export function createNotifications(deps: {
  db: Db;
  config: PushConfig;
  jobs: JobQueue;
  cron: CronService;
  eventLog: EventLog;
  pubsub: PubSub;
  presence: PresenceService;
  pushTokens: PushTokenService;
  settings: SettingsService;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  /** Names and message text for chat and favourites notifications (their events carry ids only). */
  social: SocialLookups;
}) {
  const repo = new NotificationRepository(deps.db);
  const log = new DeliveryLogRepository(deps.db);
  const sends = new PushSendRepository(deps.db);
  const providers = createPushProviders(deps.config, deps.clock, ({ target, message }) =>
    sends.recordOutbox({
      notificationId: message.notificationId,
      userId: target.userId,
      tokenKind: target.kind,
      token: target.token,
      payload: { ...message, expiresAt: message.expiresAt.toISOString() },
    }),
  );
  const service = new NotificationService({ repo, log, sends, jobs: deps.jobs, clock: deps.clock });
  const delivery = new NotificationDelivery({
    repo,
    log,
    jobs: deps.jobs,
    pubsub: deps.pubsub,
    presence: deps.presence,
    settings: deps.settings,
    clock: deps.clock,
  });
  const pushDelivery = new PushDelivery({
    repo,
    log,
    sends,
    pushTokens: deps.pushTokens,
    settings: deps.settings,
    providers,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'notifications' }),
  });
  deps.jobs.registerTask(DELIVER_JOB, (payload) => delivery.deliver(payload));
  // The job's run count lets its last run end the notification instead of leaving it `pushing`.
  deps.jobs.registerTask(PUSH_JOB, (payload, job) => pushDelivery.push(payload, job));
  // The safety net for what the last run cannot do: end notifications whose push job died with its
  // process on that run (graphile-worker never runs such a job again).
  deps.cron.registerTask(
    SWEEP_DEAD_PUSHES_TASK,
    async ({ log: cronLog }) => {
      const ended = await pushDelivery.sweepDeadJobs(deps.jobs, DEAD_PUSH_LOCK_MS);
      if (ended > 0) cronLog.warn({ ended }, 'notification: ended notifications of dead push jobs');
    },
    { defaultTask: { name: 'notification-sweep-dead-pushes', cron: '0 * * * * *' } },
  );
  registerNotificationConsumers(deps.eventLog, service);
  registerSocialNotificationConsumers(deps.eventLog, service, deps.social);
  const broadcasts = new BroadcastService({
    repo: new BroadcastRepository(deps.db),
    jobs: deps.jobs,
    audit: deps.audit,
    clock: deps.clock,
  });
  return { service, delivery, pushDelivery, broadcasts, providers };
}

export type Notifications = ReturnType<typeof createNotifications>;
