import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { AvailabilityEnum } from '../user/presence/presence.graphql.ts';
import type { Favorite } from './favorites.repository.ts';
import type { FavoritePage } from './favorites.service.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };

/** A favourite from one side: `userId` is the other account (the streamer, or the follower). */
type FavoriteEntry = {
  userId: string;
  since: Date;
  presence: Pick<Favorite, 'online' | 'availability'> | null;
};

const FavoriteEntryRef = builder.objectRef<FavoriteEntry>('FavoriteEntry').implement({
  description: 'A favourite: the other account and since when. Presence only in myFavorites.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The streamer (myFavorites) or the follower (myFollowers)' }),
    since: t.field({ type: 'DateTime', resolve: (f) => f.since }),
    online: t.boolean({
      nullable: true,
      description: "Whether the streamer is online; null in myFollowers (a follower's presence is theirs)",
      resolve: (f) => f.presence?.online ?? null,
    }),
    availability: t.field({
      type: AvailabilityEnum,
      nullable: true,
      resolve: (f) => f.presence?.availability ?? null,
    }),
  }),
});

const FavoritePageRef = builder
  .objectRef<{ items: FavoriteEntry[]; nextCursor: string | null }>('FavoritePage')
  .implement({
    description: 'Newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: { signedIn: true },
    fields: (t) => ({
      items: t.field({ type: [FavoriteEntryRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const FollowerCountRef = builder
  .objectRef<{ favoriteId: string; followers: bigint }>('FollowerCount')
  .implement({
    description: "A streamer's follower count",
    authScopes: STAFF,
    fields: (t) => ({
      userId: t.exposeID('favoriteId'),
      followers: t.int({ resolve: (c) => Number(c.followers) }),
    }),
  });

const mine = (p: FavoritePage) => ({
  items: p.items.map((f) => ({ userId: f.favoriteId, since: f.createdAt, presence: f })),
  nextCursor: p.nextCursor,
});
const followers = (p: FavoritePage) => ({
  items: p.items.map((f) => ({ userId: f.userId, since: f.createdAt, presence: null })),
  nextCursor: p.nextCursor,
});

builder.queryFields((t) => ({
  myFavorites: t.field({
    type: FavoritePageRef,
    description: 'The streamers I favourited, newest first, with their presence',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) =>
      mine(await ctx.services.favorites.mine(requirePrincipal(ctx).userId, args.first ?? 20, args.after)),
  }),
  myFollowers: t.field({
    type: FavoritePageRef,
    description: 'The accounts that favourited me, newest first',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) =>
      followers(
        await ctx.services.favorites.followers(requirePrincipal(ctx).userId, args.first ?? 20, args.after),
      ),
  }),
  followerCount: t.int({
    description: 'How many accounts favourited this streamer (mine when userId is omitted)',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: false }) },
    resolve: async (_root, args, ctx) =>
      Number(
        await ctx.services.favorites.followerCount(
          args.userId != null ? String(args.userId) : requirePrincipal(ctx).userId,
        ),
      ),
  }),
  isFavorite: t.boolean({
    description: 'Whether I favourited this account',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.favorites.isFavorite(requirePrincipal(ctx).userId, String(args.userId)),
  }),
  adminFollowerCounts: t.field({
    type: [FollowerCountRef],
    description: 'Follower counts, most followed first (or one streamer with userId)',
    authScopes: STAFF,
    args: { first: t.arg.int({ required: false, defaultValue: 50 }), userId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) =>
      ctx.services.favorites.adminCounts(args.first ?? 50, args.userId != null ? String(args.userId) : null),
  }),
}));

builder.mutationFields((t) => ({
  addFavorite: t.boolean({
    description:
      'Favourites a streamer. Idempotent: true when it was added now, false when it already was. ' +
      'FORBIDDEN (details.reason NOT_A_STREAMER, UNAVAILABLE, BLOCKED), NOT_FOUND, BAD_USER_INPUT (SELF).',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.favorites.add(requirePrincipal(ctx).userId, String(args.userId)),
  }),
  removeFavorite: t.boolean({
    description: 'Removes a favourite. Idempotent: true when it was one, false otherwise.',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.favorites.remove(requirePrincipal(ctx).userId, String(args.userId)),
  }),
}));
