import { z } from 'zod';
import { badInput } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import type { DeliveryStatus } from './ads.tables.ts';
import type { DailyRow } from './attribution.repository.ts';
import type { Delivery, DeliveryAttempt, DestinationStats } from './delivery.repository.ts';

// Admin views of the ads domain: the delivery log, failure counts, the daily report, the local sink.
const ADMIN = { role: ['admin' as const] };
const uuid = z.uuid('must be an id');
const first = (value: number | null | undefined) =>
  parseOrThrow(z.number().int().min(1).max(100), value ?? 50, 'first');
const idCursor = (after: string | null | undefined) =>
  after ? BigInt(parseOrThrow(z.string().regex(/^\d{1,19}$/, 'not a cursor'), after, 'after')) : undefined;
const label = z.string().trim().min(1).max(300);
const page = <T>(rows: T[], size: number, key: (row: T) => string) => {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > size && last ? key(last) : null };
};

const DeliveryStatusEnum = builder.enumType('AdDeliveryStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Waiting to be sent, or to be retried' },
    WAITING: {
      value: 'waiting',
      description:
        "Held until the user's attribution brings what the destination needs (AppsFlyer: the AppsFlyer id)",
    },
    SENT: { value: 'sent' },
    FAILED: { value: 'failed', description: 'A permanent error, or every retry used' },
    SKIPPED: {
      value: 'skipped',
      description:
        'Not sent: the user opted out, the vendor would refuse it (lastError says why), or it waited too long',
    },
  } as const,
});

const DeliveryAttemptRef = builder.objectRef<DeliveryAttempt>('AdDeliveryAttempt').implement({
  authScopes: ADMIN,
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    outcome: t.string({ description: 'sent, transient, permanent or skipped', resolve: (a) => a.outcome }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    request: t.exposeString('request', { nullable: true, description: 'As sent, credentials removed' }),
    response: t.exposeString('response', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (a) => a.at }),
  }),
});

