import { z } from 'zod';
import { badInput } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { Attribution, AttributionReport, Consent } from './attribution.repository.ts';

const ADMIN = { role: ['admin' as const] };
const uuid = z.uuid('must be an id');
const first = (value: number | null | undefined) =>
  parseOrThrow(z.number().int().min(1).max(100), value ?? 50, 'first');
const label = z.string().trim().min(1).max(300);

const AttStatusEnum = builder.enumType('AttStatus', {
  description: 'Apple App Tracking Transparency answer, as the app reads it',
  values: {
    AUTHORIZED: { value: 'authorized' },
    DENIED: { value: 'denied' },
    RESTRICTED: { value: 'restricted' },
    NOT_DETERMINED: { value: 'not_determined' },
  } as const,
});

const DevicePlatformEnum = builder.enumType('DevicePlatform', {
  values: { IOS: { value: 'ios' }, ANDROID: { value: 'android' } } as const,
});

const TrackingConsentRef = builder.objectRef<Consent>('TrackingConsent').implement({
  description: 'Whether the account may be tracked for ads and analytics',
  authScopes: { signedIn: true },
  fields: (t) => ({
    optedOut: t.exposeBoolean('optedOut', { description: 'The user turned tracking off' }),
    attStatus: t.field({ type: AttStatusEnum, nullable: true, resolve: (c) => c.attStatus }),
    tracked: t.boolean({
      description: 'False when opted out or ATT denied/restricted: nothing about the account is sent',
      resolve: (c) => !(c.optedOut || c.attStatus === 'denied' || c.attStatus === 'restricted'),
    }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.updatedAt }),
  }),
});

export const AttributionRef = builder.objectRef<Attribution>('AdAttribution').implement({
  description:
    "An install attribution: the account's current one (latest report; install time from the first), or one report of its history",
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    source: t.string({ description: 'client or appsflyer_push', resolve: (a) => a.source }),
    mediaSource: t.exposeString('mediaSource', { nullable: true }),
    campaign: t.exposeString('campaign', { nullable: true }),
    adset: t.exposeString('adset', { nullable: true }),
    ad: t.exposeString('ad', { nullable: true }),
    isOrganic: t.exposeBoolean('isOrganic'),
    clickTime: t.field({ type: 'DateTime', nullable: true, resolve: (a) => a.clickTime }),
    installTime: t.field({ type: 'DateTime', nullable: true, resolve: (a) => a.installTime }),
    appsflyerId: t.exposeString('appsflyerId', { nullable: true }),
    platform: t.field({ type: DevicePlatformEnum, nullable: true, resolve: (a) => a.platform }),
    raw: t.field({ type: 'JSON', description: 'The payload as received', resolve: (a) => a.raw }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'When it was received',
      resolve: (a) => a.updatedAt,
    }),
  }),
});

const fromReport = (r: AttributionReport): Attribution => ({
  ...r,
  platform: null,
  appInstanceId: null,
  createdAt: r.receivedAt,
  updatedAt: r.receivedAt,
});

const ApphudEventRef = builder
  .objectRef<{
    apphudEventId: string;
    name: string;
    productId: string | null;
    environment: string | null;
    applied: boolean;
    receivedAt: Date;
  }>('ApphudEvent')
  .implement({
    description: 'An Apphud subscription webhook recorded against the user',
    authScopes: ADMIN,
    fields: (t) => ({
      apphudEventId: t.exposeString('apphudEventId'),
      name: t.exposeString('name'),
      productId: t.exposeString('productId', { nullable: true }),
      environment: t.exposeString('environment', { nullable: true }),
      applied: t.exposeBoolean('applied', { description: 'False while subscriptions are disabled' }),
      receivedAt: t.field({ type: 'DateTime', resolve: (e) => e.receivedAt }),
    }),
  });

const UserAttributionRef = builder.objectRef<{ userId: string }>('UserAdAttribution').implement({
  description: "Admin view of an account's attribution, its history and subscription webhooks",
  authScopes: ADMIN,
  fields: (t) => ({
    current: t.field({
      type: AttributionRef,
      nullable: true,
      resolve: (u, _a, ctx) => ctx.services.ads.attribution.current(u.userId),
    }),
    history: t.field({
      type: [AttributionRef],
      description: 'Every report received, newest first (at most 100)',
      resolve: async (u, _a, ctx) => (await ctx.services.ads.attribution.history(u.userId)).map(fromReport),
    }),
    consent: t.field({
      type: TrackingConsentRef,
      resolve: (u, _a, ctx) => ctx.services.ads.attribution.consent(u.userId),
    }),
    apphudEvents: t.field({
      type: [ApphudEventRef],
      resolve: (u, _a, ctx) => ctx.services.ads.apphud.eventsOf(u.userId),
    }),
  }),
});

