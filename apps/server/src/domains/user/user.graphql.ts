import { ROLES, type Role } from '../../platform/auth/roles.ts';
import { notFound } from '../../platform/errors/app-error.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import type { AuthTokens } from './session.service.ts';
import type { PushTokenRow, SessionRow, UserRow } from './user.repository.ts';
import { PUSH_KINDS, PUSH_PLATFORMS } from './user.tables.ts';

export const RoleEnum = builder.enumType('Role', { values: ROLES });

const Viewer = builder.objectRef<UserRow & { activeRole: Role }>('Viewer').implement({
  description: 'The signed-in account, as seen by itself',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    roles: t.field({ type: [RoleEnum], resolve: (u) => u.roles }),
    activeRole: t.field({
      type: RoleEnum,
      description: 'The role this request acts as (x-hasura-role, or the default)',
      resolve: (u) => u.activeRole,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
  }),
});

const AuthPayload = builder.objectRef<AuthTokens>('AuthPayload').implement({
  description: 'Tokens for a new or refreshed session. Keep the refresh token secret; it is shown once.',
  authScopes: { public: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    sessionId: t.exposeID('sessionId'),
    accessToken: t.exposeString('accessToken'),
    accessTokenExpiresAt: t.field({ type: 'DateTime', resolve: (p) => p.accessTokenExpiresAt }),
    refreshToken: t.exposeString('refreshToken'),
    refreshTokenExpiresAt: t.field({ type: 'DateTime', resolve: (p) => p.refreshTokenExpiresAt }),
  }),
});

const PhoneCodeSent = builder.objectRef<{ expiresAt: Date }>('PhoneCodeSent').implement({
  authScopes: { public: true },
  fields: (t) => ({ expiresAt: t.field({ type: 'DateTime', resolve: (p) => p.expiresAt }) }),
});

const DeviceInput = builder.inputType('DeviceInput', {
  description: 'Describes the device signing in, shown in its list of sessions',
  fields: (t) => ({ name: t.string({ required: false }) }),
});

const device = (ctx: GraphQLContext, input: { name?: string | null } | null | undefined) => ({
  deviceName: input?.name?.slice(0, 100) ?? null,
  userAgent: ctx.userAgent?.slice(0, 300) ?? null,
  ip: ctx.ip,
});

builder.queryField('me', (t) =>
  t.field({
    type: Viewer,
    description: 'The calling account',
    authScopes: { signedIn: true },
    resolve: async (_root, _args, ctx) => {
      const principal = requirePrincipal(ctx);
      const user = await ctx.services.accounts.getUser(principal.userId);
      return { ...user, activeRole: principal.role };
    },
  }),
);

