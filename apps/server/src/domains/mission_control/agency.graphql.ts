import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import type { Agency, AgencyManager, AgencyMembership } from './agency.repository.ts';
import type { AgencyReport, AgencyStreamerReport, Earnings } from './agency.service.ts';

const ADMIN = { role: ['admin' as const] };
const DAY_MS = 86_400_000;

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const uuid = z.uuid('must be an id');
const nameSchema = z.string().trim().min(1, 'name must not be empty').max(100);
const shareSchema = z.number().int().min(0).max(10_000, 'shareBps is at most 10000 (100%)');

const staff = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

export const EarningsRef = builder.objectRef<Earnings>('Earnings').implement({
  description: 'Earned coins: pending (held for the hold period) and available (can be paid out)',
  authScopes: { signedIn: true },
  fields: (t) => ({
    pending: t.field({ type: 'Coins', resolve: (e) => e.pending }),
    available: t.field({ type: 'Coins', resolve: (e) => e.available }),
  }),
});

const AgencyMemberRef = builder.objectRef<AgencyMembership>('AgencyMember').implement({
  description: "A streamer's membership of an agency",
  authScopes: ADMIN,
  fields: (t) => ({
    agencyId: t.exposeID('agencyId'),
    streamerId: t.exposeID('streamerId'),
    since: t.field({ type: 'DateTime', resolve: (m) => m.startedAt }),
    until: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'null: still a member',
      resolve: (m) => m.endedAt,
    }),
  }),
});

const AgencyManagerRef = builder.objectRef<AgencyManager>('AgencyManager').implement({
  description: 'An account allowed to see the agency’s numbers',
  authScopes: ADMIN,
  fields: (t) => ({
    userId: t.exposeID('userId'),
    since: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

const AgencyRef = builder.objectRef<Agency>('Agency').implement({
  description: 'A company that recruits streamers and takes a share of what they earn',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    shareBps: t.exposeInt('shareBps', {
      description: "The agency's share of each coin its streamers earn, in basis points (100 = 1%)",
    }),
    active: t.exposeBoolean('active', { description: 'An inactive agency takes no share' }),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (a) => a.updatedAt }),
    streamers: t.field({
      type: [AgencyMemberRef],
      description: 'Current members, oldest membership first',
      authScopes: ADMIN,
      resolve: (a, _args, ctx) => ctx.services.agencies.currentMembers(a.id),
    }),
    managers: t.field({
      type: [AgencyManagerRef],
      authScopes: ADMIN,
      resolve: (a, _args, ctx) => ctx.services.agencies.managers(a.id),
    }),
    earnings: t.field({
      type: EarningsRef,
      description: "The agency's own earnings",
      authScopes: ADMIN,
      resolve: (a, _args, ctx) => ctx.services.ledger.earnings({ kind: 'agency', id: a.id }),
    }),
  }),
});

const AgencyStreamerReportRef = builder.objectRef<AgencyStreamerReport>('AgencyStreamerReport').implement({
  description: 'A streamer who belonged to the agency during the period',
  authScopes: { signedIn: true },
  fields: (t) => ({
    streamerId: t.exposeID('streamerId'),
    since: t.field({
      type: 'DateTime',
      description: 'Start of the latest membership',
      resolve: (s) => s.since,
    }),
    until: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'null: still a member',
      resolve: (s) => s.until,
    }),
    earnings: t.field({
      type: EarningsRef,
      description: "The streamer's earnings now",
      resolve: (s) => s.earnings,
    }),
    earnedInPeriod: t.field({
      type: 'Coins',
      description: "The streamer's own share credited while a member, within the period",
      resolve: (s) => s.earnedInPeriod,
    }),
  }),
});

const AgencyReportRef = builder.objectRef<AgencyReport>('AgencyReport').implement({
  description: "An agency's numbers over a period [from, to)",
  authScopes: { signedIn: true },
  fields: (t) => ({
    agency: t.field({ type: AgencyRef, resolve: (r) => r.agency }),
    from: t.field({ type: 'DateTime', resolve: (r) => r.from }),
    to: t.field({ type: 'DateTime', resolve: (r) => r.to }),
    earnings: t.field({
      type: EarningsRef,
      description: "The agency's own earnings now",
      resolve: (r) => r.earnings,
    }),
    earnedInPeriod: t.field({
      type: 'Coins',
      description: "The agency's share credited within the period",
      resolve: (r) => r.earnedInPeriod,
    }),
    streamers: t.field({ type: [AgencyStreamerReportRef], resolve: (r) => r.streamers }),
  }),
});

