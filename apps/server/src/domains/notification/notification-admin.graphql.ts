import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { RoleEnum } from '../user/user.graphql.ts';
import type { AttemptRow } from './delivery-log.repository.ts';
import type { NotificationRow } from './notification.repository.ts';
import { FAILURE_OUTCOMES, NOTIFICATION_STATUSES } from './notification.tables.ts';
import type { OutboxRow } from './push-send.repository.ts';

/** The staff's side of notifications: the delivery log, the local outbox and admin broadcasts. */

const STAFF = { role: ['moderator' as const, 'admin' as const] };

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

const DeliveryLogPageRef = builder
  .objectRef<{ items: NotificationRow[]; nextCursor: string | null }>('NotificationDeliveryLogPage')
  .implement({
    description: 'Newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: STAFF,
    fields: (t) => ({
      items: t.field({ type: [DeliveryLogRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
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
  notificationDeliveryLog: t.field({
    type: DeliveryLogRef,
    description: 'One notification and every attempt to deliver it (staff)',
    authScopes: STAFF,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notifications.service.get(String(args.id)),
  }),
  notificationDeliveryLogs: t.field({
    type: DeliveryLogPageRef,
    description:
      'Notifications with their delivery attempts, newest first, narrowed by account, status and failure (admins)',
    authScopes: { role: ['admin'] },
    args: {
      userId: t.arg.id({ required: false }),
      status: t.arg.string({ required: false, description: NOTIFICATION_STATUSES.join(', ') }),
      failure: t.arg.string({
        required: false,
        description: `Only notifications with an attempt of this outcome: ${FAILURE_OUTCOMES.join(', ')}`,
      }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.notifications.service.deliveryLogs(
        {
          userId: args.userId ? String(args.userId) : null,
          status: args.status ?? null,
          failure: args.failure ?? null,
        },
        args.first ?? 50,
        args.after,
      ),
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
