import { builder } from '../../platform/graphql/builder.ts';
import type { GraphQLContext } from '../../platform/graphql/context.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import { isPresenceMessage, PRESENCE_CHANNEL } from '../user/presence/presence.ts';
import type { GalleryRules } from './gallery.rules.ts';
import type { GalleryCard, GalleryPage, GalleryRulesView, GalleryService } from './gallery.service.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };
const ADMIN = { role: ['admin' as const] };

const actor = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const ViewerRoleEnum = builder.enumType('GalleryViewerRole', {
  description: 'Whose feed a set of gallery rules builds',
  values: {
    USER: { value: 'user', description: 'Accounts acting as users (they see streamers)' },
    STREAMER: { value: 'streamer', description: 'Accounts acting as streamers (they see users)' },
  } as const,
});

const TargetEnum = builder.enumType('GalleryTarget', {
  values: { STREAMER: { value: 'streamer' }, USER: { value: 'user' } } as const,
});

const OrderKeyEnum = builder.enumType('GalleryOrderKey', {
  values: {
    ONLINE: { value: 'online', description: 'Online now (desc: online first)' },
    ONLINE_SINCE: {
      value: 'online_since',
      description: 'Start of the current online period (asc: longest online first)',
    },
    LAST_SEEN_AT: {
      value: 'last_seen_at',
      description: 'When last seen going offline (desc: most recent first)',
    },
    CREATED_AT: { value: 'created_at', description: 'Sign-up time (desc: newest first)' },
  } as const,
});

const DirectionEnum = builder.enumType('SortDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

const CardRef = builder.objectRef<GalleryCard>('GalleryCard').implement({
  description: "A partner in the viewer's feed: the public profile summary",
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    displayName: t.string({ nullable: true, resolve: (c) => c.displayName }),
    photoThumbnailUrl: t.string({
      nullable: true,
      description: 'Signed URL of the newest approved photo (160 px), valid until photoUrlExpiresAt',
      resolve: (c) => c.photo?.url ?? null,
    }),
    photoUrlExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (c) => c.photo?.expiresAt ?? null,
    }),
    online: t.exposeBoolean('online', { description: 'Read when the page was served' }),
    onlineSince: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.onlineSince }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.lastSeenAt }),
    country: t.string({ nullable: true, resolve: (c) => c.country }),
    languages: t.stringList({ resolve: (c) => c.languages }),
  }),
});

const PageRef = builder.objectRef<GalleryPage>('GalleryPage').implement({
  description:
    'One page of a scroll. Pass nextCursor as `after` for the next page (null at the end); the scroll ' +
    'keeps its order while people come and go, so pages never repeat or skip anyone. scrollId is what ' +
    'galleryFeedChanged watches.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    scrollId: t.exposeID('scrollId'),
    cards: t.field({ type: [CardRef], resolve: (p) => p.cards }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

type Change = { userId: string; online: boolean; onlineSince: string | null; lastSeenAt: string | null };

const ChangeRef = builder.objectRef<Change>('GalleryFeedChange').implement({
  description: 'A card of the scroll changed presence: update that card (the rest of the feed is unchanged)',
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    online: t.exposeBoolean('online'),
    onlineSince: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.onlineSince }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.lastSeenAt }),
  }),
});

const FiltersRef = builder.objectRef<GalleryRules['filters']>('GalleryFilters').implement({
  authScopes: STAFF,
  fields: (t) => ({
    onlineOnly: t.exposeBoolean('onlineOnly'),
    countries: t.exposeStringList('countries'),
    languages: t.exposeStringList('languages'),
  }),
});

const OrderRef = builder.objectRef<GalleryRules['order'][number]>('GalleryOrder').implement({
  authScopes: STAFF,
  fields: (t) => ({
    key: t.field({ type: OrderKeyEnum, resolve: (o) => o.key }),
    direction: t.field({ type: DirectionEnum, resolve: (o) => o.direction }),
  }),
});

const BoostRef = builder.objectRef<GalleryRules['boosts'][number]>('GalleryBoost').implement({
  authScopes: STAFF,
  fields: (t) => ({ tag: t.exposeString('tag'), weight: t.exposeInt('weight') }),
});

const RulesRef = builder.objectRef<GalleryRulesView>('GalleryRules').implement({
  description: 'How the feed of one viewer role is built (docs/gallery.md#rules)',
  authScopes: STAFF,
  fields: (t) => ({
    role: t.field({ type: ViewerRoleEnum, resolve: (r) => r.role }),
    target: t.field({ type: TargetEnum, resolve: (r) => r.rules.target }),
    filters: t.field({ type: FiltersRef, resolve: (r) => r.rules.filters }),
    order: t.field({ type: [OrderRef], resolve: (r) => r.rules.order }),
    boosts: t.field({ type: [BoostRef], resolve: (r) => r.rules.boosts }),
    seenPenalty: t.int({ resolve: (r) => r.rules.seenPenalty }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.updatedAt }),
    updatedBy: t.id({ nullable: true, resolve: (r) => r.updatedBy }),
  }),
});

