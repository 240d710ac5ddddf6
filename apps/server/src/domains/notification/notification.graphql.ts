import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { channels } from '../../platform/realtime/pubsub.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import { RoleEnum } from '../user/user.graphql.ts';
import type { AttemptRow, NotificationRow, OutboxRow } from './notification.repository.ts';
import {
  type InAppBatchMessage,
  type InAppMessage,
  NOTIFICATION_BATCH_CHANNEL,
} from './notification-delivery.ts';
import { type KindDefinition, NOTIFICATION_KINDS } from './notification-kinds.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };

/** The in-app message and the centre's rows share one type: the client handles both the same way. */
type NotificationView = InAppMessage['payload'] & {
  readAt?: string | null;
  acknowledgedAt?: string | null;
  status?: string;
  userId?: string;
};

const view = (r: NotificationRow): NotificationView => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  body: r.body,
  data: r.data,
  priority: r.priority,
  createdAt: r.createdAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
  readAt: r.readAt?.toISOString() ?? null,
  acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
  status: r.status,
  userId: r.userId,
});

const NotificationRef = builder.objectRef<NotificationView>('Notification').implement({
  description: 'A notification for the calling account. Acknowledge each one received in-app.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.exposeString('kind'),
    title: t.exposeString('title'),
    body: t.exposeString('body'),
    data: t.field({ type: 'JSON', resolve: (n) => n.data }),
    priority: t.exposeString('priority', { description: 'high or normal' }),
    createdAt: t.field({ type: 'DateTime', resolve: (n) => n.createdAt }),
    expiresAt: t.field({ type: 'DateTime', resolve: (n) => n.expiresAt }),
    readAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.readAt ?? null }),
    acknowledgedAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.acknowledgedAt ?? null }),
  }),
});

