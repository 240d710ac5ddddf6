import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import type { ConversationSummary } from './chat.repository.ts';
import { type ChatUpdate, chatChannel, type MessageView, type SendResult, toView } from './chat-views.ts';

const SIGNED_IN = { signedIn: true } as const;
const uuid = z.uuid('must be an id');
const cursorSchema = z.string().regex(/^\d{1,18}$/, 'cursor must come from a previous page');
const clientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'clientId must be 8 to 64 letters, digits, - or _ (a UUID fits)');
const firstSchema = z.number().int().min(1).max(100, 'first is at most 100');

const me = (ctx: GraphQLContext) => requirePrincipal(ctx).userId;
const cursorArg = (value: string | null | undefined, field: string) =>
  value == null ? undefined : BigInt(parseOrThrow(cursorSchema, value, field));

const KindEnum = builder.enumType('ChatMessageKind', {
  values: { TEXT: { value: 'text' }, SYSTEM: { value: 'system' } } as const,
});
const SystemTypeEnum = builder.enumType('ChatSystemType', {
  values: { GIFT: { value: 'gift' }, CALL: { value: 'call' }, GREETING: { value: 'greeting' } } as const,
});
const UpdateTypeEnum = builder.enumType('ChatUpdateType', {
  values: { MESSAGE: { value: 'message' }, READ: { value: 'read' } } as const,
});

const MessageRef = builder.objectRef<MessageView>('ChatMessage').implement({
  description: 'A chat message: TEXT from a person, or a SYSTEM record of a gift, a call or a greeting',
  authScopes: SIGNED_IN,
  fields: (t) => ({
    id: t.exposeID('id'),
    cursor: t.exposeString('seq', { description: 'Its place in the history; pass as `before` to page' }),
    conversationId: t.exposeID('conversationId'),
    senderId: t.exposeID('senderId'),
    recipientId: t.exposeID('recipientId'),
    kind: t.field({ type: KindEnum, resolve: (m) => m.kind }),
    systemType: t.field({ type: SystemTypeEnum, nullable: true, resolve: (m) => m.systemType }),
    body: t.exposeString('body', { description: 'Empty when erased (the sender deleted their account)' }),
    data: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'SYSTEM records: GIFT {sentId, giftId, coins, context, callId}; CALL {callId, callKind, ' +
        'durationSeconds, reason, endedBy, answered, connected}; GREETING {autoAdded}',
      resolve: (m) => m.data,
    }),
    erased: t.exposeBoolean('erased'),
    read: t.exposeBoolean('read', { description: "Whether the recipient's read receipt covers it" }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

const SendResultRef = builder.objectRef<SendResult>('ChatSendResult').implement({
  authScopes: SIGNED_IN,
  fields: (t) => ({
    message: t.field({ type: MessageRef, resolve: (r) => r }),
    replayed: t.exposeBoolean('replayed', {
      description: 'True when this clientId had already been sent: nothing was sent again',
    }),
  }),
});

const ConversationRef = builder.objectRef<ConversationSummary>('ChatConversation').implement({
  description: 'Your conversation with one account',
  authScopes: SIGNED_IN,
  fields: (t) => ({
    id: t.exposeID('id'),
    peerId: t.exposeID('peerId', { description: 'The other account' }),
    cursor: t.string({ resolve: (c) => c.lastMessageSeq.toString() }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (c) =>
        c.lastMessage
          ? toView(c.lastMessage, c.lastMessage.senderId === c.peerId ? c.myLastReadSeq : c.peerLastReadSeq)
          : null,
    }),
    unreadCount: t.exposeInt('unreadCount'),
    peerReadUpTo: t.string({
      description: "The cursor of the last message the other side has read ('0': none)",
      resolve: (c) => c.peerLastReadSeq.toString(),
    }),
  }),
});

const ConversationPageRef = builder
  .objectRef<{ items: ConversationSummary[]; nextCursor: string | null }>('ChatConversationPage')
  .implement({
    authScopes: SIGNED_IN,
    fields: (t) => ({
      items: t.field({ type: [ConversationRef], resolve: (p) => p.items }),
      nextCursor: t.exposeString('nextCursor', { nullable: true }),
    }),
  });

const MessagePageRef = builder
  .objectRef<{ items: MessageView[]; nextCursor: string | null }>('ChatMessagePage')
  .implement({
    authScopes: SIGNED_IN,
    fields: (t) => ({
      items: t.field({ type: [MessageRef], resolve: (p) => p.items }),
      nextCursor: t.exposeString('nextCursor', { nullable: true }),
    }),
  });

const ReadResultRef = builder
  .objectRef<{ conversationId: string; readUpTo: string; unreadCount: number }>('ChatReadResult')
  .implement({
    authScopes: SIGNED_IN,
    fields: (t) => ({
      conversationId: t.exposeID('conversationId'),
      readUpTo: t.exposeString('readUpTo'),
      unreadCount: t.exposeInt('unreadCount', { description: 'Still unread in this conversation' }),
    }),
  });

const UpdateRef = builder.objectRef<ChatUpdate>('ChatUpdate').implement({
  description: 'MESSAGE: a new message in one of your conversations. READ: someone read up to readUpTo',
  authScopes: SIGNED_IN,
  fields: (t) => ({
    type: t.field({ type: UpdateTypeEnum, resolve: (u) => u.type }),
    conversationId: t.exposeID('conversationId'),
    message: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (u) => (u.type === 'message' ? u.message : null),
    }),
    readerId: t.id({ nullable: true, resolve: (u) => (u.type === 'read' ? u.readerId : null) }),
    readUpTo: t.string({ nullable: true, resolve: (u) => (u.type === 'read' ? u.readUpTo : null) }),
  }),
});

