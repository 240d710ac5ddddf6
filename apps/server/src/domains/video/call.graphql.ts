import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import type { ParticipantCredentials } from '../../providers/video/video.provider.ts';
import type { CallRecord } from './call.repository.ts';
import { type CallChannelMessage, callChannel, connectedSeconds, sideOf } from './call-party.ts';
import { CALL_STATES, END_REASONS } from './call-state.ts';

const STAFF_ROLES = ['moderator', 'admin'] as const;
const isStaff = (ctx: GraphQLContext) =>
  ctx.principal !== null && (STAFF_ROLES as readonly string[]).includes(ctx.principal.role);

const upperEnum = <const T extends readonly string[]>(name: string, values: T, description: string) =>
  builder.enumType(name, {
    description,
    values: Object.fromEntries(values.map((v) => [v.toUpperCase(), { value: v }])) as {
      [K in T[number] as Uppercase<K>]: { value: K };
    },
  });

export const CallStateEnum = upperEnum('CallState', CALL_STATES, 'Where a call is in its life');
export const CallEndReasonEnum = upperEnum('CallEndReason', END_REASONS, 'Why a call ended');
const CallSideEnum = upperEnum('CallSide', ['caller', 'callee'] as const, 'A side of a call');
const CallEndedByEnum = upperEnum(
  'CallEndedBy',
  ['caller', 'callee', 'system', 'staff'] as const,
  'Who ended a call: a side, the server (time-outs, billing, bans) or a moderator',
);
export const VideoCallKindEnum = upperEnum(
  'VideoCallKind',
  ['direct', 'roulette', 'prerecorded'] as const,
  'Direct (one account calls another), roulette (matched) or a prerecorded video',
);
const SignalKindEnum = upperEnum(
  'CallSignalKind',
  ['offer', 'answer', 'ice', 'restart'] as const,
  'WebRTC signalling for the local provider',
);

const IceServerRef = builder
  .objectRef<{ urls: string[]; username?: string; credential?: string }>('IceServer')
  .implement({
    authScopes: { signedIn: true },
    fields: (t) => ({
      urls: t.exposeStringList('urls'),
      username: t.string({ nullable: true, resolve: (s) => s.username ?? null }),
      credential: t.string({ nullable: true, resolve: (s) => s.credential ?? null }),
    }),
  });

export const CallConnectionRef = builder.objectRef<ParticipantCredentials>('CallConnection').implement({
  description:
    "What the caller's device needs to join the call's room. Renew it (renewCallConnection) before expiresAt.",
  authScopes: { signedIn: true },
  fields: (t) => ({
    provider: t.exposeString('provider', {
      description: 'agora, twilio or local (WebRTC through sendCallSignal)',
    }),
    room: t.exposeString('room', { description: 'Agora channel / Twilio room name (the call id)' }),
    identity: t.exposeString('identity', { description: 'Agora uid, Twilio identity, or local side' }),
    token: t.exposeString('token', { nullable: true }),
    appId: t.exposeString('appId', { nullable: true }),
    expiresAt: t.field({ type: 'DateTime', resolve: (c) => c.expiresAt }),
    iceServers: t.field({ type: [IceServerRef], resolve: (c) => c.iceServers }),
  }),
});

const ROOM_STATES = new Set(['accepted', 'connecting', 'connected']);

/** A live call's totals are billing's (the call row gets them when it ends). */
async function coinsSoFar(
  call: CallRecord,
  ctx: GraphQLContext,
): Promise<{ charged: bigint; earned: bigint }> {
  if (call.state !== 'connected') return call;
  const session = await ctx.services.billing.session(call.id);
  return session ? { charged: session.charged, earned: session.earned } : call;
}

