import { userBlocked } from '../blocklist/blocklist.events.ts';
import { messageSent } from '../chat/chat.events.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { favoriteAdded } from '../favorites/favorites.events.ts';
import { giftSent } from '../gift/gift.events.ts';
import { userDeleted } from '../user/user.events.ts';
import { callEnded } from '../video/call.events.ts';
import { PROFILE_VIEW_THROTTLE_MS, profileViewed } from './interaction.events.ts';
import type { InteractionRepository, PairTouch } from './interaction.repository.ts';

export const INTERACTION_CONSUMERS = {
  calls: 'interaction_calls',
  gifts: 'interaction_gifts',
  favorites: 'interaction_favorites',
  profileViews: 'interaction_profile_views',
  blocks: 'interaction_blocks',
  messages: 'interaction_messages',
  erasure: 'interaction_erase_deleted_accounts',
} as const;

type Source = {
  name: string;
  type: string;
  touches: (event: LoggedEvent) => PairTouch[];
  minGapMs?: number;
};

/**
 * One consumer per source event type, each from the beginning of the retained log: a consumer
 * added later (say, messages) backfills what the log still holds. Every consumer counts an event at
 * most once (`InteractionRepository.apply` keys on the event id), so a redelivery or a replay after
 * a cursor reset adds nothing. Events of types not in the catalogue (a domain not there yet) get
 * no consumer: `isKnownType` says which are.
 */
export function registerInteractionConsumers(
  eventLog: EventLog,
  repo: InteractionRepository,
  isKnownType: (type: string) => boolean,
): void {
  const sources: Source[] = [
    {
      name: INTERACTION_CONSUMERS.calls,
      type: callEnded.type,
      // Connected calls only (a missed ring is not a call), counted for both sides.
      touches: (event) => {
        if (!callEnded.matches(event) || !event.payload.connected) return [];
        const { callerId, calleeId } = event.payload;
        return [
          { userId: callerId, otherId: calleeId, kind: 'call', at: event.occurredAt },
          { userId: calleeId, otherId: callerId, kind: 'call', at: event.occurredAt },
        ];
      },
    },
    {
      name: INTERACTION_CONSUMERS.gifts,
      type: giftSent.type,
      touches: (event) =>
        giftSent.matches(event)
          ? [
              {
                userId: event.payload.senderId,
                otherId: event.payload.streamerId,
                kind: 'gift',
                at: event.occurredAt,
              },
            ]
          : [],
    },
    {
      name: INTERACTION_CONSUMERS.favorites,
      type: favoriteAdded.type,
      touches: (event) =>
        favoriteAdded.matches(event)
          ? [
              {
                userId: event.payload.userId,
                otherId: event.payload.favoriteId,
                kind: 'favorite',
                at: event.occurredAt,
              },
            ]
          : [],
    },
    {
      name: INTERACTION_CONSUMERS.profileViews,
      type: profileViewed.type,
      minGapMs: PROFILE_VIEW_THROTTLE_MS,
      touches: (event) =>
        profileViewed.matches(event)
          ? [
              {
                userId: event.payload.viewerId,
                otherId: event.payload.viewedId,
                kind: 'profile_view',
                at: event.occurredAt,
              },
            ]
          : [],
    },
    {
      name: INTERACTION_CONSUMERS.blocks,
      type: userBlocked.type,
      touches: (event) =>
        userBlocked.matches(event)
          ? [
              {
                userId: event.payload.blockerId,
                otherId: event.payload.blockedId,
                kind: 'block',
                at: event.occurredAt,
              },
            ]
          : [],
    },
    {
      name: INTERACTION_CONSUMERS.messages,
      type: messageSent.type,
      // Text messages only: system messages record gifts and calls, which count as themselves.
      touches: (event) =>
        messageSent.matches(event) && event.payload.kind === 'text'
          ? [
              {
                userId: event.payload.senderId,
                otherId: event.payload.recipientId,
                kind: 'message',
                at: event.occurredAt,
              },
            ]
          : [],
    },
  ];

  for (const source of sources) {
    if (!isKnownType(source.type)) continue;
    eventLog.registerConsumer({
      name: source.name,
      types: [source.type],
      startFrom: 'beginning',
      // A read model: one bad event must not stall the counters; it shows as a dead letter.
      onExhausted: 'skip',
      handler: async (event, { tx }) => {
        const touches = source.touches(event);
        if (touches.length === 0) return;
        await repo.apply(tx, event.id, touches, event.occurredAt, source.minGapMs);
      },
    });
  }

  eventLog.registerConsumer({
    name: INTERACTION_CONSUMERS.erasure,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await repo.eraseAccount(tx, event.payload.userId);
    },
  });
}
