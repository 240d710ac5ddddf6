import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import { createPushProviders, type PushConfig } from '../../providers/push/create-push-providers.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { PresenceService } from '../user/presence/presence.service.ts';
import type { PushTokenService } from '../user/push-tokens.service.ts';
import { BroadcastService } from './broadcast.service.ts';
import { registerNotificationConsumers } from './notification.consumers.ts';
import { NotificationRepository } from './notification.repository.ts';
import { DELIVER_JOB, NotificationService, PUSH_JOB } from './notification.service.ts';
import { NotificationDelivery } from './notification-delivery.ts';

/** Wires the notification domain: service, delivery jobs, push providers, event consumers. */
export function createNotifications(deps: {
  db: Db;
  config: PushConfig;
  jobs: JobQueue;
  eventLog: EventLog;
  pubsub: PubSub;
  presence: PresenceService;
  pushTokens: PushTokenService;
  settings: SettingsService;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
}) {
  const repo = new NotificationRepository(deps.db);
  const providers = createPushProviders(deps.config, deps.clock, ({ target, message }) =>
    repo.recordOutbox({
      notificationId: message.notificationId,
      userId: target.userId,
      tokenKind: target.kind,
      token: target.token,
      payload: { ...message, expiresAt: message.expiresAt.toISOString() },
    }),
  );
  const service = new NotificationService({ repo, jobs: deps.jobs, clock: deps.clock });
  const delivery = new NotificationDelivery({
    repo,
    jobs: deps.jobs,
    pubsub: deps.pubsub,
    presence: deps.presence,
    pushTokens: deps.pushTokens,
    settings: deps.settings,
    providers,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'notifications' }),
  });
  deps.jobs.registerTask(DELIVER_JOB, (payload) => delivery.deliver(payload));
  deps.jobs.registerTask(PUSH_JOB, (payload) => delivery.push(payload));
  registerNotificationConsumers(deps.eventLog, service);
  const broadcasts = new BroadcastService({ repo, jobs: deps.jobs, audit: deps.audit, clock: deps.clock });
  return { service, delivery, broadcasts, providers };
}

export type Notifications = ReturnType<typeof createNotifications>;
