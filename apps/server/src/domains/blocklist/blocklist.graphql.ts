import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import type { Page } from './blocklist.cursor.ts';
import type { Block, BlockStats } from './blocklist.repository.ts';
import type { BlockResult } from './blocklist.service.ts';
import type { BlockReason } from './blocklist.tables.ts';
import type { Flag } from './blocklist-rules.repository.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };
const staff = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const BlockReasonEnum = builder.enumType('BlockReason', {
  values: {
    NUDITY: { value: 'nudity' },
    HARASSMENT: { value: 'harassment' },
    SPAM: { value: 'spam' },
    FAKE_PROFILE: { value: 'fake_profile' },
    UNDERAGE: { value: 'underage' },
    OTHER: { value: 'other', description: 'Needs a text' },
  } as const,
});

const BlockReportStatusEnum = builder.enumType('BlockReportStatus', {
  values: {
    OPEN: { value: 'open' },
    DISMISSED: { value: 'dismissed' },
    WARNED: { value: 'warned' },
    BANNED: { value: 'banned' },
  } as const,
});

const BlockReportActionEnum = builder.enumType('BlockReportAction', {
  values: {
    DISMISS: { value: 'dismiss', description: 'Nothing to do' },
    WARN: { value: 'warn', description: 'A warning to the blocked account (user_warned)' },
    BAN: { value: 'ban', description: 'Bans the blocked account' },
  } as const,
});

const BlocklistFlagStatusEnum = builder.enumType('BlocklistFlagStatus', {
  values: { OPEN: { value: 'open' }, RESOLVED: { value: 'resolved' } } as const,
});

const BlocklistFlagActionEnum = builder.enumType('BlocklistFlagAction', {
  values: { FLAG: { value: 'flag' }, BAN: { value: 'ban' } } as const,
});

const BlocklistFlagOutcomeEnum = builder.enumType('BlocklistFlagOutcome', {
  values: {
    FLAGGED: { value: 'flagged', description: 'The action was flag: for moderators to review' },
    BANNED: { value: 'banned' },
    ALREADY_BANNED: { value: 'already_banned' },
    BAN_REFUSED: { value: 'ban_refused', description: 'The account could not be banned (an admin, deleted)' },
  } as const,
});

const MyBlockRef = builder.objectRef<Block>('MyBlock').implement({
  description: 'An account I blocked, why and since when (only I see my blocks)',
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('blockedId', { description: 'The blocked account' }),
    reason: t.field({ type: BlockReasonEnum, resolve: (b) => b.reason }),
    text: t.exposeString('text', { nullable: true }),
    since: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
  }),
});