const DeliveryRef = builder.objectRef<Delivery>('AdDelivery').implement({
  description: 'One event for one destination, and every attempt to send it',
  authScopes: ADMIN,
  fields: (t) => ({
    id: t.id({ resolve: (d) => d.id.toString() }),
    destination: t.exposeString('destination'),
    eventId: t.exposeID('eventId'),
    eventType: t.exposeString('eventType'),
    userId: t.exposeID('userId', { nullable: true }),
    event: t.field({ type: 'JSON', resolve: (d) => d.event }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.field({
      type: [DeliveryAttemptRef],
      resolve: (d, _a, ctx) => ctx.services.ads.deliveryLog.attemptsOf([d.id]),
    }),
    lastError: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.field({ type: 'DateTime', resolve: (d) => d.nextAttemptAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    sentAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.sentAt }),
  }),
});

const DeliveryPage = builder
  .objectRef<{ items: Delivery[]; nextCursor: string | null }>('AdDeliveryPage')
  .implement({
    authScopes: ADMIN,
    fields: (t) => ({
      items: t.field({ type: [DeliveryRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const DestinationStatsRef = builder.objectRef<DestinationStats>('AdDestinationStats').implement({
  authScopes: ADMIN,
  fields: (t) => ({
    destination: t.exposeString('destination'),
    pending: t.exposeInt('pending'),
    waiting: t.exposeInt('waiting', { description: "Held for the user's attribution" }),
    sent: t.exposeInt('sent'),
    failed: t.exposeInt('failed'),
    skipped: t.exposeInt('skipped'),
    failedAttempts: t.exposeInt('failedAttempts', { description: 'Attempts answered with an error' }),
  }),
});

const RevenueRef = builder.objectRef<{ currency: string; amountMinor: bigint }>('AdRevenue').implement({
  authScopes: ADMIN,
  fields: (t) => ({
    currency: t.exposeString('currency'),
    amountMinor: t.string({
      description: 'Minor units, as a decimal string',
      resolve: (r) => r.amountMinor.toString(),
    }),
  }),
});

const DailyRowRef = builder.objectRef<DailyRow>('AdDailyRow').implement({
  description: 'Sign-ups and purchases of one UTC day, media source and campaign',
  authScopes: ADMIN,
  fields: (t) => ({
    day: t.exposeString('day'),
    mediaSource: t.exposeString('mediaSource', { description: "'organic' for unattributed users" }),
    campaign: t.exposeString('campaign'),
    signUps: t.exposeInt('signUps'),
    purchases: t.exposeInt('purchases'),
    revenue: t.field({ type: [RevenueRef], resolve: (r) => r.revenue }),
  }),
});

const SinkEventRef = builder
  .objectRef<{
    id: bigint;
    eventId: string;
    name: string;
    userId: string | null;
    payload: unknown;
    receivedAt: Date;
  }>('AdSinkEvent')
  .implement({
    description: 'An event the local event sink received (the default destination)',
    authScopes: ADMIN,
    fields: (t) => ({
      id: t.id({ resolve: (e) => e.id.toString() }),
      eventId: t.exposeID('eventId'),
      name: t.exposeString('name'),
      userId: t.exposeID('userId', { nullable: true }),
      payload: t.field({ type: 'JSON', resolve: (e) => e.payload }),
      receivedAt: t.field({ type: 'DateTime', resolve: (e) => e.receivedAt }),
    }),
  });

const SinkPage = builder
  .objectRef<{
    items: Array<{
      id: bigint;
      eventId: string;
      name: string;
      userId: string | null;
      payload: unknown;
      receivedAt: Date;
    }>;
    nextCursor: string | null;
  }>('AdSinkEventPage')
  .implement({
    authScopes: ADMIN,
    fields: (t) => ({
      items: t.field({ type: [SinkEventRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

builder.queryFields((t) => ({
  adDeliveries: t.field({
    type: DeliveryPage,
    description:
      'The delivery log, newest first, per destination (sink, snapchat, appsflyer, amplitude, ga4)',
    authScopes: ADMIN,
    args: {
      destination: t.arg.string({ required: false }),
      status: t.arg({ type: DeliveryStatusEnum, required: false }),
      userId: t.arg.id({ required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_r, args, ctx) => {
      const size = first(args.first);
      const rows = await ctx.services.ads.deliveryLog.list(
        {
          destination: args.destination ? parseOrThrow(label, args.destination, 'destination') : undefined,
          status: (args.status ?? undefined) as DeliveryStatus | undefined,
          userId: args.userId ? parseOrThrow(uuid, String(args.userId), 'userId') : undefined,
        },
        size + 1,
        idCursor(args.after),
      );
      return page(rows, size, (d) => d.id.toString());
    },
  }),
  adDeliveryStats: t.field({
    type: [DestinationStatsRef],
    description: 'Deliveries per destination and status, and failed attempts',
    authScopes: ADMIN,
    resolve: (_r, _a, ctx) => ctx.services.ads.deliveryLog.stats(),
  }),
  adDailyReport: t.field({
    type: [DailyRowRef],
    description:
      'Sign-ups and purchases per UTC day, media source and campaign, in [from, to) (at most 92 days)',
    authScopes: ADMIN,
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (_r, args, ctx) => {
      const span = args.to.getTime() - args.from.getTime();
      if (span <= 0 || span > 92 * 86_400_000)
        throw badInput('to must be after from, at most 92 days', { field: 'to' });
      return ctx.services.ads.attribution.dailyReport(args.from, args.to);
    },
  }),
  adSinkEvents: t.field({
    type: SinkPage,
    description: 'What the local event sink received, newest first',
    authScopes: ADMIN,
    args: {
      name: t.arg.string({ required: false }),
      userId: t.arg.id({ required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_r, args, ctx) => {
      const size = first(args.first);
      const rows = await ctx.services.ads.deliveryLog.listSinkEvents(
        {
          name: args.name ? parseOrThrow(label, args.name, 'name') : undefined,
          userId: args.userId ? parseOrThrow(uuid, String(args.userId), 'userId') : undefined,
        },
        size + 1,
        idCursor(args.after),
      );
      return page(rows, size, (e) => e.id.toString());
    },
  }),
}));
