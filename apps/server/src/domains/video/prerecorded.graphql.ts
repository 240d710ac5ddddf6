import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { CallRef } from './call.graphql.ts';
import type { PrerecordedOffer } from './prerecorded.repository.ts';
import type { Playback, PrerecordedViewing } from './prerecorded.service.ts';

type OfferView = PrerecordedOffer & { playable?: boolean };

const PrerecordedOfferRef = builder.objectRef<OfferView>('PrerecordedOffer').implement({
  description: "One of a streamer's approved videos, offered to users as a prerecorded video",
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    streamerId: t.exposeID('streamerId'),
    title: t.exposeString('title'),
    languages: t.exposeStringList('languages', { description: 'ISO 639-1 codes; empty: any' }),
    durationSeconds: t.exposeInt('durationSeconds', {
      description: 'As the streamer declared it; the server ends a viewing a reconnect grace after it',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
    playable: t.boolean({
      nullable: true,
      description:
        'myPrerecordedOffers only: whether the video is still approved (a rejected one is not offered)',
      resolve: (o) => o.playable ?? null,
    }),
  }),
});

const PrerecordedPlaybackRef = builder.objectRef<Playback>('PrerecordedPlayback').implement({
  description: 'A signed URL of the video; ask prerecordedPlayback for a new one before expiresAt',
  authScopes: { signedIn: true },
  fields: (t) => ({
    url: t.exposeString('url'),
    expiresAt: t.field({ type: 'DateTime', resolve: (p) => p.expiresAt }),
  }),
});

const PrerecordedViewingRef = builder.objectRef<PrerecordedViewing>('PrerecordedViewing').implement({
  description:
    'A prerecorded video being watched: the call record (kind PRERECORDED, billed while connected), ' +
    'the offer and where to play it. Send callHeartbeat every 10 s while it plays; stopPrerecorded at the end.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    call: t.field({ type: CallRef, resolve: (v) => v.call }),
    offer: t.field({ type: PrerecordedOfferRef, resolve: (v) => v.offer }),
    playback: t.field({ type: PrerecordedPlaybackRef, resolve: (v) => v.playback }),
  }),
});

const me = (ctx: GraphQLContext) => requirePrincipal(ctx).userId;
const STREAMER = { role: ['streamer' as const] };

builder.queryFields((t) => ({
  prerecordedOffer: t.field({
    type: PrerecordedOfferRef,
    nullable: true,
    description:
      'A prerecorded video to offer you now, or null (setting video.prerecorded_offer_mode: off, or a ' +
      'streamer is available for a live call, or nothing fits). `language` is preferred, not required.',
    authScopes: { signedIn: true },
    args: { language: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) => ctx.services.prerecorded.offerFor(me(ctx), args.language ?? null),
  }),
  myPrerecordedOffers: t.field({
    type: [PrerecordedOfferRef],
    description: 'Your prerecorded offers (streamers), newest first',
    authScopes: STREAMER,
    resolve: (_root, _args, ctx) => ctx.services.prerecorded.myOffers(me(ctx)),
  }),
  prerecordedPlayback: t.field({
    type: PrerecordedPlaybackRef,
    description: 'A fresh URL of the video you are watching (while its call is live)',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.prerecorded.playback(requirePrincipal(ctx), String(args.callId)),
  }),
}));

builder.mutationFields((t) => ({
  createPrerecordedOffer: t.field({
    type: PrerecordedOfferRef,
    description:
      'Offers one of your approved video uploads as a prerecorded video (at most ' +
      'video.prerecorded_offers_per_streamer at a time). BAD_USER_INPUT for a video that is not yours, not ' +
      'approved or too long; CONFLICT when already offered or at the limit.',
    authScopes: STREAMER,
    args: {
      mediaId: t.arg.id({ required: true }),
      title: t.arg.string({ required: true }),
      languages: t.arg.stringList({ required: false }),
      durationSeconds: t.arg.int({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.prerecorded.createOffer(me(ctx), {
        mediaId: String(args.mediaId),
        title: args.title,
        languages: args.languages ?? [],
        durationSeconds: args.durationSeconds,
      }),
  }),
  withdrawPrerecordedOffer: t.field({
    type: PrerecordedOfferRef,
    description: 'Stops offering one of your prerecorded videos (viewings already running go on)',
    authScopes: STREAMER,
    args: { offerId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.prerecorded.withdrawOffer(me(ctx), String(args.offerId)),
  }),
  startPrerecorded: t.field({
    type: PrerecordedViewingRef,
    description:
      'Starts watching an offered video: a call of kind PRERECORDED, connected at once and billed by the ' +
      'prerecorded tariff. INSUFFICIENT_FUNDS when you cannot afford the first stretch; CONFLICT while in a call.',
    authScopes: { signedIn: true },
    args: { offerId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.prerecorded.start(requirePrincipal(ctx), String(args.offerId)),
  }),
  stopPrerecorded: t.field({
    type: CallRef,
    description: 'Stops the video you are watching (also when it played to its end): billing stops',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.prerecorded.stop(me(ctx), String(args.callId)),
  }),
}));