const NotificationPageRef = builder
  .objectRef<{ items: NotificationRow[]; nextCursor: string | null }>('NotificationPage')
  .implement({
    description: 'Newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: { signedIn: true },
    fields: (t) => ({
      items: t.field({ type: [NotificationRef], resolve: (p) => p.items.map(view) }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const PreferencesRef = builder
  .objectRef<{ locale: string; mutedKinds: string[] }>('NotificationPreferences')
  .implement({
    description: "The language of the account's notifications and the kinds it muted",
    authScopes: { signedIn: true },
    fields: (t) => ({
      locale: t.exposeString('locale'),
      mutedKinds: t.exposeStringList('mutedKinds'),
    }),
  });

const KindRef = builder.objectRef<KindDefinition & { kind: string }>('NotificationKind').implement({
  description: 'One kind of the catalogue: how it is delivered and whether it can be muted',
  authScopes: { signedIn: true },
  fields: (t) => ({
    kind: t.exposeString('kind'),
    channels: t.exposeString('channels', { description: 'in_app, or in_app_then_push' }),
    ackTimeoutSeconds: t.exposeInt('ackTimeoutSeconds', { description: 'Before any settings override' }),
    priority: t.exposeString('priority'),
    expirySeconds: t.exposeInt('expirySeconds'),
    mutable: t.exposeBoolean('mutable'),
  }),
});

const AttemptRef = builder.objectRef<AttemptRow>('NotificationAttempt').implement({
  description: 'One delivery step: in_app_sent, offline, acknowledged, push_sent, push_retry, push_failed, …',
  authScopes: STAFF,
  fields: (t) => ({
    channel: t.exposeString('channel'),
    outcome: t.exposeString('outcome'),
    provider: t.exposeString('provider', { nullable: true }),
    tokenId: t.exposeID('tokenId', { nullable: true }),
    detail: t.exposeString('detail', { nullable: true, description: 'Why it failed, when it did' }),
    at: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
  }),
});

const DeliveryLogRef = builder.objectRef<NotificationRow>('NotificationDeliveryLog').implement({
  description: 'A notification with every delivery attempt (staff)',
  authScopes: STAFF,
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    kind: t.exposeString('kind'),
    status: t.exposeString('status'),
    title: t.exposeString('title'),
    createdAt: t.field({ type: 'DateTime', resolve: (n) => n.createdAt }),
    deliveredAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.deliveredAt }),
    acknowledgedAt: t.field({ type: 'DateTime', nullable: true, resolve: (n) => n.acknowledgedAt }),
    attempts: t.field({
      type: [AttemptRef],
      resolve: (n, _args, ctx) => ctx.services.notifications.service.attempts(n.id),
    }),
  }),
});

const OutboxEntryRef = builder.objectRef<OutboxRow>('PushOutboxEntry').implement({
  description: 'A push the local provider recorded instead of sending (no vendor configured)',
  authScopes: { role: ['admin'] },
  fields: (t) => ({
    id: t.id({ resolve: (o) => o.id.toString() }),
    notificationId: t.exposeID('notificationId'),
    userId: t.exposeID('userId'),
    tokenKind: t.exposeString('tokenKind'),
    payload: t.field({ type: 'JSON', resolve: (o) => o.payload }),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
  }),
});

const OutboxPageRef = builder
  .objectRef<{ items: OutboxRow[]; nextCursor: string | null }>('PushOutboxPage')
  .implement({
    description: 'Newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: { role: ['admin'] },
    fields: (t) => ({
      items: t.field({ type: [OutboxEntryRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const AudienceKindEnum = builder.enumType('BroadcastAudienceKind', {
  values: {
    ALL: { value: 'all', description: 'Every active account' },
    ROLE: { value: 'role', description: 'Accounts with `role`' },
    USERS: { value: 'users', description: 'The accounts in `userIds`' },
  } as const,
});

const AudienceInput = builder.inputType('BroadcastAudience', {
  description: 'Who an admin broadcast goes to (cohorts will be one more kind)',
  fields: (t) => ({
    kind: t.field({ type: AudienceKindEnum, required: true }),
    role: t.field({ type: RoleEnum, required: false }),
    userIds: t.idList({ required: false }),
  }),
});

const BroadcastRef = builder
  .objectRef<{ id: string; recipients: number }>('NotificationBroadcast')
  .implement({
    description: 'A broadcast that was created; its notifications are on their way',
    authScopes: { role: ['admin'] },
    fields: (t) => ({
      id: t.exposeID('id'),
      recipients: t.exposeInt('recipients', { description: 'Accounts that get it (muted ones excluded)' }),
    }),
  });

type AudienceArg = {
  kind: 'all' | 'role' | 'users';
  role?: string | null;
  userIds?: Array<string | number> | null;
};
const audienceOf = (a: AudienceArg) =>
  a.kind === 'role'
    ? { kind: a.kind, role: a.role }
    : a.kind === 'users'
      ? { kind: a.kind, userIds: (a.userIds ?? []).map(String) }
      : { kind: a.kind };

builder.queryFields((t) => ({
  myNotifications: t.field({
    type: NotificationPageRef,
    description: "The caller's notification centre, newest first",
    authScopes: { signedIn: true },
    args: { first: t.arg.int({ required: false }), after: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.service.list(requirePrincipal(ctx).userId, args.first ?? 20, args.after),
  }),
  myUnreadNotificationCount: t.int({
    description: 'Notifications in the centre not marked read',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) =>
      ctx.services.notifications.service.unreadCount(requirePrincipal(ctx).userId),
  }),
  myNotificationPreferences: t.field({
    type: PreferencesRef,
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) =>
      ctx.services.notifications.service.preferences(requirePrincipal(ctx).userId),
  }),
  notificationKinds: t.field({
    type: [KindRef],
    description: 'The catalogue of notification kinds',
    authScopes: { signedIn: true },
    resolve: () =>
      Object.entries(NOTIFICATION_KINDS).map(([kind, d]) => ({ ...(d as KindDefinition), kind })),
  }),
  notificationDeliveryLog: t.field({
    type: DeliveryLogRef,
    description: 'One notification and every attempt to deliver it (staff)',
    authScopes: STAFF,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notifications.service.get(String(args.id)),
  }),
  pushOutbox: t.field({
    type: OutboxPageRef,
    description: 'Pushes recorded by the local provider (admins)',
    authScopes: { role: ['admin'] },
    args: {
      notificationId: t.arg.id({ required: false }),
      userId: t.arg.id({ required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.service.outbox(
        {
          notificationId: args.notificationId ? String(args.notificationId) : null,
          userId: args.userId ? String(args.userId) : null,
        },
        args.first ?? 50,
        args.after,
      ),
  }),
  previewNotificationBroadcast: t.int({
    description: 'How many accounts a broadcast to this audience would reach now',
    authScopes: { role: ['admin'] },
    args: { audience: t.arg({ type: AudienceInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notifications.broadcasts.preview(audienceOf(args.audience)),
  }),
}));

builder.mutationFields((t) => ({
  acknowledgeNotification: t.field({
    type: NotificationRef,
    description: 'The client received this notification in-app: no push follows',
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) =>
      view(
        await ctx.services.notifications.service.acknowledge(requirePrincipal(ctx).userId, String(args.id)),
      ),
  }),
  markNotificationsRead: t.int({
    description: 'Marks these notifications of the caller read; returns how many changed',
    authScopes: { signedIn: true },
    args: { ids: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.service.markRead(requirePrincipal(ctx).userId, args.ids.map(String)),
  }),
  markAllNotificationsRead: t.int({
    description: 'Marks every notification of the caller read; returns how many changed',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) =>
      ctx.services.notifications.service.markAllRead(requirePrincipal(ctx).userId),
  }),
  setNotificationPreferences: t.field({
    type: PreferencesRef,
    description: 'Language of the texts and muted kinds (kinds that cannot be muted are refused)',
    authScopes: { signedIn: true },
    args: { locale: t.arg.string({ required: true }), mutedKinds: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.service.setPreferences(requirePrincipal(ctx).userId, {
        locale: args.locale,
        mutedKinds: args.mutedKinds,
      }),
  }),
  broadcastNotification: t.field({
    type: BroadcastRef,
    description: 'Sends an admin_broadcast notification to every account of the audience (audited)',
    authScopes: { role: ['admin'] },
    args: {
      audience: t.arg({ type: AudienceInput, required: true }),
      title: t.arg.string({ required: true }),
      body: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.broadcasts.broadcast(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        { audience: audienceOf(args.audience), title: args.title, body: args.body },
      ),
  }),
}));

/** Messages of several sources as they come; ends (and closes every source) when the consumer stops. */
async function* merge(sources: AsyncGenerator<unknown>[]): AsyncGenerator<unknown> {
  type Next = Promise<{ i: number; result: IteratorResult<unknown> }>;
  const pending = new Map<number, Next>();
  const pull = (i: number) => {
    const source = sources[i] as AsyncGenerator<unknown>;
    pending.set(
      i,
      source.next().then((result) => ({ i, result })),
    );
  };
  for (let i = 0; i < sources.length; i++) pull(i);
  try {
    while (pending.size > 0) {
      const { i, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(i);
        continue;
      }
      pull(i);
      yield result.value;
    }
  } finally {
    await Promise.all(sources.map((source) => source.return(undefined)));
  }
}

/** The caller's notifications: those on its own channel, and its entry of each batch on the shared topic. */
async function* notificationsOf(
  userId: string,
  source: AsyncGenerator<unknown>,
  stillAllowed: () => Promise<void>,
): AsyncGenerator<NotificationView> {
  for await (const message of source) {
    const m = message as {
      type?: string;
      payload?: InAppMessage['payload'];
      items?: InAppBatchMessage['items'];
    };
    if (m.type === 'notification' && m.payload) yield m.payload;
    const mine = m.type === 'notification_batch' ? m.items?.[userId] : undefined;
    if (mine) {
      // Checked only for the caller's own entry: every subscriber sees every batch, and checking
      // each session for each batch is thousands of queries for nothing.
      await stillAllowed();
      yield mine;
    }
  }
}

builder.subscriptionField('notifications', (t) =>
  t.field({
    type: NotificationRef,
    description:
      "Notifications for the caller as they are sent in-app. Acknowledge each (acknowledgeNotification), or a push follows after the kind's time-out.",
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) => {
      const { userId } = requirePrincipal(ctx);
      return notificationsOf(
        userId,
        merge([
          streamChannel(ctx.services.pubsub, channels.user(userId), sessionStillActive(ctx)),
          streamChannel(ctx.services.pubsub, NOTIFICATION_BATCH_CHANNEL),
        ]),
        sessionStillActive(ctx),
      );
    },
    resolve: (message) => message as NotificationView,
  }),
);
