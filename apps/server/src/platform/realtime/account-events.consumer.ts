import type { EventDefinition } from '../../domains/event_log/event-catalogue.ts';
import type { EventLog } from '../../domains/event_log/event-log.service.ts';
import { channels, type PubSub } from './pubsub.ts';
import type { AccountEventMessage } from './realtime.graphql.ts';

export const ACCOUNT_EVENTS_CONSUMER = 'realtime_account_events';

/**
 * Committed events that an account may see go to that account's channel, and so to its
 * `accountEvents` subscriptions on every node. Going through the event log means a subscriber never
 * hears of a change that was rolled back. Only the listed types are forwarded: other events may carry
 * data the account must not see. Realtime is a hint, so a new deployment starts from new events and
 * a failing publish is retried a few times, then skipped.
 */
export function registerAccountEventsFanout(
  eventLog: EventLog,
  pubsub: PubSub,
  visible: readonly EventDefinition[],
): void {
  eventLog.registerConsumer({
    name: ACCOUNT_EVENTS_CONSUMER,
    types: visible.map((definition) => definition.type),
    startFrom: 'now',
    onExhausted: 'skip',
    maxAttempts: 3,
    handler: async (event) => {
      if (!event.userId) return;
      const message: AccountEventMessage = {
        type: event.type,
        occurredAt: event.occurredAt.toISOString(),
        payload: event.payload,
      };
      await pubsub.publish(channels.user(event.userId), message);
    },
  });
}
