import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { KycReview, KycSubmission } from './kyc.repository.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const uuid = z.uuid('must be an id');
const reasonSchema = z.string().trim().max(1000).nullable();

const KycStatusEnum = builder.enumType('KycStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Waiting for a moderator' },
    APPROVED: { value: 'approved', description: 'Identity verified' },
    RESUBMISSION_REQUESTED: { value: 'resubmission_requested', description: 'Submit again; see reason' },
    REJECTED: { value: 'rejected', description: 'Refused for good; support can reverse it' },
  } as const,
});

const KycDecisionEnum = builder.enumType('KycDecision', {
  values: {
    APPROVE: { value: 'approved' },
    REQUEST_RESUBMISSION: { value: 'resubmission_requested' },
    REJECT: { value: 'rejected' },
  } as const,
});

const KycReviewRef = builder.objectRef<KycReview>('KycReview').implement({
  description: 'One decision on a submission',
  authScopes: { signedIn: true },
  fields: (t) => ({
    decision: t.field({ type: KycStatusEnum, resolve: (r) => r.decision }),
    reason: t.string({ nullable: true, resolve: (r) => r.reason }),
    reviewedAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    reviewerId: t.id({
      description: 'Staff only: the streamer sees the decision, not who made it',
      nullable: true,
      authScopes: STAFF,
      resolve: (r) => r.reviewerId,
    }),
  }),
});

const KycSubmissionRef = builder.objectRef<KycSubmission>('KycSubmission').implement({
  description: 'Documents and a selfie submitted for an identity check. Fetch them through mediaUrl.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    documentIds: t.idList({ resolve: (s) => s.documentIds }),
    selfieId: t.exposeID('selfieId', {
      nullable: true,
      description: 'Null once the account was deleted and its documents erased',
    }),
    status: t.field({ type: KycStatusEnum, resolve: (s) => s.status }),
    reason: t.string({ nullable: true, description: 'Of the latest review', resolve: (s) => s.reason }),
    reviewedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.reviewedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    reviews: t.field({
      type: [KycReviewRef],
      description: 'Every decision on this submission, oldest first',
      resolve: (s, _args, ctx) => ctx.services.kyc.reviewsOf([s.id]),
    }),
  }),
});

const KycPage = builder
  .objectRef<{ items: KycSubmission[]; nextCursor: string | null }>('KycPage')
  .implement({
    description: 'Submissions waiting for review, oldest first. Pass nextCursor as `after`; null at the end.',
    authScopes: STAFF,
    fields: (t) => ({
      items: t.field({ type: [KycSubmissionRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

builder.queryFields((t) => ({
  myKyc: t.field({
    type: [KycSubmissionRef],
    description: "The caller's identity-check submissions, newest first (empty when never submitted)",
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.kyc.historyOf(requirePrincipal(ctx).userId),
  }),
  kycQueue: t.field({
    type: KycPage,
    description: 'Submissions waiting for review, oldest first',
    authScopes: STAFF,
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(z.number().int().min(1).max(100), args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const items = await ctx.services.kyc.queue(first + 1, after);
      const page = items.slice(0, first);
      return { items: page, nextCursor: items.length > first ? (page.at(-1)?.seq.toString() ?? null) : null };
    },
  }),
}));

builder.mutationFields((t) => ({
  submitKyc: t.field({
    type: KycSubmissionRef,
    description:
      'Submits identity documents and a selfie (ids of your kyc_document uploads, from POST /media) for review',
    authScopes: { role: ['streamer'] },
    args: { documentIds: t.arg.idList({ required: true }), selfieId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const documentIds = parseOrThrow(
        z.array(uuid).min(1).max(5),
        args.documentIds.map(String),
        'documentIds',
      );
      const selfieId = parseOrThrow(uuid, String(args.selfieId), 'selfieId');
      return ctx.services.kyc.submit(requirePrincipal(ctx).userId, documentIds, selfieId);
    },
  }),
  reviewKyc: t.field({
    type: KycSubmissionRef,
    description: 'Decides on a pending submission; a reason is required unless approving. Audited.',
    authScopes: STAFF,
    args: {
      submissionId: t.arg.id({ required: true }),
      decision: t.arg({ type: KycDecisionEnum, required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const submissionId = parseOrThrow(uuid, String(args.submissionId), 'submissionId');
      const reason = parseOrThrow(reasonSchema, args.reason ?? null, 'reason') || null;
      return ctx.services.kyc.review(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        submissionId,
        args.decision,
        reason,
      );
    },
  }),
}));