/** Drops messages of a pair blocked since they were published (checked again at delivery). */
async function* visibleUpdates(
  source: AsyncGenerator<unknown>,
  ctx: GraphQLContext,
): AsyncGenerator<ChatUpdate> {
  for await (const raw of source) {
    const update = raw as ChatUpdate;
    if (
      update.type === 'message' &&
      (await ctx.services.chat.isBlocked(update.message.senderId, update.message.recipientId))
    ) {
      continue;
    }
    yield update;
  }
}

builder.queryFields((t) => ({
  myConversations: t.field({
    type: ConversationPageRef,
    description: 'Your conversations, latest activity first, with the last message and unread count',
    authScopes: SIGNED_IN,
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(firstSchema, args.first ?? 20, 'first');
      const items = await ctx.services.chat.conversations(me(ctx), first, cursorArg(args.after, 'after'));
      return {
        items,
        nextCursor: items.length === first ? (items.at(-1)?.lastMessageSeq.toString() ?? null) : null,
      };
    },
  }),
  chatMessages: t.field({
    type: MessagePageRef,
    description: 'A conversation’s messages, newest first; pass nextCursor as `before` for older ones',
    authScopes: SIGNED_IN,
    args: {
      conversationId: t.arg.id({ required: true }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      before: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
      const items = await ctx.services.chat.history(
        me(ctx),
        parseOrThrow(uuid, String(args.conversationId), 'conversationId'),
        first,
        cursorArg(args.before, 'before'),
      );
      return { items, nextCursor: items.length === first ? (items.at(-1)?.seq ?? null) : null };
    },
  }),
  chatUnreadTotal: t.int({
    description: 'Unread messages over all your (not blocked) conversations',
    authScopes: SIGNED_IN,
    resolve: (_root, _args, ctx) => ctx.services.chat.unreadTotal(me(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  sendChatMessage: t.field({
    type: SendResultRef,
    description:
      'Sends a text message (trimmed, 1 to chat.max_message_length characters) between a user and a ' +
      'streamer. clientId makes it safe to retry. RATE_LIMITED carries retryAfterSeconds.',
    authScopes: SIGNED_IN,
    args: {
      recipientId: t.arg.id({ required: true }),
      body: t.arg.string({ required: true }),
      clientId: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.chat.send(me(ctx), {
        recipientId: parseOrThrow(uuid, String(args.recipientId), 'recipientId'),
        body: args.body,
        clientId: parseOrThrow(clientIdSchema, args.clientId, 'clientId'),
      }),
  }),
  markChatRead: t.field({
    type: ReadResultRef,
    description: 'Marks a conversation read up to and including a message; the other side sees it',
    authScopes: SIGNED_IN,
    args: { conversationId: t.arg.id({ required: true }), upToMessageId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.chat.markRead(
        me(ctx),
        parseOrThrow(uuid, String(args.conversationId), 'conversationId'),
        parseOrThrow(uuid, String(args.upToMessageId), 'upToMessageId'),
      ),
  }),
}));

builder.subscriptionField('chatUpdates', (t) =>
  t.field({
    type: UpdateRef,
    description: 'New messages and read receipts of your conversations. After reconnecting, reload the lists',
    authScopes: SIGNED_IN,
    subscribe: (_root, _args, ctx) =>
      visibleUpdates(streamChannel(ctx.services.pubsub, chatChannel(me(ctx)), sessionStillActive(ctx)), ctx),
    resolve: (update) => update as ChatUpdate,
  }),
);
