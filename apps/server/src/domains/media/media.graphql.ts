import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { MediaItem } from './media.repository.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const firstSchema = z.number().int().min(1).max(100);
const uuidSchema = z.uuid('id must be a media id');

export const MediaKindEnum = builder.enumType('MediaKind', {
  values: {
    PHOTO: { value: 'photo', description: 'A profile or gallery photo; public once a moderator approves it' },
    VIDEO: {
      value: 'video',
      description: 'An MP4 or WebM video, stored as uploaded; public once a moderator approves it',
    },
    KYC_DOCUMENT: { value: 'kyc_document', description: 'An identity document or selfie; never public' },
  } as const,
});

const ModeratedKindEnum = builder.enumType('ModeratedMediaKind', {
  description: 'The kinds of upload a moderator reviews',
  values: { PHOTO: { value: 'photo' }, VIDEO: { value: 'video' } } as const,
});

const MediaStatusEnum = builder.enumType('MediaStatus', {
  values: {
    PENDING: {
      value: 'pending',
      description: 'A photo or video waiting for moderation; only its owner and staff see it',
    },
    APPROVED: { value: 'approved', description: 'A photo or video anyone signed in may see' },
    REJECTED: { value: 'rejected', description: 'A photo or video a moderator refused, with a reason' },
    PRIVATE: { value: 'private', description: 'A KYC document: its owner, moderators and admins only' },
  } as const,
});

const MediaVariantEnum = builder.enumType('MediaVariant', {
  values: {
    ORIGINAL: {
      value: 'original',
      description:
        'Photos: full size, re-encoded as JPEG without metadata. Videos: the uploaded file, as is (their only rendition)',
    },
    W160: { value: '160', description: 'WebP, 160 pixels wide (or less if the image is smaller)' },
    W480: { value: '480', description: 'WebP, 480 pixels wide' },
    W1080: { value: '1080', description: 'WebP, 1080 pixels wide' },
  } as const,
});

const ModerationDecisionEnum = builder.enumType('ModerationDecision', {
  values: { APPROVE: { value: 'approve' }, REJECT: { value: 'reject' } } as const,
});

const MediaRef = builder.objectRef<MediaItem>('Media').implement({
  description: 'An upload, as its owner or staff see it. Fetch the bytes through mediaUrl.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    ownerId: t.exposeID('ownerId'),
    kind: t.field({ type: MediaKindEnum, resolve: (m) => m.kind }),
    status: t.field({ type: MediaStatusEnum, resolve: (m) => m.status }),
    rejectionReason: t.string({ nullable: true, resolve: (m) => m.rejectionReason }),
    width: t.exposeInt('width', { description: '0 for videos (not probed)' }),
    height: t.exposeInt('height', { description: '0 for videos (not probed)' }),
    moderatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.moderatedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

const MediaPage = builder
  .objectRef<{ items: MediaItem[]; nextCursor: string | null }>('MediaPage')
  .implement({
    description: 'A page of uploads. Pass nextCursor as `after` for the next page; null at the end.',
    authScopes: { signedIn: true },
    fields: (t) => ({
      items: t.field({ type: [MediaRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const MediaUrlRef = builder.objectRef<{ url: string; expiresAt: Date }>('MediaUrl').implement({
  description: 'A download link for one rendition; it stops working at expiresAt',
  authScopes: { signedIn: true },
  fields: (t) => ({
    url: t.exposeString('url'),
    expiresAt: t.field({ type: 'DateTime', resolve: (u) => u.expiresAt }),
  }),
});

const page = (items: MediaItem[], first: number) => {
  const slice = items.slice(0, first);
  return { items: slice, nextCursor: items.length > first ? (slice.at(-1)?.seq.toString() ?? null) : null };
};

builder.queryFields((t) => ({
  myMedia: t.field({
    type: MediaPage,
    description: "The caller's uploads of every kind and status, newest first",
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = requirePrincipal(ctx);
      const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      return page(await ctx.services.media.listMine(principal.userId, first + 1, after), first);
    },
  }),
  mediaUrl: t.field({
    type: MediaUrlRef,
    description:
      'A short-lived download URL. The owner always gets one; moderators and admins too; anyone else ' +
      'only for approved photos and videos. Otherwise NOT_FOUND, whether or not the id exists.',
    authScopes: { signedIn: true },
    args: {
      id: t.arg.id({ required: true }),
      variant: t.arg({ type: MediaVariantEnum, required: false, defaultValue: 'original' }),
    },
    resolve: (_root, args, ctx) => {
      const id = parseOrThrow(uuidSchema, String(args.id), 'id');
      return ctx.services.media.urlFor(requirePrincipal(ctx), id, args.variant ?? 'original');
    },
  }),
  mediaModerationQueue: t.field({
    type: MediaPage,
    description: 'Photos and videos (or only the given kind) waiting for a decision, oldest first',
    authScopes: STAFF,
    args: {
      kind: t.arg({ type: ModeratedKindEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      return page(await ctx.services.media.moderationQueue(first + 1, after, args.kind ?? undefined), first);
    },
  }),
}));

builder.mutationField('moderateMedia', (t) =>
  t.field({
    type: [MediaRef],
    description:
      'Approves or rejects photos and videos (up to 100 at once; REJECT needs a reason). Audited; each ' +
      'owner is told through a photo_moderated or video_moderated account event.',
    authScopes: STAFF,
    args: {
      ids: t.arg.idList({ required: true }),
      decision: t.arg({ type: ModerationDecisionEnum, required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const ids = parseOrThrow(z.array(uuidSchema).min(1).max(100), args.ids.map(String), 'ids');
      const reason =
        parseOrThrow(z.string().trim().max(500).nullable(), args.reason ?? null, 'reason') || null;
      return ctx.services.media.moderate(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        ids,
        args.decision,
        reason,
      );
    },
  }),
);
