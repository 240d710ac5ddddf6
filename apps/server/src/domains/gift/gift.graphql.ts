import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import type { Gift, GiftInput } from './gift.repository.ts';
import type { SendGiftResult } from './gift.service.ts';

const ADMIN = { role: ['admin' as const] };

const uuid = z.uuid('must be an id');
const nameSchema = z.string().trim().min(1, 'name must not be empty').max(100);
const urlSchema = z.url({ protocol: /^https?$/, error: 'imageUrl must be an http(s) URL' }).max(2000);
const shareBpsSchema = z.number().int().min(0).max(10_000, 'shareBps is at most 10000 (100%)');
const sortSchema = z.number().int().min(-1_000_000).max(1_000_000);
const clientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'clientId must be 8 to 64 letters, digits, - or _ (a UUID fits)');

const staff = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const GiftContextEnum = builder.enumType('GiftContext', {
  values: { CHAT: { value: 'chat' }, CALL: { value: 'call' } } as const,
});

const GiftRef = builder.objectRef<Gift>('Gift').implement({
  description: 'A gift of the catalogue. Show imageUrl, or fetch imageMediaId through mediaUrl.',
  authScopes: { public: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    imageMediaId: t.exposeID('imageMediaId', { nullable: true }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    price: t.field({ type: 'Coins', resolve: (g) => g.price }),
    sortOrder: t.exposeInt('sortOrder'),
    available: t.exposeBoolean('available'),
    shareBps: t.exposeInt('shareBps', {
      nullable: true,
      description: "Admin only: the streamer's share in basis points of the price (or shareCoins)",
      authScopes: ADMIN,
    }),
    shareCoins: t.field({
      type: 'Coins',
      nullable: true,
      description: "Admin only: the streamer's share as a fixed number of coins (or shareBps)",
      authScopes: ADMIN,
      resolve: (g) => g.shareCoins,
    }),
  }),
});

const SentGiftRef = builder.objectRef<SendGiftResult>('SentGift').implement({
  description: 'A gift sent to a streamer',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    giftId: t.exposeID('giftId'),
    senderId: t.exposeID('senderId'),
    streamerId: t.exposeID('streamerId'),
    coins: t.field({ type: 'Coins', description: 'What the sender paid', resolve: (s) => s.coins }),
    context: t.field({ type: GiftContextEnum, resolve: (s) => s.context }),
    callId: t.exposeID('callId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    replayed: t.exposeBoolean('replayed', {
      description: 'True when this clientId had already been sent: nothing was charged again',
    }),
  }),
});

const GiftCreateInput = builder.inputType('GiftCreateInput', {
  description: 'Give imageMediaId or imageUrl, and exactly one of shareBps and shareCoins',
  fields: (t) => ({
    name: t.string({ required: true }),
    imageMediaId: t.id({ required: false }),
    imageUrl: t.string({ required: false }),
    price: t.field({ type: 'Coins', required: true }),
    shareBps: t.int({ required: false }),
    shareCoins: t.field({ type: 'Coins', required: false }),
    available: t.boolean({ required: false, defaultValue: true }),
    sortOrder: t.int({ required: false, defaultValue: 0 }),
  }),
});

const GiftUpdateInput = builder.inputType('GiftUpdateInput', {
  description: 'Only the fields given change; setting shareBps clears shareCoins and the other way round',
  fields: (t) => ({
    name: t.string({ required: false }),
    imageMediaId: t.id({ required: false }),
    imageUrl: t.string({ required: false }),
    price: t.field({ type: 'Coins', required: false }),
    shareBps: t.int({ required: false }),
    shareCoins: t.field({ type: 'Coins', required: false }),
    available: t.boolean({ required: false }),
    sortOrder: t.int({ required: false }),
  }),
});

type RawGiftInput = {
  name?: string | null;
  imageMediaId?: string | number | null;
  imageUrl?: string | null;
  price?: bigint | null;
  shareBps?: number | null;
  shareCoins?: bigint | null;
  available?: boolean | null;
  sortOrder?: number | null;
};

