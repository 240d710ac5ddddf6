import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

/** A viewer opening the same profile again within this window is one view. */
export const PROFILE_VIEW_THROTTLE_MS = 10 * 60 * 1000;

export const profileViewed = defineEvent({
  type: 'profile_viewed',
  version: 1,
  description:
    "A signed-in user opened another account's profile (the client calls recordProfileView). At most " +
    'one per viewer and profile per 10 minutes is emitted; the interaction read model counts them.',
  payload: z.object({ viewerId: z.uuid(), viewedId: z.uuid() }),
});

/** Every event the interaction domain emits. */
export const interactionEvents = [profileViewed];