export const CallRef = builder.objectRef<CallRecord>('Call').implement({
  description: 'A video call (direct, roulette or prerecorded): its state, times, provider and coins',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: VideoCallKindEnum, resolve: (c) => c.kind }),
    state: t.field({ type: CallStateEnum, resolve: (c) => c.state }),
    endReason: t.field({ type: CallEndReasonEnum, nullable: true, resolve: (c) => c.endReason }),
    endedBy: t.field({ type: CallEndedByEnum, nullable: true, resolve: (c) => c.endedBy }),
    callerId: t.exposeID('callerId'),
    calleeId: t.exposeID('calleeId'),
    payerId: t.exposeID('payerId'),
    earnerId: t.exposeID('earnerId'),
    provider: t.exposeString('provider', { nullable: true }),
    mySide: t.field({
      type: CallSideEnum,
      nullable: true,
      resolve: (c, _args, ctx) => (ctx.principal ? sideOf(c, ctx.principal.userId) : null),
    }),
    requestedAt: t.field({ type: 'DateTime', resolve: (c) => c.requestedAt }),
    ringingAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.ringingAt }),
    acceptedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.acceptedAt }),
    connectedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.connectedAt }),
    endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.endedAt }),
    ringsUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'While requested or ringing: when the call is given up as missed',
      resolve: (c) => (c.state === 'requested' || c.state === 'ringing' ? c.deadlineAt : null),
    }),
    durationSeconds: t.int({
      description: 'Connected seconds (so far, while connected)',
      resolve: (c, _args, ctx) => connectedSeconds(c, ctx.services.clock.now()),
    }),
    charged: t.field({
      type: 'Coins',
      nullable: true,
      description:
        'Coins the payer was charged: so far while connected, final once ended (the payer and staff)',
      resolve: async (c, _args, ctx) =>
        ctx.principal?.userId === c.payerId || isStaff(ctx) ? (await coinsSoFar(c, ctx)).charged : null,
    }),
    earned: t.field({
      type: 'Coins',
      nullable: true,
      description: 'Coins the earner earned: so far while connected, final once ended (the earner and staff)',
      resolve: async (c, _args, ctx) =>
        ctx.principal?.userId === c.earnerId || isStaff(ctx) ? (await coinsSoFar(c, ctx)).earned : null,
    }),
    version: t.exposeInt('version', { description: 'Grows with every change: on a gap, reload the call' }),
    connection: t.field({
      type: CallConnectionRef,
      nullable: true,
      description: "The caller's own credentials for the room, while there is one to join (a side only)",
      resolve: async (c, _args, ctx) => {
        const userId = ctx.principal?.userId;
        // A prerecorded video has no room: the viewer plays its media URL.
        if (!userId || !sideOf(c, userId) || !ROOM_STATES.has(c.state) || c.kind === 'prerecorded') {
          return null;
        }
        return ctx.services.callRooms.credentials(userId, c.id);
      },
    }),
  }),
});

type Signal = Extract<CallChannelMessage, { type: 'signal' }>;
const CallSignalRef = builder.objectRef<Signal>('CallSignal').implement({
  authScopes: { signedIn: true },
  fields: (t) => ({
    callId: t.exposeID('callId'),
    from: t.field({ type: CallSideEnum, resolve: (s) => s.from }),
    kind: t.field({ type: SignalKindEnum, resolve: (s) => s.kind as 'offer' }),
    payload: t.exposeString('payload', {
      description: 'SDP or ICE candidate, as the browser gave it (JSON)',
    }),
  }),
});

type CallUpdate = { call: CallRecord | null; signal: Signal | null };
const CallUpdateRef = builder.objectRef<CallUpdate>('CallUpdate').implement({
  description:
    'A change of one of your calls (the call as it is now), or a signalling message from the other side',
  authScopes: { signedIn: true },
  fields: (t) => ({
    call: t.field({ type: CallRef, nullable: true, resolve: (u) => u.call }),
    signal: t.field({ type: CallSignalRef, nullable: true, resolve: (u) => u.signal }),
  }),
});

const callIdArg = z.uuid('callId must be an id');
const signalSchema = z.object({
  kind: z.enum(['offer', 'answer', 'ice', 'restart']),
  payload: z.string().min(1).max(16_000, 'payload is at most 16000 characters'),
});

const me = (ctx: GraphQLContext) => requirePrincipal(ctx).userId;