builder.mutationFields((t) => ({
  requestPhoneCode: t.field({
    type: PhoneCodeSent,
    description: 'Sends a 6-digit sign-in code to the phone (E.164)',
    authScopes: { public: true },
    args: { phone: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.signIn.requestPhoneCode({ phone: args.phone, ip: ctx.ip }),
  }),
  signInWithPhone: t.field({
    type: AuthPayload,
    description: 'Signs in (creating the account on first use) with the code sent by requestPhoneCode',
    authScopes: { public: true },
    args: {
      phone: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      device: t.arg({ type: DeviceInput, required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.signIn.signInWithPhone({
        phone: args.phone,
        code: args.code,
        ...device(ctx, args.device),
      }),
  }),
  signUpWithEmail: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      device: t.arg({ type: DeviceInput, required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.signIn.signUpWithEmail({
        email: args.email,
        password: args.password,
        ...device(ctx, args.device),
      }),
  }),
  signInWithEmail: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      device: t.arg({ type: DeviceInput, required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.signIn.signInWithEmail({
        email: args.email,
        password: args.password,
        ...device(ctx, args.device),
      }),
  }),
  refreshSession: t.field({
    type: AuthPayload,
    description:
      'Trades a refresh token for new tokens. Each refresh token works once; reuse signs the session out.',
    authScopes: { public: true },
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sessions.refresh(args.refreshToken, ctx.ip),
  }),
  signOut: t.int({
    description:
      'Signs out this device, or every device with allDevices: true. Returns how many sessions closed.',
    authScopes: { signedIn: true },
    args: { allDevices: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: (_root, args, ctx) => {
      const principal = requirePrincipal(ctx);
      if (args.allDevices) return ctx.services.sessions.signOut(principal.userId, 'all');
      // A Firebase token has no OLO session: the app signs out of Firebase itself.
      if (!principal.sessionId) return 0;
      return ctx.services.sessions.signOut(principal.userId, { sessionId: principal.sessionId });
    },
  }),
}));

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const Session = builder.objectRef<SessionRow & { current: boolean }>('Session').implement({
  description: 'A signed-in device of the calling account',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    deviceName: t.string({ nullable: true, resolve: (s) => s.deviceName }),
    userAgent: t.string({ nullable: true, resolve: (s) => s.userAgent }),
    ip: t.string({ nullable: true, resolve: (s) => s.ip }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    lastSeenAt: t.field({
      type: 'DateTime',
      description: 'Last sign-in or refresh',
      resolve: (s) => s.lastSeenAt,
    }),
    current: t.boolean({ description: 'The session this request was made with', resolve: (s) => s.current }),
  }),
});

export const PushPlatformEnum = builder.enumType('PushPlatform', { values: PUSH_PLATFORMS });
export const PushKindEnum = builder.enumType('PushKind', {
  description: 'The push service a token belongs to',
  values: PUSH_KINDS,
});

const PushToken = builder.objectRef<PushTokenRow>('PushToken').implement({
  description: "A device's push registration token",
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: PushKindEnum, resolve: (p) => p.kind }),
    platform: t.field({ type: PushPlatformEnum, resolve: (p) => p.platform }),
    sessionId: t.id({ nullable: true, resolve: (p) => p.sessionId }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.updatedAt }),
  }),
});

builder.queryFields((t) => ({
  mySessions: t.field({
    type: [Session],
    description: "The calling account's signed-in devices, most recently used first",
    authScopes: { signedIn: true },
    resolve: async (_root, _args, ctx) => {
      const principal = requirePrincipal(ctx);
      const sessions = await ctx.services.sessions.listOpen(principal.userId);
      return sessions.map((s) => ({ ...s, current: s.id === principal.sessionId }));
    },
  }),
  exportMyData: t.field({
    type: 'JSON',
    description:
      'Everything held about the calling account, as JSON: account, profile, media list and KYC history (no password or token hashes, file bytes or URLs)',
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.accountDeletion.exportData(requirePrincipal(ctx).userId),
  }),
}));

builder.mutationFields((t) => ({
  revokeSession: t.boolean({
    description: 'Signs out one of your own devices (its tokens and sockets stop working at once)',
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = requirePrincipal(ctx);
      const id = String(args.id);
      if (!uuidPattern.test(id)) throw notFound('Session');
      await ctx.services.sessions.revokeOwn(principal.userId, id);
      return true;
    },
  }),
  registerPushToken: t.field({
    type: PushToken,
    description:
      "Registers this device's push token (bound to the calling session). A token already registered " +
      'moves to the calling account.',
    authScopes: { signedIn: true },
    args: {
      token: t.arg.string({ required: true }),
      platform: t.arg({ type: PushPlatformEnum, required: true }),
      kind: t.arg({ type: PushKindEnum, required: true }),
    },
    resolve: (_root, args, ctx) => {
      const principal = requirePrincipal(ctx);
      return ctx.services.pushTokens.register({
        userId: principal.userId,
        sessionId: principal.sessionId ?? null,
        platform: args.platform,
        kind: args.kind,
        token: args.token,
      });
    },
  }),
  unregisterPushToken: t.boolean({
    description: 'Removes a push token of the calling account; false when it had no such token',
    authScopes: { signedIn: true },
    args: {
      token: t.arg.string({ required: true }),
      kind: t.arg({ type: PushKindEnum, required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.pushTokens.unregister(requirePrincipal(ctx).userId, args.kind, args.token),
  }),
  deleteMyAccount: t.boolean({
    description:
      'Deletes the calling account for good: personal data is erased and every token stops working. ' +
      'Pass confirm: "DELETE".',
    authScopes: { signedIn: true },
    args: { confirm: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.accountDeletion.deleteAccount(requirePrincipal(ctx).userId, args.confirm);
      return true;
    },
  }),
}));
