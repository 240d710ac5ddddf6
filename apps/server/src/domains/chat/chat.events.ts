import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const messageSent = defineEvent({
  type: 'message_sent',
  version: 1,
  description:
    'A chat message was stored: `text` from a person, `system` for a gift, call or greeting record. ' +
    'Notifications may turn it into a push for an offline recipient.',
  payload: z.object({
    messageId: z.uuid(),
    conversationId: z.uuid(),
    senderId: z.uuid(),
    recipientId: z.uuid(),
    kind: z.enum(['text', 'system']),
  }),
});

/** Every event the chat domain emits. */
export const chatEvents = [messageSent];
