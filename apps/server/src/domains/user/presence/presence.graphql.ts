import { builder } from '../../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../../platform/graphql/context.ts';
import { sessionStillActive, streamChannel } from '../../../platform/realtime/stream.ts';
import type { PresenceView } from './presence.service.ts';
import { AVAILABILITIES } from './presence.tables.ts';
import { isPresenceMessage, PRESENCE_CHANNEL, type PresenceMessage } from './presence.ts';

export const AvailabilityEnum = builder.enumType('Availability', {
  description:
    "A streamer's availability for calls. An offline streamer reads as away (or busy), never available.",
  values: AVAILABILITIES,
});

const Presence = builder.objectRef<PresenceView | PresenceMessage>('Presence').implement({
  description: 'Whether an account is online (an authenticated WebSocket open on any node), and since when',
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    online: t.exposeBoolean('online'),
    onlineSince: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the current online period began; null while offline',
      resolve: (p) => p.onlineSince,
    }),
    lastSeenAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the account last went offline; null if it never did',
      resolve: (p) => p.lastSeenAt,
    }),
    availability: t.field({
      type: AvailabilityEnum,
      description: 'Meaningful for streamers: whether they take calls now',
      resolve: (p) => p.availability,
    }),
  }),
});

builder.queryField('presence', (t) =>
  t.field({
    type: [Presence],
    description: 'Presence of up to 200 accounts, one entry per distinct id in the order given',
    authScopes: { signedIn: true },
    args: { userIds: t.arg.idList({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const views = await ctx.services.presence.getPresence(args.userIds.map(String));
      const hidden = new Set(await ctx.services.blocklist.blockedEitherWay(requirePrincipal(ctx).userId));
      return views.map((v) => (hidden.has(v.userId) ? neverSeen(v.userId) : v));
    },
  }),
);

/**
 * What a pair blocked either way sees of each other: an account never online. A block hides the
 * pair everywhere (gallery, chat, roulette); presence must not tell one when the other is around.
 */
const neverSeen = (userId: string): PresenceView => ({
  userId,
  online: false,
  onlineSince: null,
  lastSeenAt: null,
  availability: 'away',
});

builder.mutationField('setMyAvailability', (t) =>
  t.field({
    type: Presence,
    description: "Sets the calling streamer's availability for calls",
    authScopes: { role: ['streamer'] },
    args: { availability: t.arg({ type: AvailabilityEnum, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.presence.setAvailability(requirePrincipal(ctx).userId, args.availability),
  }),
);

builder.subscriptionField('presenceChanged', (t) =>
  t.field({
    type: Presence,
    description:
      'The new presence of any of up to 200 watched accounts when it changes (online, offline, availability). ' +
      'Not replayed: read presence(userIds) after (re)subscribing.',
    authScopes: { signedIn: true },
    args: { userIds: t.arg.idList({ required: true }) },
    subscribe: (_root, args, ctx) => {
      const viewerId = requirePrincipal(ctx).userId;
      const watched = ctx.services.presence.parseWatchList(args.userIds.map(String));
      // Asked per delivered change, so a block made while subscribed holds from the next change on.
      const blocked = (userId: string) => ctx.services.blocklist.isBlockedEitherWay(viewerId, userId);
      return watch(ctx.services.pubsub, watched, blocked, sessionStillActive(ctx));
    },
    resolve: (message) => message as PresenceMessage,
  }),
);

async function* watch(
  pubsub: Parameters<typeof streamChannel>[0],
  watched: Set<string>,
  blocked: (userId: string) => Promise<boolean>,
  stillAllowed: () => Promise<void>,
): AsyncGenerator<PresenceMessage, void, undefined> {
  // The checks run only for messages this subscriber watches, not for every change on the topic.
  for await (const message of streamChannel(pubsub, PRESENCE_CHANNEL)) {
    if (!isPresenceMessage(message) || !watched.has(message.userId)) continue;
    if (await blocked(message.userId)) continue;
    await stillAllowed();
    yield message;
  }
}
