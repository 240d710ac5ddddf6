import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { CallRef } from './call.graphql.ts';
import type { RoulettePreferences, RouletteStatus } from './roulette.service.ts';

const RouletteStateEnum = builder.enumType('RouletteState', {
  description: 'Where you are in roulette',
  values: {
    IDLE: { value: 'idle', description: 'Not in the pool' },
    WAITING: { value: 'waiting', description: 'In the pool, waiting for a match' },
    MATCHED: { value: 'matched', description: 'Matched: `call` is the roulette call' },
  } as const,
});

const RouletteSideEnum = builder.enumType('RouletteSide', {
  description: 'Which side of the pool: users pay, streamers earn',
  values: { USER: { value: 'user' }, STREAMER: { value: 'streamer' } } as const,
});

const RoulettePreferencesRef = builder.objectRef<RoulettePreferences>('RoulettePreferences').implement({
  authScopes: { signedIn: true },
  fields: (t) => ({
    language: t.exposeString('language', { nullable: true }),
    country: t.exposeString('country', { nullable: true }),
  }),
});

const RouletteStatusRef = builder.objectRef<RouletteStatus>('RouletteStatus').implement({
  description:
    'Your place in roulette. A match arrives on myCallUpdates as a new ROULETTE call; this status then ' +
    'shows it too.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    state: t.field({ type: RouletteStateEnum, resolve: (s) => s.state }),
    side: t.field({ type: RouletteSideEnum, nullable: true, resolve: (s) => s.side }),
    waitingSince: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.waitingSince }),
    preferences: t.field({ type: RoulettePreferencesRef, resolve: (s) => s.preferences }),
    widensAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'While waiting with a preference: from then on anyone may be matched',
      resolve: (s) => s.widensAt,
    }),
    call: t.field({ type: CallRef, nullable: true, resolve: (s) => s.call }),
  }),
});

const RoulettePreferencesInput = builder.inputType('RoulettePreferencesInput', {
  description:
    'What you would like of the other side, for the first roulette.preference_widen_seconds of a wait',
  fields: (t) => ({
    language: t.string({ required: false, description: 'ISO 639-1, e.g. en: one of their languages' }),
    country: t.string({ required: false, description: 'ISO 3166-1 alpha-2, e.g. DE: their country' }),
  }),
});

const me = (ctx: GraphQLContext) => requirePrincipal(ctx).userId;

builder.queryFields((t) => ({
  myRouletteStatus: t.field({
    type: RouletteStatusRef,
    description: 'Whether you are waiting in roulette (since when) or matched (the call)',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.roulette.status(me(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  joinRoulette: t.field({
    type: RouletteStatusRef,
    description:
      'Enters the roulette pool (already waiting: new preferences, same place). Send rouletteHeartbeat ' +
      'every 5 s while in roulette. FORBIDDEN when roulette is turned off; INSUFFICIENT_FUNDS when a user ' +
      'cannot afford the first stretch of the roulette tariff; CONFLICT while in a call.',
    authScopes: { signedIn: true },
    args: { preferences: t.arg({ type: RoulettePreferencesInput, required: false }) },
    resolve: (_root, args, ctx) => ctx.services.roulette.join(me(ctx), args.preferences),
  }),
  leaveRoulette: t.field({
    type: RouletteStatusRef,
    description: 'Leaves the roulette pool (a roulette call in progress goes on: hangUpCall ends it)',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.roulette.leave(me(ctx)),
  }),
  rouletteNext: t.field({
    type: RouletteStatusRef,
    description:
      'Hangs up your roulette call, if any (the two of you are not matched again for a while), and waits ' +
      'for the next match; without preferences, those of your last wait. Also the way back into the ' +
      'pool after the other side ended the call.',
    authScopes: { signedIn: true },
    args: { preferences: t.arg({ type: RoulettePreferencesInput, required: false }) },
    resolve: (_root, args, ctx) => ctx.services.roulette.next(me(ctx), args.preferences),
  }),
  rouletteHeartbeat: t.field({
    type: RouletteStatusRef,
    description:
      'Keeps your roulette entry alive: silent past roulette.heartbeat_timeout_seconds, it is dropped',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.roulette.heartbeat(me(ctx)),
  }),
}));
