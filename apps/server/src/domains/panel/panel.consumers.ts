import type { Clock } from '../../platform/clock.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { purchaseCompleted, purchaseRefunded } from '../payment/payment.events.ts';
import { onboardingCompleted } from '../profile/profile.events.ts';
import { userCameOnline, userWentOffline } from '../user/presence/presence.events.ts';
import { userDeleted, userSignUp } from '../user/user.events.ts';
import { callEnded } from '../video/call.events.ts';
import type { CohortService } from './cohort.service.ts';
import type { UserFactsRepository } from './user-facts.repository.ts';

export const PANEL_FACTS_CONSUMER = 'panel_user_facts';

const FACT_EVENTS = [
  userSignUp.type,
  purchaseCompleted.type,
  purchaseRefunded.type,
  callEnded.type,
  onboardingCompleted.type,
  userCameOnline.type,
  userWentOffline.type,
  userDeleted.type,
];

/**
 * Keeps panel.user_facts up to date and re-evaluates the affected users' rule cohorts in the same
 * transaction, so a purchase past a threshold puts the buyer in the cohort without waiting for the
 * timetable task. From the beginning: the facts are sums over the whole history. A failed fact would
 * leave a sum wrong for good, so after its retries the consumer stops and shows in the admin API.
 */
export function registerPanelConsumers(
  eventLog: EventLog,
  facts: UserFactsRepository,
  cohorts: CohortService,
  clock: Clock,
): void {
  eventLog.registerConsumer({
    name: PANEL_FACTS_CONSUMER,
    types: FACT_EVENTS,
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      const now = clock.now();
      let affected: string[] = [];
      if (userDeleted.matches(event)) {
        await facts.erase(tx, event.payload.userId);
        return;
      }
      if (userSignUp.matches(event)) {
        await facts.signedUp(tx, event.payload.userId, event.occurredAt, now);
        affected = [event.payload.userId];
      } else if (purchaseCompleted.matches(event)) {
        await facts.addCoinsBought(tx, event.payload.userId, BigInt(event.payload.coins), now);
        affected = [event.payload.userId];
      } else if (purchaseRefunded.matches(event)) {
        await facts.addCoinsBought(tx, event.payload.userId, -BigInt(event.payload.coins), now);
        affected = [event.payload.userId];
      } else if (callEnded.matches(event)) {
        if (!event.payload.connected) return;
        for (const userId of [event.payload.callerId, event.payload.calleeId])
          await facts.addCall(tx, userId, now);
        affected = [event.payload.callerId, event.payload.calleeId];
      } else if (onboardingCompleted.matches(event)) {
        // Country and languages are read live from the profile; the event only says they changed.
        await facts.touch(tx, event.payload.userId, now);
        affected = [event.payload.userId];
      } else if (userCameOnline.matches(event)) {
        await facts.active(tx, event.payload.userId, new Date(event.payload.onlineSince), now);
        affected = [event.payload.userId];
      } else if (userWentOffline.matches(event)) {
        await facts.active(tx, event.payload.userId, new Date(event.payload.lastSeenAt), now);
        affected = [event.payload.userId];
      }
      for (const userId of affected) await cohorts.recomputeUser(tx, userId);
    },
  });
}
