import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const favoriteAdded = defineEvent({
  type: 'favorite_added',
  version: 1,
  description:
    'A user added a streamer to their favourites (only when it was not one already: adding twice ' +
    'emits once). The interaction read model counts it.',
  payload: z.object({ userId: z.uuid(), favoriteId: z.uuid() }),
});

export const favoriteRemoved = defineEvent({
  type: 'favorite_removed',
  version: 1,
  description: 'A user removed a streamer from their favourites (only when it was one).',
  payload: z.object({ userId: z.uuid(), favoriteId: z.uuid() }),
});

/** Followers per favorite_came_online event: bounds the payload (about 19 kB of ids) and the fan-out. */
export const CAME_ONLINE_BATCH = 500;

export const favoriteCameOnline = defineEvent({
  type: 'favorite_came_online',
  version: 1,
  description:
    'A favourited streamer came online. One event per batch of at most 500 followers (a streamer ' +
    'with 50k followers gives 100 events); followers blocked either way are left out. Notifications ' +
    'consume it.',
  payload: z.object({
    favoriteId: z.uuid(),
    onlineSince: z.iso.datetime(),
    followerIds: z.array(z.uuid()).min(1).max(CAME_ONLINE_BATCH),
  }),
});

/** Every event the favorites domain emits. */
export const favoritesEvents = [favoriteAdded, favoriteRemoved, favoriteCameOnline];
