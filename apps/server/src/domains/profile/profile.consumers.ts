import type { EventLog } from '../event_log/event-log.service.ts';
import { userDeleted } from '../user/user.events.ts';
import type { ProfileRepository } from './profile.repository.ts';

export const PROFILE_ERASURE_CONSUMER = 'profile_erase_deleted_accounts';

/**
 * A deleted account keeps an anonymised row in the user domain, so the foreign key's cascade never
 * fires: the profile (birth date, real name, payout details) is erased when `user_deleted` arrives.
 * Erasure must not be skipped, so after its retries the consumer stops and shows in the admin API.
 */
export function registerProfileConsumers(eventLog: EventLog, repo: ProfileRepository): void {
  eventLog.registerConsumer({
    name: PROFILE_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await repo.erase(tx, event.payload.userId);
    },
  });
}
