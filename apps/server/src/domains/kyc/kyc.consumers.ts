import type { Clock } from '../../platform/clock.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { userDeleted } from '../user/user.events.ts';
import type { KycRepository } from './kyc.repository.ts';

export const KYC_ERASURE_CONSUMER = 'kyc_erase_deleted_accounts';

/**
 * A deleted account's submissions lose their document references (the files themselves go with the
 * media domain's erasure); decisions and reviews stay for compliance. Like the profile erasure, this
 * must not be skipped, so after its retries the consumer stops and shows in the admin API.
 */
export function registerKycConsumers(eventLog: EventLog, repo: KycRepository, clock: Clock): void {
  eventLog.registerConsumer({
    name: KYC_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await repo.eraseDocuments(tx, event.payload.userId, clock.now());
    },
  });
}