builder.queryFields((t) => ({
  call: t.field({
    type: CallRef,
    description: 'One of your calls',
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.calls.get(me(ctx), String(args.id)),
  }),
  myActiveCall: t.field({
    type: CallRef,
    nullable: true,
    description: 'Your live call, if any (after reconnecting, start here)',
    authScopes: { signedIn: true },
    resolve: async (_root, _args, ctx) => (await ctx.services.calls.activeCallOf(me(ctx))) ?? null,
  }),
}));

builder.mutationFields((t) => ({
  requestCall: t.field({
    type: CallRef,
    description:
      'Calls a streamer (or, as a streamer, a user). INSUFFICIENT_FUNDS when the payer cannot afford the first ' +
      'stretch; a callee in another call gives a call that ended BUSY.',
    authScopes: { signedIn: true },
    args: { calleeId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.calls.request(me(ctx), String(args.calleeId)),
  }),
  markCallRinging: t.field({
    type: CallRef,
    description: "The callee's device is ringing",
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.calls.ringing(me(ctx), String(args.callId)),
  }),
  acceptCall: t.field({
    type: CallRef,
    description: 'Answers a call (the callee): the call gets a room; fetch `connection` and join it',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.calls.accept(me(ctx), String(args.callId)),
  }),
  hangUpCall: t.field({
    type: CallRef,
    description: 'Cancels (caller) or declines (callee) before the answer; hangs up afterwards',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.calls.hangUp(me(ctx), String(args.callId)),
  }),
  confirmCallMedia: t.field({
    type: CallRef,
    description: 'Local provider: your media is flowing. The call connects when both sides confirmed',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.callRooms.confirmMedia(me(ctx), String(args.callId)),
  }),
  callHeartbeat: t.field({
    type: CallRef,
    description:
      'Send every 10 s while connected: a side silent past call.reconnect_grace_seconds is disconnected',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.callRooms.heartbeat(me(ctx), String(args.callId)),
  }),
  reportCallMediaFailure: t.field({
    type: CallRef,
    description: "The provider's media failed while connecting: the call moves to the next provider",
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.callRooms.reportMediaFailure(me(ctx), String(args.callId), args.reason),
  }),
  renewCallConnection: t.field({
    type: CallConnectionRef,
    description: 'Fresh credentials for the room (before the current ones expire)',
    authScopes: { signedIn: true },
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.callRooms.credentials(me(ctx), String(args.callId)),
  }),
  sendCallSignal: t.boolean({
    description: 'Local provider: relays an offer, answer or ICE candidate to the other side of the call',
    authScopes: { signedIn: true },
    args: {
      callId: t.arg.id({ required: true }),
      kind: t.arg({ type: SignalKindEnum, required: true }),
      payload: t.arg.string({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const callId = parseOrThrow(callIdArg, String(args.callId), 'callId');
      const signal = parseOrThrow(signalSchema, { kind: args.kind, payload: args.payload }, 'signal');
      await ctx.services.callRooms.signal(me(ctx), callId, signal.kind, signal.payload);
      return true;
    },
  }),
}));

async function* callUpdates(
  source: AsyncGenerator<unknown>,
  ctx: GraphQLContext,
): AsyncGenerator<CallUpdate> {
  const userId = me(ctx);
  for await (const raw of source) {
    const message = raw as CallChannelMessage;
    if (message.type === 'signal') {
      yield { call: null, signal: message };
      continue;
    }
    // The call as it is now (a later change may already have happened: the newest state wins).
    const call = await ctx.services.calls.find(message.callId);
    if (call && sideOf(call, userId)) yield { call, signal: null };
  }
}

builder.subscriptionField('myCallUpdates', (t) =>
  t.field({
    type: CallUpdateRef,
    description:
      'Every change of your calls (incoming calls included) and signalling for the local provider. ' +
      'After reconnecting, reload with myActiveCall.',
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) =>
      callUpdates(streamChannel(ctx.services.pubsub, callChannel(me(ctx)), sessionStillActive(ctx)), ctx),
    resolve: (update) => update as CallUpdate,
  }),
);