const AttributedUsersPage = builder
  .objectRef<{ items: Attribution[]; nextCursor: string | null }>('AdAttributedUsersPage')
  .implement({
    authScopes: ADMIN,
    fields: (t) => ({
      items: t.field({ type: [AttributionRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const page = <T>(rows: T[], size: number, key: (row: T) => string) => {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > size && last ? key(last) : null };
};

builder.queryFields((t) => ({
  myTrackingConsent: t.field({
    type: TrackingConsentRef,
    description: "The caller's tracking choice (tracked unless opted out or ATT denied)",
    authScopes: { signedIn: true },
    resolve: (_r, _a, ctx) => ctx.services.ads.attribution.consent(requirePrincipal(ctx).userId),
  }),
  adAttribution: t.field({
    type: UserAttributionRef,
    description: "An account's attribution, history, consent and Apphud events",
    authScopes: ADMIN,
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, args) => ({ userId: parseOrThrow(uuid, String(args.userId), 'userId') }),
  }),
  adAttributedUsers: t.field({
    type: AttributedUsersPage,
    description: 'Attributed accounts filtered by media source and campaign, most recently updated first',
    authScopes: ADMIN,
    args: {
      mediaSource: t.arg.string({ required: false }),
      campaign: t.arg.string({ required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_r, args, ctx) => {
      const size = first(args.first);
      let after: { at: Date; userId: string } | undefined;
      if (args.after) {
        const [at, userId] = args.after.split('|');
        const date = new Date(at ?? '');
        if (Number.isNaN(date.getTime()) || !uuid.safeParse(userId).success)
          throw badInput('after is not a cursor this list returned', { field: 'after' });
        after = { at: date, userId: userId as string };
      }
      const rows = await ctx.services.ads.attribution.search(
        {
          mediaSource: args.mediaSource ? parseOrThrow(label, args.mediaSource, 'mediaSource') : undefined,
          campaign: args.campaign ? parseOrThrow(label, args.campaign, 'campaign') : undefined,
        },
        size + 1,
        after,
      );
      return page(rows, size, (a) => `${a.updatedAt.toISOString()}|${a.userId}`);
    },
  }),
}));

builder.mutationFields((t) => ({
  reportAttribution: t.field({
    type: AttributionRef,
    description:
      "Stores the AppsFlyer conversion data the app received after install (onConversionDataSuccess), with the SDK's AppsFlyer id",
    authScopes: { signedIn: true },
    args: {
      conversionData: t.arg({ type: 'JSON', required: true }),
      appsflyerId: t.arg.string({ required: false }),
      platform: t.arg({ type: DevicePlatformEnum, required: false }),
      firebaseAppInstanceId: t.arg.string({ required: false }),
    },
    resolve: (_r, args, ctx) => {
      const conversionData = parseOrThrow(
        z.record(z.string(), z.unknown()),
        args.conversionData,
        'conversionData',
      );
      const short = z.string().trim().min(1).max(200);
      return ctx.services.ads.attribution.reportFromClient(requirePrincipal(ctx).userId, {
        conversionData,
        appsflyerId: args.appsflyerId ? parseOrThrow(short, args.appsflyerId, 'appsflyerId') : null,
        platform: args.platform ?? null,
        appInstanceId: args.firebaseAppInstanceId
          ? parseOrThrow(short, args.firebaseAppInstanceId, 'firebaseAppInstanceId')
          : null,
      });
    },
  }),
  setTrackingConsent: t.field({
    type: TrackingConsentRef,
    description:
      "Sets the caller's tracking choice and/or the app's ATT answer. Opted out (or ATT denied/restricted): nothing about the account is sent to any analytics or ad destination.",
    authScopes: { signedIn: true },
    args: {
      optedOut: t.arg.boolean({ required: false }),
      attStatus: t.arg({ type: AttStatusEnum, required: false }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.ads.attribution.setConsent(requirePrincipal(ctx).userId, {
        optedOut: args.optedOut ?? undefined,
        attStatus: args.attStatus ?? undefined,
      }),
  }),
}));
