import type { EventLog } from '../event_log/event-log.service.ts';
import { photoModerated } from '../media/media.events.ts';
import { onboardingCompleted } from '../profile/profile.events.ts';
import { userCameOnline, userWentOffline } from '../user/presence/presence.events.ts';
import { userBanned, userDeleted, userSignUp, userUnbanned } from '../user/user.events.ts';
import type { GalleryRepository } from './gallery.repository.ts';

export const GALLERY_CARDS_CONSUMER = 'gallery_cards_refresh';
export const GALLERY_MODERATION_CONSUMER = 'gallery_cards_moderation';

/** Events after which an account's card is re-read from the published views (they carry no card data). */
const REFRESHING = [userSignUp, userCameOnline, userWentOffline, photoModerated, onboardingCompleted];

/**
 * Keeps gallery.cards current. Each event only names the account: the handler re-reads that card
 * from the published views, so replays, duplicates and out-of-order delivery all converge on the
 * current state. Freshness that a page must guarantee (blocks, bans, deletion, photo, presence) does
 * not depend on these consumers: pages check it live. They decide who enters a new scroll, and in
 * which order.
 */
export function registerGalleryConsumers(eventLog: EventLog, repo: GalleryRepository): void {
  eventLog.registerConsumer({
    name: GALLERY_CARDS_CONSUMER,
    types: REFRESHING.map((d) => d.type),
    startFrom: 'beginning',
    // A card that missed an event is repaired by the rebuild task: presence must keep flowing.
    onExhausted: 'skip',
    batchSize: 200,
    handler: async (event, { tx }) => {
      const userId = photoModerated.matches(event)
        ? event.payload.ownerId
        : userSignUp.matches(event) ||
            userCameOnline.matches(event) ||
            userWentOffline.matches(event) ||
            onboardingCompleted.matches(event)
          ? event.payload.userId
          : null;
      if (userId) await repo.refreshCards(tx, [userId]);
    },
  });

  // Bans live only in these events as far as the read model goes: they must not be skipped.
  eventLog.registerConsumer({
    name: GALLERY_MODERATION_CONSUMER,
    types: [userBanned.type, userUnbanned.type, userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (userBanned.matches(event)) {
        const { userId, until } = event.payload;
        await repo.refreshCards(tx, [userId]);
        await repo.setBan(tx, userId, true, until ? new Date(until) : null);
      } else if (userUnbanned.matches(event)) {
        await repo.setBan(tx, event.payload.userId, false, null);
      } else if (userDeleted.matches(event)) {
        await repo.deleteCard(tx, event.payload.userId);
      }
    },
  });
}
