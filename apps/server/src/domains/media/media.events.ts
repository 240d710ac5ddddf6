import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const photoModerated = defineEvent({
  type: 'photo_moderated',
  version: 1,
  description:
    "A moderator approved or rejected one of the account's photos (with the reason when rejected). " +
    'The owner receives it on their accountEvents subscription.',
  payload: z.object({
    mediaId: z.uuid(),
    ownerId: z.uuid(),
    decision: z.enum(['approved', 'rejected']),
    reason: z.string().nullable(),
  }),
});

export const videoModerated = defineEvent({
  type: 'video_moderated',
  version: 1,
  description:
    "A moderator approved or rejected one of the account's videos (with the reason when rejected). " +
    'The owner receives it on their accountEvents subscription.',
  payload: z.object({
    mediaId: z.uuid(),
    ownerId: z.uuid(),
    decision: z.enum(['approved', 'rejected']),
    reason: z.string().nullable(),
  }),
});

/** Every event the media domain emits. */
export const mediaEvents = [photoModerated, videoModerated];

/** Events the owner may see on their accountEvents subscription. */
export const mediaAccountVisibleEvents = [photoModerated, videoModerated];
