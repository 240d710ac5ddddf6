import type { Clock } from '../../../platform/clock.ts';
import type { Db } from '../../../platform/db/database.ts';
import type { Logger } from '../../../platform/observability/logger.ts';
import { channels, type PubSub } from '../../../platform/realtime/pubsub.ts';
import type { EventLog } from '../../event_log/event-log.service.ts';
import type { CronService } from '../../timetable/cron.service.ts';
import { presenceEvents } from './presence.events.ts';
import { PresenceRepository } from './presence.repository.ts';
import { PresenceService, type PresenceSettings, type PresenceView } from './presence.service.ts';

export const PRESENCE_SWEEP_TASK = 'presence.sweep';
export const PRESENCE_FANOUT_CONSUMER = 'presence_fanout';
/** One topic for every presence change; each subscription keeps the users it watches. */
export const PRESENCE_CHANNEL = channels.topic('presence');

/** What the presence channel carries: the user's presence after the change. */
export type PresenceMessage = Omit<PresenceView, 'onlineSince' | 'lastSeenAt'> & {
  onlineSince: string | null;
  lastSeenAt: string | null;
};

export function isPresenceMessage(value: unknown): value is PresenceMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { userId?: unknown }).userId === 'string'
  );
}

/** Wires the presence module: service, sweep cron task, fan-out of committed changes to subscribers. */
export function createPresence(deps: {
  db: Db;
  eventLog: EventLog;
  cron: CronService;
  pubsub: PubSub;
  clock: Clock;
  logger: Logger;
  settings: PresenceSettings;
}): PresenceService {
  const presence = new PresenceService({
    repo: new PresenceRepository(deps.db),
    events: deps.eventLog,
    clock: deps.clock,
    logger: deps.logger,
    settings: deps.settings,
  });
  deps.cron.registerTask(
    PRESENCE_SWEEP_TASK,
    async ({ log }) => {
      const { nodes, wentOffline } = await presence.sweep();
      if (nodes > 0) log.info({ nodes, wentOffline }, 'presence: connections of silent nodes removed');
    },
    // Every 5 seconds: with the default TTL of 30 s a dead node's users are offline within about 35 s.
    { defaultTask: { name: 'presence-sweep', cron: '*/5 * * * * *' } },
  );
  // Announced after commit through the event log, so no subscriber hears of a rolled-back change.
  // The message is read from the status at publish time: clients get the newest state.
  deps.eventLog.registerConsumer({
    name: PRESENCE_FANOUT_CONSUMER,
    types: presenceEvents.map((definition) => definition.type),
    startFrom: 'now',
    onExhausted: 'skip',
    maxAttempts: 3,
    handler: async (event) => {
      if (!event.userId) return;
      const [current] = await presence.getPresence([event.userId]);
      if (!current) return;
      const message: PresenceMessage = {
        ...current,
        onlineSince: current.onlineSince?.toISOString() ?? null,
        lastSeenAt: current.lastSeenAt?.toISOString() ?? null,
      };
      await deps.pubsub.publish(PRESENCE_CHANNEL, message);
    },
  });
  return presence;
}
