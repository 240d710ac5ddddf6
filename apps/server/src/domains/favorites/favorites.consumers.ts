import type { EventLog } from '../event_log/event-log.service.ts';
import { userCameOnline } from '../user/presence/presence.events.ts';
import { userDeleted } from '../user/user.events.ts';
import { CAME_ONLINE_BATCH, favoriteCameOnline } from './favorites.events.ts';
import type { FavoritesRepository } from './favorites.repository.ts';

export const FAVORITE_CAME_ONLINE_CONSUMER = 'favorites_came_online_fanout';
export const FAVORITES_ERASURE_CONSUMER = 'favorites_erase_deleted_accounts';

/**
 * `user_came_online` → `favorite_came_online` for the streamer's followers, in batches of 500 ids,
 * all emitted in the consumer's transaction (so a retry re-emits none twice: the batch commits with
 * the cursor or not at all). Batches rather than one event per follower: 50k followers make 100 rows
 * in the event log instead of 50k, and notifications can send one multicast per batch. Starts from
 * now: replaying old "came online" moments would notify about streamers long gone offline.
 */
export function registerFavoritesConsumers(eventLog: EventLog, repo: FavoritesRepository): void {
  eventLog.registerConsumer({
    name: FAVORITE_CAME_ONLINE_CONSUMER,
    types: [userCameOnline.type],
    startFrom: 'now',
    onExhausted: 'skip',
    // Each event can fan out to many batches: fewer events per transaction keeps it short.
    batchSize: 10,
    handler: async (event, { tx, emit }) => {
      if (!userCameOnline.matches(event)) return;
      const { userId, onlineSince } = event.payload;
      let after: string | null = null;
      for (;;) {
        const followerIds = await repo.followersToNotify(tx, userId, after, CAME_ONLINE_BATCH);
        if (followerIds.length === 0) break;
        await emit(favoriteCameOnline.event({ favoriteId: userId, onlineSince, followerIds }, { userId }));
        if (followerIds.length < CAME_ONLINE_BATCH) break;
        after = followerIds.at(-1) ?? null;
      }
    },
  });

  // Erasure must not be skipped: after its retries it stops and shows in the admin API.
  eventLog.registerConsumer({
    name: FAVORITES_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await repo.eraseAccount(tx, event.payload.userId);
    },
  });
}
