import { userBlocked } from '../blocklist/blocklist.events.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { CallService } from './call.service.ts';

export const VIDEO_BLOCK_CONSUMER = 'video_block_terminations';

/**
 * `user_blocked` → the ongoing call between the two accounts (if any, ringing or connected) ends as
 * `blocked`. Ending is idempotent and runs in its own transaction, so a redelivery is harmless. Starts
 * from now: an old block has no call left to end.
 */
export function registerCallConsumers(
  eventLog: EventLog,
  calls: Pick<CallService, 'terminateCallBetween'>,
): void {
  eventLog.registerConsumer({
    name: VIDEO_BLOCK_CONSUMER,
    types: [userBlocked.type],
    startFrom: 'now',
    onExhausted: 'stop',
    handler: async (event) => {
      if (!userBlocked.matches(event)) return;
      await calls.terminateCallBetween(event.payload.blockerId, event.payload.blockedId, 'blocked');
    },
  });
}
