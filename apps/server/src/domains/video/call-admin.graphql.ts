import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { VIDEO_PROVIDER_NAMES } from '../../providers/video/video.provider.ts';
import { CallEndReasonEnum, CallRef, VideoCallKindEnum } from './call.graphql.ts';
import type { CallPage } from './call-history.service.ts';
import type { ProviderStatus } from './provider-selector.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };
const ADMIN = { role: ['admin' as const] };
const uuid = z.uuid('must be an id');
const staff = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const CallPageRef = builder.objectRef<CallPage>('CallPage').implement({
  description: 'Calls, newest first. Pass nextCursor as `after`; null at the end.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    items: t.field({ type: [CallRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

type Transition = Awaited<ReturnType<GraphQLContext['services']['video']['history']['transitions']>>[number];
const CallTransitionRef = builder.objectRef<Transition>('CallTransition').implement({
  description: 'One step of a call: the state it entered, why, and who moved it',
  authScopes: STAFF,
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    state: t.exposeString('state'),
    reason: t.exposeString('reason', { nullable: true }),
    actor: t.exposeString('actor'),
    detail: t.field({ type: 'JSON', resolve: (x) => x.detail }),
    at: t.field({ type: 'DateTime', resolve: (x) => x.at }),
  }),
});

const VideoProviderStatusRef = builder.objectRef<ProviderStatus>('VideoProviderStatus').implement({
  description: 'A video provider in priority order, with its circuit breaker and last health check',
  authScopes: STAFF,
  fields: (t) => ({
    name: t.exposeString('name'),
    priority: t.exposeInt('priority'),
    circuitOpen: t.boolean({ resolve: (p) => p.circuit === 'open' }),
    openUntil: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.openUntil }),
    reason: t.exposeString('reason', { nullable: true }),
    recentFailures: t.exposeInt('recentFailures'),
    lastCheckAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.lastCheckAt }),
    lastCheckOk: t.exposeBoolean('lastCheckOk', { nullable: true }),
    lastCheckDetail: t.exposeString('lastCheckDetail', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  myCalls: t.field({
    type: CallPageRef,
    description: 'Your calls (as caller or callee), newest first',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.video.history.list({ userId: requirePrincipal(ctx).userId }, args.first ?? 50, args.after),
  }),
  adminCalls: t.field({
    type: CallPageRef,
    description: 'Call history with filters (staff); live: true gives the calls going on now',
    authScopes: STAFF,
    args: {
      userId: t.arg.id({ required: false }),
      kind: t.arg({ type: VideoCallKindEnum, required: false }),
      endReason: t.arg({ type: CallEndReasonEnum, required: false }),
      provider: t.arg.string({ required: false }),
      live: t.arg.boolean({ required: false }),
      from: t.arg({ type: 'DateTime', required: false }),
      to: t.arg({ type: 'DateTime', required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? parseOrThrow(uuid, String(args.userId), 'userId') : undefined;
      if (args.provider && !(VIDEO_PROVIDER_NAMES as readonly string[]).includes(args.provider)) {
        parseOrThrow(z.enum(VIDEO_PROVIDER_NAMES), args.provider, 'provider');
      }
      return ctx.services.video.history.list(
        {
          ...(userId ? { userId } : {}),
          ...(args.kind ? { kind: args.kind } : {}),
          ...(args.endReason ? { endReason: args.endReason } : {}),
          ...(args.provider ? { provider: args.provider } : {}),
          ...(args.live != null ? { live: args.live } : {}),
          ...(args.from ? { from: args.from } : {}),
          ...(args.to ? { to: args.to } : {}),
        },
        args.first ?? 50,
        args.after,
      );
    },
  }),
  adminCall: t.field({
    type: CallRef,
    nullable: true,
    description: 'One call (staff)',
    authScopes: STAFF,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await ctx.services.calls.find(String(args.id))) ?? null,
  }),
  adminCallTransitions: t.field({
    type: [CallTransitionRef],
    description: "Every step of a call's life (staff)",
    authScopes: STAFF,
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.video.history.transitions(parseOrThrow(uuid, String(args.callId), 'callId')),
  }),
  videoProviders: t.field({
    type: [VideoProviderStatusRef],
    description: 'Video providers in priority order with their health (staff)',
    authScopes: STAFF,
    resolve: (_root, _args, ctx) => ctx.services.video.selector.status(),
  }),
}));

builder.mutationFields((t) => ({
  adminEndCall: t.field({
    type: CallRef,
    description: 'Ends a live call with a reason (staff, audited); the call ends as STAFF',
    authScopes: STAFF,
    args: { callId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.video.history.endAsStaff(
        staff(ctx),
        parseOrThrow(uuid, String(args.callId), 'callId'),
        args.reason,
      ),
  }),
  adminCheckVideoProviders: t.field({
    type: [VideoProviderStatusRef],
    description: 'Runs the health checks now (admins); an unhealthy answer counts as a failure',
    authScopes: ADMIN,
    resolve: (_root, _args, ctx) => ctx.services.video.selector.checkAll(),
  }),
}));