const AgencyPage = builder.objectRef<{ items: Agency[]; nextCursor: string | null }>('AgencyPage').implement({
  description: 'Agencies in creation order. Pass nextCursor as `after`; null at the end.',
  authScopes: ADMIN,
  fields: (t) => ({
    items: t.field({ type: [AgencyRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

/** [from, to) from optional arguments: the last 30 days by default. */
export function reportPeriod(
  ctx: GraphQLContext,
  from: Date | null | undefined,
  to: Date | null | undefined,
) {
  const end = to ?? ctx.services.clock.now();
  const start = from ?? new Date(end.getTime() - 30 * DAY_MS);
  return { from: start, to: end };
}

builder.queryFields((t) => ({
  agencies: t.field({
    type: AgencyPage,
    authScopes: ADMIN,
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(z.number().int().min(1).max(100), args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const items = await ctx.services.agencies.list(first + 1, after);
      const page = items.slice(0, first);
      return { items: page, nextCursor: items.length > first ? (page.at(-1)?.seq.toString() ?? null) : null };
    },
  }),
  agency: t.field({
    type: AgencyRef,
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.agencies.get(parseOrThrow(uuid, String(args.id), 'id')),
  }),
  agencyReport: t.field({
    type: AgencyReportRef,
    description: "An agency's numbers over [from, to) (default: the last 30 days)",
    authScopes: ADMIN,
    args: {
      agencyId: t.arg.id({ required: true }),
      from: t.arg({ type: 'DateTime', required: false }),
      to: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (_root, args, ctx) => {
      const agencyId = parseOrThrow(uuid, String(args.agencyId), 'agencyId');
      const { from, to } = reportPeriod(ctx, args.from, args.to);
      return ctx.services.agencies.report(agencyId, from, to);
    },
  }),
  myAgency: t.field({
    type: AgencyReportRef,
    nullable: true,
    description:
      'For an agency manager: the agency, its streamers and their earnings over [from, to) (default: the ' +
      'last 30 days). null when the caller manages no agency.',
    authScopes: { signedIn: true },
    args: {
      from: t.arg({ type: 'DateTime', required: false }),
      to: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const userId = requirePrincipal(ctx).userId;
      const agency = await ctx.services.agencies.managedAgency(userId);
      if (!agency) return null;
      await ctx.services.agencies.requireManager(userId, agency.id);
      const { from, to } = reportPeriod(ctx, args.from, args.to);
      return ctx.services.agencies.report(agency.id, from, to);
    },
  }),
}));

builder.mutationFields((t) => ({
  createAgency: t.field({
    type: AgencyRef,
    description: 'Audited',
    authScopes: ADMIN,
    args: {
      name: t.arg.string({ required: true }),
      shareBps: t.arg.int({ required: true }),
      active: t.arg.boolean({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.agencies.create(staff(ctx), {
        name: parseOrThrow(nameSchema, args.name, 'name'),
        shareBps: parseOrThrow(shareSchema, args.shareBps, 'shareBps'),
        active: args.active ?? true,
      }),
  }),
  updateAgency: t.field({
    type: AgencyRef,
    description: 'Changes what is given; a new share applies to earnings from now on. Audited.',
    authScopes: ADMIN,
    args: {
      id: t.arg.id({ required: true }),
      name: t.arg.string({ required: false }),
      shareBps: t.arg.int({ required: false }),
      active: t.arg.boolean({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.agencies.update(staff(ctx), parseOrThrow(uuid, String(args.id), 'id'), {
        name: args.name == null ? null : parseOrThrow(nameSchema, args.name, 'name'),
        shareBps: args.shareBps == null ? null : parseOrThrow(shareSchema, args.shareBps, 'shareBps'),
        active: args.active ?? null,
      }),
  }),
  assignStreamerToAgency: t.field({
    type: AgencyMemberRef,
    description: 'Puts a streamer in the agency, moving them out of another one. Audited.',
    authScopes: ADMIN,
    args: { agencyId: t.arg.id({ required: true }), streamerId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.agencies.assignStreamer(
        staff(ctx),
        parseOrThrow(uuid, String(args.agencyId), 'agencyId'),
        parseOrThrow(uuid, String(args.streamerId), 'streamerId'),
      ),
  }),
  removeStreamerFromAgency: t.boolean({
    description: 'Ends the streamer’s membership (kept in the history). Audited.',
    authScopes: ADMIN,
    args: { agencyId: t.arg.id({ required: true }), streamerId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.agencies.removeStreamer(
        staff(ctx),
        parseOrThrow(uuid, String(args.agencyId), 'agencyId'),
        parseOrThrow(uuid, String(args.streamerId), 'streamerId'),
      );
      return true;
    },
  }),
  addAgencyManager: t.field({
    type: AgencyRef,
    description:
      'Lets an account (user or streamer) see the agency’s numbers. One agency per account. Audited.',
    authScopes: ADMIN,
    args: { agencyId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const agencyId = parseOrThrow(uuid, String(args.agencyId), 'agencyId');
      await ctx.services.agencies.addManager(
        staff(ctx),
        agencyId,
        parseOrThrow(uuid, String(args.userId), 'userId'),
      );
      return ctx.services.agencies.get(agencyId);
    },
  }),
  removeAgencyManager: t.field({
    type: AgencyRef,
    description: 'Audited',
    authScopes: ADMIN,
    args: { agencyId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const agencyId = parseOrThrow(uuid, String(args.agencyId), 'agencyId');
      await ctx.services.agencies.removeManager(
        staff(ctx),
        agencyId,
        parseOrThrow(uuid, String(args.userId), 'userId'),
      );
      return ctx.services.agencies.get(agencyId);
    },
  }),
}));
