import type { Clock } from '../../platform/clock.ts';
import type { Config } from '../../platform/config/config.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { createDestinations } from '../../providers/analytics/create-destinations.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { CronService } from '../timetable/cron.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { ApphudService } from './apphud.service.ts';
import { AttributionRepository } from './attribution.repository.ts';
import { AttributionService } from './attribution.service.ts';
import { DeliveryRepository } from './delivery.repository.ts';
import { DeliveryService } from './delivery.service.ts';
import { registerAdsErasureConsumer, registerPostbackConsumer } from './postback.consumer.ts';

/**
 * Wires the ads domain: attribution intake, tracking consent, postbacks to the configured analytics
 * destinations (the local sink by default), Apphud webhooks. See docs/ads-and-analytics.md.
 */
export function createAds(deps: {
  db: Db;
  config: Config['analytics'];
  clock: Clock;
  logger: Logger;
  eventLog: EventLog;
  jobs: JobQueue;
  cron: CronService;
  settings: SettingsService;
  contacts: (userId: string) => Promise<{ email: string | null; phone: string | null }>;
}) {
  const { db, clock } = deps;
  const attributions = new AttributionRepository(db);
  const deliveryRepo = new DeliveryRepository(db);
  const destinations = createDestinations(deps.config, (events) =>
    deliveryRepo.recordSinkEvents(events, clock.now()),
  );
  registerPostbackConsumer({
    eventLog: deps.eventLog,
    attributions,
    deliveries: deliveryRepo,
    destinations,
    jobs: deps.jobs,
  });
  registerAdsErasureConsumer(deps.eventLog, attributions);
  const deliveries = new DeliveryService({
    db,
    repo: deliveryRepo,
    attributions,
    destinations,
    contacts: deps.contacts,
    jobs: deps.jobs,
    clock,
    logger: deps.logger.child({ domain: 'ads' }),
    settings: {
      httpTimeoutMs: deps.config.httpTimeoutMs,
      maxAttempts: deps.config.maxAttempts,
      retryBaseMs: deps.config.retryBaseMs,
      attributionWaitMs: deps.config.attributionWaitMs,
    },
  });
  deliveries.register(deps.cron);
  return {
    config: deps.config,
    attribution: new AttributionService({ db, repo: attributions, clock, deliveries }),
    apphud: new ApphudService({ repo: attributions, settings: deps.settings, clock }),
    deliveries,
    deliveryLog: deliveryRepo,
    exportFor: (userId: string) => attributions.exportFor(userId),
  };
}

export type Ads = ReturnType<typeof createAds>;
