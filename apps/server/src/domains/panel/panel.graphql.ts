import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import type { GraphQLContext } from '../../platform/graphql/context.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { Cohort, CohortMember } from './cohort.repository.ts';

// Moderators see cohorts (to understand why a user is priced or shown as they are); admins edit them.
const STAFF = { role: ['moderator' as const, 'admin' as const] };
const ADMIN = { role: ['admin' as const] };

const uuid = z.uuid('must be an id');
const firstSchema = z.number().int().min(1).max(100);

const actor = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

const CohortKindEnum = builder.enumType('CohortKind', {
  values: {
    RULE: { value: 'rule', description: 'Members follow a rule over user attributes (docs/cohorts.md)' },
    MANUAL: { value: 'manual', description: 'Members are added and removed by admins' },
  } as const,
});

const CohortMemberRef = builder.objectRef<CohortMember>('CohortMember').implement({
  description: 'A user in a cohort',
  authScopes: STAFF,
  fields: (t) => ({
    userId: t.exposeID('userId'),
    displayName: t.string({ nullable: true, resolve: (m) => m.displayName }),
    addedAt: t.field({ type: 'DateTime', resolve: (m) => m.addedAt }),
  }),
});

const CohortMemberPage = builder
  .objectRef<{ items: CohortMember[]; nextCursor: string | null }>('CohortMemberPage')
  .implement({
    description: 'Members by user id. Pass nextCursor as `after`; null at the end.',
    authScopes: STAFF,
    fields: (t) => ({
      items: t.field({ type: [CohortMemberRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const CohortRef = builder.objectRef<Cohort>('Cohort').implement({
  description: 'A named group of users; its tag is what billing tariffs and gallery rules refer to',
  authScopes: STAFF,
  fields: (t) => ({
    id: t.exposeID('id'),
    tag: t.exposeString('tag'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    kind: t.field({ type: CohortKindEnum, resolve: (c) => c.kind }),
    rule: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Null for manual cohorts',
      resolve: (c) => c.rule,
    }),
    active: t.exposeBoolean('active', {
      description: 'Inactive cohorts keep no members and show on no user',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => c.updatedAt }),
    recomputedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.recomputedAt }),
    memberCount: t.int({ resolve: (c, _args, ctx) => ctx.services.cohorts.memberCount(c.id) }),
    members: t.field({
      type: CohortMemberPage,
      args: { first: t.arg.int({ required: false, defaultValue: 50 }), after: t.arg.id({ required: false }) },
      resolve: async (c, args, ctx) => {
        const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
        const after = args.after ? parseOrThrow(uuid, String(args.after), 'after') : undefined;
        const items = await ctx.services.cohorts.members(c.id, first + 1, after);
        const page = items.slice(0, first);
        return { items: page, nextCursor: items.length > first ? (page.at(-1)?.userId ?? null) : null };
      },
    }),
  }),
});

const CohortPreviewRef = builder
  .objectRef<{ count: number; sample: CohortMember[] }>('CohortPreview')
  .implement({
    description: 'Who a rule matches now: how many active accounts, and the first few by user id',
    authScopes: STAFF,
    fields: (t) => ({
      count: t.exposeInt('count'),
      sample: t.field({ type: [CohortMemberRef], resolve: (p) => p.sample }),
    }),
  });

const UserPanelTagsRef = builder
  .objectRef<{ userId: string; tags: string[]; cohortTags: string[] }>('UserPanelTags')
  .implement({
    description: 'The tags admins set on a user, and the tags of the active cohorts the user is in',
    authScopes: STAFF,
    fields: (t) => ({
      userId: t.exposeID('userId'),
      tags: t.exposeStringList('tags'),
      cohortTags: t.exposeStringList('cohortTags'),
    }),
  });

builder.queryFields((t) => ({
  cohorts: t.field({
    type: [CohortRef],
    description: 'Every cohort, by tag',
    authScopes: STAFF,
    resolve: (_root, _args, ctx) => ctx.services.cohorts.list(),
  }),
  cohort: t.field({
    type: CohortRef,
    nullable: true,
    authScopes: STAFF,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.cohorts.find(parseOrThrow(uuid, String(args.id), 'id')),
  }),
  previewCohort: t.field({
    type: CohortPreviewRef,
    description: 'Evaluates a rule without saving it (BAD_USER_INPUT naming `rule` when it is invalid)',
    authScopes: STAFF,
    args: {
      rule: t.arg({ type: 'JSON', required: true }),
      sample: t.arg.int({ required: false, defaultValue: 20 }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.preview(
        args.rule,
        parseOrThrow(z.number().int().min(0).max(100), args.sample ?? 20, 'sample'),
      ),
  }),
  userPanelTags: t.field({
    type: UserPanelTagsRef,
    authScopes: STAFF,
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const userId = parseOrThrow(uuid, String(args.userId), 'userId');
      const [tags, cohortTags] = await Promise.all([
        ctx.services.cohorts.userTags(userId),
        ctx.services.cohorts.tagsOf(userId),
      ]);
      return { userId, tags, cohortTags };
    },
  }),
}));

const CohortInput = builder.inputType('CohortInput', {
  fields: (t) => ({
    tag: t.string({ required: true }),
    name: t.string({ required: true }),
    description: t.string({ required: false }),
    kind: t.field({ type: CohortKindEnum, required: true }),
    rule: t.field({ type: 'JSON', required: false }),
    active: t.boolean({ required: false }),
  }),
});

const CohortPatch = builder.inputType('CohortPatch', {
  description: 'Only the fields given change; the kind cannot change',
  fields: (t) => ({
    tag: t.string({ required: false }),
    name: t.string({ required: false }),
    description: t.string({ required: false }),
    rule: t.field({ type: 'JSON', required: false }),
    active: t.boolean({ required: false }),
  }),
});

builder.mutationFields((t) => ({
  createCohort: t.field({
    type: CohortRef,
    description:
      'Creates a cohort and computes its members at once. Audited; CONFLICT when the tag is taken.',
    authScopes: ADMIN,
    args: { input: t.arg({ type: CohortInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.cohorts.create(actor(ctx), args.input),
  }),
  updateCohort: t.field({
    type: CohortRef,
    description: 'Edits a cohort (a new rule or activation is applied at once). Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }), patch: t.arg({ type: CohortPatch, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.update(actor(ctx), parseOrThrow(uuid, String(args.id), 'id'), args.patch),
  }),
  deleteCohort: t.boolean({
    description: 'Deletes a cohort and its memberships (to keep it, set active false). Audited.',
    authScopes: ADMIN,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.delete(actor(ctx), parseOrThrow(uuid, String(args.id), 'id')),
  }),
  addCohortMembers: t.int({
    description: 'Adds users to a manual cohort; returns how many were not members yet. Audited.',
    authScopes: ADMIN,
    args: { cohortId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.addMembers(
        actor(ctx),
        parseOrThrow(uuid, String(args.cohortId), 'cohortId'),
        args.userIds.map(String),
      ),
  }),
  removeCohortMembers: t.int({
    description: 'Removes users from a manual cohort; returns how many were members. Audited.',
    authScopes: ADMIN,
    args: { cohortId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.removeMembers(
        actor(ctx),
        parseOrThrow(uuid, String(args.cohortId), 'cohortId'),
        args.userIds.map(String),
      ),
  }),
  setUserTags: t.stringList({
    description:
      "Replaces the admin tags on a user (a rule attribute); the user's cohorts follow at once. Audited.",
    authScopes: ADMIN,
    args: { userId: t.arg.id({ required: true }), tags: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.cohorts.setUserTags(
        actor(ctx),
        parseOrThrow(uuid, String(args.userId), 'userId'),
        args.tags,
      ),
  }),
}));