/** Validates the fields given; absent ones stay undefined (an update keeps them). */
function parseGiftFields(input: RawGiftInput): Partial<GiftInput> {
  const out: Partial<GiftInput> = {};
  if (input.name != null) out.name = parseOrThrow(nameSchema, input.name, 'name');
  if (input.imageMediaId != null) {
    out.imageMediaId = parseOrThrow(uuid, String(input.imageMediaId), 'imageMediaId');
    if (input.imageUrl == null) out.imageUrl = null;
  }
  if (input.imageUrl != null) {
    out.imageUrl = parseOrThrow(urlSchema, input.imageUrl, 'imageUrl');
    if (input.imageMediaId == null) out.imageMediaId = null;
  }
  if (input.price != null) out.price = input.price;
  if (input.shareBps != null) out.shareBps = parseOrThrow(shareBpsSchema, input.shareBps, 'shareBps');
  if (input.shareCoins != null) out.shareCoins = input.shareCoins;
  if (input.available != null) out.available = input.available;
  if (input.sortOrder != null) out.sortOrder = parseOrThrow(sortSchema, input.sortOrder, 'sortOrder');
  return out;
}

builder.queryFields((t) => ({
  giftCatalogue: t.field({
    type: [GiftRef],
    description: 'The gifts that can be sent, in display order',
    authScopes: { public: true },
    resolve: (_root, _args, ctx) => ctx.services.gifts.catalogue(),
  }),
  adminGifts: t.field({
    type: [GiftRef],
    description: 'Every gift, unavailable ones too, in display order',
    authScopes: ADMIN,
    resolve: (_root, _args, ctx) => ctx.services.gifts.all(),
  }),
}));

builder.mutationFields((t) => ({
  createGift: t.field({
    type: GiftRef,
    description: 'Adds a gift to the catalogue. Audited.',
    authScopes: ADMIN,
    args: { input: t.arg({ type: GiftCreateInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const fields = parseGiftFields(args.input);
      return ctx.services.gifts.create(staff(ctx), {
        name: fields.name ?? parseOrThrow(nameSchema, args.input.name, 'name'),
        imageMediaId: fields.imageMediaId ?? null,
        imageUrl: fields.imageUrl ?? null,
        price: args.input.price,
        shareBps: fields.shareBps ?? null,
        shareCoins: fields.shareCoins ?? null,
        available: fields.available ?? true,
        sortOrder: fields.sortOrder ?? 0,
      });
    },
  }),
  updateGift: t.field({
    type: GiftRef,
    description: 'Edits a gift (available: false takes it off the catalogue). Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: GiftUpdateInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.gifts.update(
        staff(ctx),
        parseOrThrow(uuid, String(args.id), 'id'),
        parseGiftFields(args.input),
      ),
  }),
  sendGift: t.field({
    type: SentGiftRef,
    description:
      'Sends a gift to a streamer, paid from your wallet. clientId makes it safe to retry: the same ' +
      'clientId sends once. callId is required in a CALL and not allowed in a CHAT.',
    authScopes: { signedIn: true },
    args: {
      giftId: t.arg.id({ required: true }),
      streamerId: t.arg.id({ required: true }),
      clientId: t.arg.string({ required: true }),
      context: t.arg({ type: GiftContextEnum, required: true }),
      callId: t.arg.id({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.gifts.send(requirePrincipal(ctx).userId, {
        giftId: parseOrThrow(uuid, String(args.giftId), 'giftId'),
        streamerId: parseOrThrow(uuid, String(args.streamerId), 'streamerId'),
        clientId: parseOrThrow(clientIdSchema, args.clientId, 'clientId'),
        context: args.context,
        callId: args.callId == null ? null : parseOrThrow(uuid, String(args.callId), 'callId'),
      }),
  }),
}));
