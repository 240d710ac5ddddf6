import type { ObjectStorage } from '../../providers/storage/storage.provider.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { userDeleted } from '../user/user.events.ts';
import type { MediaRepository } from './media.repository.ts';

export const MEDIA_ERASURE_CONSUMER = 'media_erase_deleted_accounts';

/**
 * Erases a deleted account's uploads (photos and KYC documents): the rows go in the consumer's
 * transaction, the stored files right after in the same handler. If a file cannot be deleted the
 * handler throws, the row deletion rolls back and the retry finds the same files again (deleting a
 * missing file is a no-op). Moderation audit entries live in mission_control and stay.
 */
export function registerMediaConsumers(
  eventLog: EventLog,
  repo: MediaRepository,
  storage: ObjectStorage,
): void {
  eventLog.registerConsumer({
    name: MEDIA_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      const removed = await repo.deleteByOwner(tx, event.payload.userId);
      for (const item of removed) {
        for (const variant of item.variants) await storage.delete(variant.key);
      }
    },
  });
}
