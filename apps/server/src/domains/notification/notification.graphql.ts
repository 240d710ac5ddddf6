import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { channels } from '../../platform/realtime/pubsub.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import type { NotificationRow } from './notification.repository.ts';
import {
  type InAppBatchMessage,
  type InAppMessage,
  NOTIFICATION_BATCH_CHANNEL,
} from './notification-delivery.ts';
import { type KindDefinition, NOTIFICATION_KINDS } from './notification-kinds.ts';
// The staff's fields live beside these; loaded with them.
import './notification-admin.graphql.ts';

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