const FiltersInput = builder.inputType('GalleryFiltersInput', {
  fields: (t) => ({
    onlineOnly: t.boolean({ required: true }),
    countries: t.stringList({ required: true, description: 'ISO 3166-1 alpha-2; empty: any' }),
    languages: t.stringList({ required: true, description: 'ISO 639-1; empty: any' }),
  }),
});

const OrderInput = builder.inputType('GalleryOrderInput', {
  fields: (t) => ({
    key: t.field({ type: OrderKeyEnum, required: true }),
    direction: t.field({ type: DirectionEnum, required: true }),
  }),
});

const BoostInput = builder.inputType('GalleryBoostInput', {
  fields: (t) => ({
    tag: t.string({ required: true, description: 'A panel cohort tag' }),
    weight: t.int({ required: true, description: '-100..100, added to the score of cards with the tag' }),
  }),
});

const RulesInput = builder.inputType('GalleryRulesInput', {
  fields: (t) => ({
    target: t.field({ type: TargetEnum, required: true }),
    filters: t.field({ type: FiltersInput, required: true }),
    order: t.field({ type: [OrderInput], required: true }),
    boosts: t.field({ type: [BoostInput], required: true }),
    seenPenalty: t.int({ required: true, description: '0..100, subtracted for profiles the viewer viewed' }),
  }),
});

builder.queryFields((t) => ({
  galleryFeed: t.field({
    type: PageRef,
    description:
      'My feed of partners (users see streamers, streamers see users), by the rules of my role. Without ' +
      '`after` a new scroll starts. BAD_USER_INPUT with reason EXPIRED when a scroll is over 30 minutes old.',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 30 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.gallery.feed(requirePrincipal(ctx), args.first ?? 30, args.after),
  }),
  galleryRules: t.field({
    type: RulesRef,
    description: 'The rules that build the feed of a viewer role',
    authScopes: STAFF,
    args: { role: t.arg({ type: ViewerRoleEnum, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.gallery.rules(args.role),
  }),
}));

builder.mutationFields((t) => ({
  updateGalleryRules: t.field({
    type: RulesRef,
    description:
      "Replaces a role's feed rules (audited as gallery.rules_updated). BAD_USER_INPUT naming the field " +
      'when they are not valid; nothing changes then. New scrolls use them within 5 seconds on every node.',
    authScopes: ADMIN,
    args: {
      role: t.arg({ type: ViewerRoleEnum, required: true }),
      rules: t.arg({ type: RulesInput, required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.gallery.updateRules(actor(ctx), args.role, args.rules, args.reason ?? null),
  }),
  setGalleryHidden: t.boolean({
    description:
      'Takes an account out of every feed (hidden: true, with a reason) or puts it back; audited. ' +
      'True when it changed. Takes effect from the next page of every scroll.',
    authScopes: STAFF,
    args: {
      userId: t.arg.id({ required: true }),
      hidden: t.arg.boolean({ required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.gallery.setHidden(actor(ctx), String(args.userId), args.hidden, args.reason ?? null),
  }),
}));

builder.subscriptionField('galleryFeedChanged', (t) =>
  t.field({
    type: ChangeRef,
    description:
      'A card of this scroll came online or went offline (only its new presence, never the feed). Cards ' +
      'blocked either way since are left out. Not replayed: the next page reads presence afresh.',
    authScopes: { signedIn: true },
    args: { scrollId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const viewerId = requirePrincipal(ctx).userId;
      const ids = await ctx.services.gallery.scrollIds(viewerId, String(args.scrollId));
      return watch(ctx, ctx.services.gallery, viewerId, ids);
    },
    resolve: (message) => message as Change,
  }),
);

async function* watch(
  ctx: GraphQLContext,
  gallery: GalleryService,
  viewerId: string,
  ids: Set<string>,
): AsyncGenerator<Change, void, undefined> {
  const stillAllowed = sessionStillActive(ctx);
  // Last online state told per card: availability changes also travel on this channel and are not
  // feed changes, so only a flip of `online` is delivered.
  const told = new Map<string, boolean>();
  for await (const message of streamChannel(ctx.services.pubsub, PRESENCE_CHANNEL)) {
    if (!isPresenceMessage(message) || !ids.has(message.userId)) continue;
    if (told.get(message.userId) === message.online) continue;
    await stillAllowed();
    // Checked at delivery, not at subscribe: a block made during the scroll hides the card's news too.
    if (await gallery.blockedEitherWay(viewerId, message.userId)) continue;
    told.set(message.userId, message.online);
    yield {
      userId: message.userId,
      online: message.online,
      onlineSince: message.onlineSince,
      lastSeenAt: message.lastSeenAt,
    };
  }
}
