import { z } from 'zod';
import { forbidden } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { EarningsRef } from './agency.graphql.ts';
import type { Payout } from './payout.repository.ts';
import type { PayoutOwner } from './payout.service.ts';

const ADMIN = { role: ['admin' as const] };

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const firstSchema = z.number().int().min(1).max(100);
const uuid = z.uuid('must be an id');
const reasonSchema = z.string().trim().min(1, 'a reason is required').max(1000);
const referenceSchema = z.string().trim().min(1, 'a reference is required').max(200);

const staff = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const PayoutStatusEnum = builder.enumType('PayoutStatus', {
  values: {
    REQUESTED: { value: 'requested', description: 'Waiting for staff; the amount is held' },
    APPROVED: { value: 'approved', description: 'Approved, waiting to be paid; still held' },
    PAID: { value: 'paid', description: 'Paid out (see reference)' },
    REJECTED: { value: 'rejected', description: 'Refused (see reason); the amount went back to available' },
  } as const,
});

const PayoutOwnerKindEnum = builder.enumType('PayoutOwnerKind', {
  values: { STREAMER: { value: 'user' }, AGENCY: { value: 'agency' } } as const,
});

const PayoutRef = builder.objectRef<Payout>('Payout').implement({
  description: 'A request to pay out earnings',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    ownerKind: t.field({ type: PayoutOwnerKindEnum, resolve: (p) => p.ownerKind }),
    ownerId: t.exposeID('ownerId', { description: 'The streamer (user id) or the agency' }),
    requestedBy: t.exposeID('requestedBy'),
    amount: t.field({ type: 'Coins', resolve: (p) => p.amount }),
    status: t.field({ type: PayoutStatusEnum, resolve: (p) => p.status }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was rejected' }),
    reference: t.exposeString('reference', {
      nullable: true,
      description: 'The transfer’s reference, once paid',
    }),
    decidedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.decidedAt }),
    decidedBy: t.id({
      nullable: true,
      description: 'Staff only',
      authScopes: ADMIN,
      resolve: (p) => p.decidedBy,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.updatedAt }),
  }),
});

const PayoutPage = builder.objectRef<{ items: Payout[]; nextCursor: string | null }>('PayoutPage').implement({
  description: 'A page of payouts. Pass nextCursor as `after`; null at the end.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    items: t.field({ type: [PayoutRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

const page = (items: Payout[], first: number) => {
  const slice = items.slice(0, first);
  return { items: slice, nextCursor: items.length > first ? (slice.at(-1)?.seq.toString() ?? null) : null };
};

const pageArgs = (first: number | null | undefined, after: string | null | undefined) => ({
  first: parseOrThrow(firstSchema, first ?? 50, 'first'),
  after: after ? BigInt(parseOrThrow(cursorSchema, after, 'after')) : undefined,
});

const ownPayouts = async (
  ctx: GraphQLContext,
  owner: PayoutOwner,
  first?: number | null,
  after?: string | null,
) => {
  const args = pageArgs(first, after);
  return page(await ctx.services.payouts.listForOwner(owner, args.first + 1, args.after), args.first);
};

builder.queryFields((t) => ({
  myEarnings: t.field({
    type: EarningsRef,
    description: "The caller's earnings: pending (held) and available (can be paid out)",
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) =>
      ctx.services.ledger.earnings({ kind: 'user', id: requirePrincipal(ctx).userId }),
  }),
  myPayouts: t.field({
    type: PayoutPage,
    description: "The caller's payout requests, newest first",
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ownPayouts(ctx, { kind: 'user', id: requirePrincipal(ctx).userId }, args.first, args.after),
  }),
  myAgencyPayouts: t.field({
    type: PayoutPage,
    description: 'For an agency manager: the agency’s payout requests, newest first',
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const agency = await ctx.services.agencies.managedAgency(requirePrincipal(ctx).userId);
      if (!agency) return { items: [], nextCursor: null };
      return ownPayouts(ctx, { kind: 'agency', id: agency.id }, args.first, args.after);
    },
  }),
  payoutRequests: t.field({
    type: PayoutPage,
    description: 'Payouts in a status (all when omitted), oldest first',
    authScopes: ADMIN,
    args: {
      status: t.arg({ type: PayoutStatusEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const { first, after } = pageArgs(args.first, args.after);
      return page(await ctx.services.payouts.listByStatus(args.status ?? null, first + 1, after), first);
    },
  }),
}));

builder.mutationFields((t) => ({
  requestPayout: t.field({
    type: PayoutRef,
    description:
      'Asks for a payout of available earnings (approved KYC, at least the payout.minimum_coins setting, ' +
      'one open request at a time). The amount is held at once.',
    authScopes: { role: ['streamer'] },
    args: { amount: t.arg({ type: 'Coins', required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.payouts.requestForStreamer(requirePrincipal(ctx).userId, args.amount),
  }),
  requestAgencyPayout: t.field({
    type: PayoutRef,
    description: 'For an agency manager: asks for a payout of the agency’s available earnings',
    authScopes: { signedIn: true },
    args: { amount: t.arg({ type: 'Coins', required: true }) },
    resolve: async (_root, args, ctx) => {
      const userId = requirePrincipal(ctx).userId;
      const agency = await ctx.services.agencies.managedAgency(userId);
      if (!agency) throw forbidden('You manage no agency');
      return ctx.services.payouts.requestForAgency(userId, agency.id, args.amount);
    },
  }),
  approvePayout: t.field({
    type: PayoutRef,
    description: 'requested → approved (still held). Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.payouts.approve(staff(ctx), parseOrThrow(uuid, String(args.id), 'id')),
  }),
  rejectPayout: t.field({
    type: PayoutRef,
    description: 'requested|approved → rejected; the amount returns to available earnings. Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.payouts.reject(
        staff(ctx),
        parseOrThrow(uuid, String(args.id), 'id'),
        parseOrThrow(reasonSchema, args.reason, 'reason'),
      ),
  }),
  markPayoutPaid: t.field({
    type: PayoutRef,
    description: 'approved → paid, with the transfer’s reference; the amount leaves the platform. Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }), reference: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.payouts.markPaid(
        staff(ctx),
        parseOrThrow(uuid, String(args.id), 'id'),
        parseOrThrow(referenceSchema, args.reference, 'reference'),
      ),
  }),
}));
