import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

// Coins as JSON numbers: gift prices are capped at 1e9 by the catalogue.
const coins = z.number().int().nonnegative();

export const giftSent = defineEvent({
  type: 'gift_sent',
  version: 1,
  description:
    'A user sent a gift to a streamer in a chat or a call (callId set in a call). coins is what the ' +
    'sender paid, earned what the streamer and their agency were credited together. The streamer ' +
    'receives it on their accountEvents subscription; chat and notifications consume it.',
  payload: z.object({
    sentId: z.uuid(),
    giftId: z.uuid(),
    senderId: z.uuid(),
    streamerId: z.uuid(),
    coins,
    earned: coins,
    context: z.enum(['chat', 'call']),
    callId: z.uuid().nullable(),
  }),
});

/** Every event the gift domain emits. */
export const giftEvents = [giftSent];

/** Events the account concerned may see on its accountEvents subscription (the streamer, for gift_sent). */
export const giftAccountVisibleEvents = [giftSent];
