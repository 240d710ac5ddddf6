import { messageSent } from '../chat/chat.events.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { favoriteCameOnline } from '../favorites/favorites.events.ts';
import type { NotificationService, NotifyInput } from './notification.service.ts';

export const NOTIFICATION_SOCIAL_CONSUMER = 'notification_from_social';

/** Longest message preview a notification shows: a lock screen shows two lines at most. */
export const PREVIEW_CHARACTERS = 80;

/**
 * What the social events need that their payloads leave out on purpose: the event log keeps ids,
 * not names or message text (it is retained longer, and a deleted account must not linger in it).
 */
export type SocialLookups = {
  /** A person's display name, or null when they have none (or were deleted). */
  displayName(userId: string): Promise<string | null>;
  /** The text of a chat message, or null when it is gone (deleted account, hidden conversation). */
  messageText(messageId: string): Promise<string | null>;
};

export function previewOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= PREVIEW_CHARACTERS ? flat : `${chars.slice(0, PREVIEW_CHARACTERS - 1).join('')}…`;
}

/**
 * The notifications a chat or favourites event makes, each with its own dedupe key (one event may
 * tell up to a batch of followers). System records (gift and call lines, greetings) make none:
 * gifts and calls have their own notifications.
 */
export async function socialNotificationsFor(
  event: LoggedEvent,
  lookups: SocialLookups,
): Promise<NotifyInput[]> {
  if (messageSent.matches(event)) {
    const p = event.payload;
    if (p.kind !== 'text') return [];
    const text = await lookups.messageText(p.messageId);
    if (text === null) return [];
    const senderName = (await lookups.displayName(p.senderId)) ?? 'New message';
    return [
      {
        userId: p.recipientId,
        kind: 'new_message',
        variables: { senderName, preview: previewOf(text) },
        data: { conversationId: p.conversationId, messageId: p.messageId, senderId: p.senderId },
        dedupeKey: `event:${event.id}`,
      },
    ];
  }
  if (favoriteCameOnline.matches(event)) {
    const p = event.payload;
    const name = (await lookups.displayName(p.favoriteId)) ?? 'A favourite';
    return p.followerIds.map((followerId) => ({
      userId: followerId,
      kind: 'favourite_online',
      variables: { name },
      data: { userId: p.favoriteId, onlineSince: p.onlineSince },
      dedupeKey: `event:${event.id}:${followerId}`,
    }));
  }
  return [];
}

/**
 * Chat messages and favourites coming online become notifications, in the consumer's transaction
 * (as the other domains' events do, see notification.consumers.ts). A separate consumer because these
 * need lookups and are far more frequent: a burst of messages does not hold up a payout's notice.
 */
export function registerSocialNotificationConsumers(
  eventLog: EventLog,
  notifications: Pick<NotificationService, 'notify'>,
  lookups: SocialLookups,
): void {
  eventLog.registerConsumer({
    name: NOTIFICATION_SOCIAL_CONSUMER,
    types: [messageSent.type, favoriteCameOnline.type],
    startFrom: 'now',
    onExhausted: 'skip',
    handler: async (event, { tx }) => {
      for (const input of await socialNotificationsFor(event, lookups)) await notifications.notify(tx, input);
    },
  });
}
