import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { Interaction } from './interaction.repository.ts';
import type { InteractionKind } from './interaction.tables.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };

const InteractionKindEnum = builder.enumType('InteractionKind', {
  values: {
    PROFILE_VIEW: { value: 'profile_view' },
    CALL: { value: 'call' },
    MESSAGE: { value: 'message' },
    GIFT: { value: 'gift' },
    FAVORITE: { value: 'favorite' },
    BLOCK: { value: 'block' },
  } as const,
});

const InteractionRef = builder.objectRef<Interaction>('Interaction').implement({
  description:
    'How often userId did `kind` to otherId, first and last time (from events, eventually consistent)',
  authScopes: STAFF,
  fields: (t) => ({
    userId: t.exposeID('userId'),
    otherId: t.exposeID('otherId'),
    kind: t.field({ type: InteractionKindEnum, resolve: (i) => i.kind }),
    count: t.int({ resolve: (i) => Number(i.count) }),
    firstAt: t.field({ type: 'DateTime', resolve: (i) => i.firstAt }),
    lastAt: t.field({ type: 'DateTime', resolve: (i) => i.lastAt }),
  }),
});

builder.queryFields((t) => ({
  adminInteractions: t.field({
    type: [InteractionRef],
    description: "A user's pairs in both directions (only with otherId when given), most recent first",
    authScopes: STAFF,
    args: {
      userId: t.arg.id({ required: true }),
      otherId: t.arg.id({ required: false }),
      kind: t.arg({ type: InteractionKindEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 200 }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.interactions.adminInteractions(
        String(args.userId),
        args.otherId != null ? String(args.otherId) : null,
        (args.kind ?? null) as InteractionKind | null,
        args.first ?? 200,
      ),
  }),
}));

builder.mutationFields((t) => ({
  recordProfileView: t.boolean({
    description:
      "Call when the user opens another account's profile. True when recorded; false when this " +
      'profile was already counted in the last 10 minutes. NOT_FOUND, BAD_USER_INPUT (SELF).',
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.interactions.recordProfileView(requirePrincipal(ctx).userId, String(args.userId)),
  }),
}));