const MyBlockPageRef = builder.objectRef<Page<Block>>('MyBlockPage').implement({
  description: 'Newest first. Pass nextCursor as `after`; null at the end.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    items: t.field({ type: [MyBlockRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

const BlockUserResultRef = builder.objectRef<BlockResult>('BlockUserResult').implement({
  description: 'The block; created is false when the account was already blocked (nothing changed)',
  authScopes: { signedIn: true },
  fields: (t) => ({
    created: t.exposeBoolean('created'),
    block: t.field({ type: MyBlockRef, resolve: (r) => r.block }),
  }),
});

const BlockReportRef = builder.objectRef<Block>('BlockReport').implement({
  description: 'A block seen by moderators: a report about the blocked account',
  authScopes: STAFF,
  fields: (t) => ({
    id: t.exposeID('id'),
    blockerId: t.exposeID('blockerId'),
    blockedId: t.exposeID('blockedId', { description: 'The account the report is about' }),
    reason: t.field({ type: BlockReasonEnum, resolve: (b) => b.reason }),
    text: t.exposeString('text', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
    unblockedAt: t.field({ type: 'DateTime', nullable: true, resolve: (b) => b.unblockedAt }),
    status: t.field({ type: BlockReportStatusEnum, resolve: (b) => b.reportStatus }),
    reviewedBy: t.exposeID('reviewedBy', { nullable: true }),
    reviewedAt: t.field({ type: 'DateTime', nullable: true, resolve: (b) => b.reviewedAt }),
    reviewNote: t.exposeString('reviewNote', { nullable: true }),
  }),
});

const BlockReportPageRef = builder.objectRef<Page<Block>>('BlockReportPage').implement({
  description: 'Newest first. Pass nextCursor as `after`; null at the end.',
  authScopes: STAFF,
  fields: (t) => ({
    items: t.field({ type: [BlockReportRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

const BlocklistFlagRef = builder.objectRef<Flag>('BlocklistFlag').implement({
  description: 'The harassment rule crossed its threshold for an account (once per crossing)',
  authScopes: STAFF,
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    rule: t.exposeString('rule'),
    action: t.field({ type: BlocklistFlagActionEnum, resolve: (f) => f.action }),
    outcome: t.field({ type: BlocklistFlagOutcomeEnum, resolve: (f) => f.outcome }),
    blockCount: t.exposeInt('blockCount', { description: 'Distinct accounts that blocked for harassment' }),
    status: t.field({ type: BlocklistFlagStatusEnum, resolve: (f) => f.status }),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
    resolvedBy: t.exposeID('resolvedBy', { nullable: true }),
    resolvedAt: t.field({ type: 'DateTime', nullable: true, resolve: (f) => f.resolvedAt }),
  }),
});

const BlocklistFlagPageRef = builder.objectRef<Page<Flag>>('BlocklistFlagPage').implement({
  description: 'Newest first. Pass nextCursor as `after`; null at the end.',
  authScopes: STAFF,
  fields: (t) => ({
    items: t.field({ type: [BlocklistFlagRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

const BlockReasonCountRef = builder
  .objectRef<{ reason: BlockReason; count: number }>('BlockReasonCount')
  .implement({
    authScopes: STAFF,
    fields: (t) => ({
      reason: t.field({ type: BlockReasonEnum, resolve: (c) => c.reason }),
      count: t.exposeInt('count'),
    }),
  });

const BlocklistStatsRef = builder.objectRef<BlockStats>('BlocklistStats').implement({
  description: "An account's blocklist record: blocks against it (ever, by reason), current blocks, rules",
  authScopes: STAFF,
  fields: (t) => ({
    userId: t.exposeID('userId'),
    receivedByReason: t.field({
      type: [BlockReasonCountRef],
      resolve: (s) =>
        Object.entries(s.receivedByReason).map(([reason, count]) => ({
          reason: reason as BlockReason,
          count,
        })),
    }),
    receivedTotal: t.exposeInt('receivedTotal'),
    activeReceived: t.exposeInt('activeReceived', { description: 'Accounts blocking it now' }),
    activeGiven: t.exposeInt('activeGiven', { description: 'Accounts it blocks now' }),
    openReports: t.exposeInt('openReports'),
    flags: t.exposeInt('flags'),
    warnings: t.exposeInt('warnings'),
    fines: t.exposeInt('fines'),
    fineCoins: t.field({ type: 'Coins', resolve: (s) => s.fineCoins }),
  }),
});

builder.queryFields((t) => ({
  myBlocks: t.field({
    type: MyBlockPageRef,
    description: 'The accounts I block now, newest first',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklist.mine(requirePrincipal(ctx).userId, args.first ?? 20, args.after),
  }),
  blockReports: t.field({
    type: BlockReportPageRef,
    description:
      'Staff: blocks as reports, newest first, by status (all when omitted), reason, blocked account',
    authScopes: STAFF,
    args: {
      status: t.arg({ type: BlockReportStatusEnum, required: false }),
      reason: t.arg({ type: BlockReasonEnum, required: false }),
      userId: t.arg.id({ required: false, description: 'The blocked account' }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklistModeration.reports(
        {
          status: args.status,
          reason: args.reason,
          userId: args.userId != null ? String(args.userId) : null,
        },
        args.first ?? 50,
        args.after,
      ),
  }),
  blocklistFlags: t.field({
    type: BlocklistFlagPageRef,
    description: "Staff: the harassment rule's flags, newest first (open ones unless status is given)",
    authScopes: STAFF,
    args: {
      status: t.arg({ type: BlocklistFlagStatusEnum, required: false, defaultValue: 'open' }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklistModeration.flags(args.status ?? null, args.first ?? 50, args.after),
  }),
  blocklistStats: t.field({
    type: BlocklistStatsRef,
    description: "Staff: an account's blocklist record",
    authScopes: STAFF,
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.blocklistModeration.stats(String(args.userId)),
  }),
}));

builder.mutationFields((t) => ({
  blockUser: t.field({
    type: BlockUserResultRef,
    description:
      'Blocks an account, with a reason (OTHER needs text). At once: a call between us ends, we leave ' +
      "each other's gallery, roulette and chat. Idempotent: blocking again changes nothing " +
      '(created false). BAD_USER_INPUT (SELF, text missing), NOT_FOUND.',
    authScopes: { signedIn: true },
    args: {
      userId: t.arg.id({ required: true }),
      reason: t.arg({ type: BlockReasonEnum, required: true }),
      text: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklist.block(
        requirePrincipal(ctx).userId,
        String(args.userId),
        args.reason,
        args.text ?? null,
      ),
  }),
  unblockUser: t.boolean({
    description: 'Lifts my block. Idempotent: true when there was one, false otherwise.',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklist.unblock(requirePrincipal(ctx).userId, String(args.userId)),
  }),
  resolveBlocklistFlag: t.field({
    type: BlocklistFlagRef,
    description: 'Staff: resolves an open flag without acting on a report (audited). CONFLICT when resolved.',
    authScopes: STAFF,
    args: { id: t.arg.id({ required: true }), note: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklistModeration.resolveFlag(staff(ctx), String(args.id), args.note ?? null),
  }),
  actOnBlockReport: t.field({
    type: BlockReportRef,
    description:
      'Staff: acts on an open report (audited). WARN and BAN also resolve the account’s open flags. ' +
      'CONFLICT when the report is no longer open; NOT_FOUND; FORBIDDEN when the ban is refused (an admin).',
    authScopes: STAFF,
    args: {
      id: t.arg.id({ required: true }),
      action: t.arg({ type: BlockReportActionEnum, required: true }),
      note: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.blocklistModeration.actOnReport(
        staff(ctx),
        String(args.id),
        args.action,
        args.note ?? null,
      ),
  }),
}));
