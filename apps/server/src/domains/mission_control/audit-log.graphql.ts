import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import type { AuditRecord } from './audit-log.ts';

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');

const AuditEntryRef = builder.objectRef<AuditRecord>('AuditEntry').implement({
  description: 'One admin or moderator action',
  authScopes: { role: ['admin'] },
  fields: (t) => ({
    id: t.id({ resolve: (e) => e.id.toString() }),
    actorId: t.id({ nullable: true, resolve: (e) => e.actorId }),
    actorRole: t.string({ nullable: true, resolve: (e) => e.actorRole }),
    action: t.exposeString('action'),
    targetType: t.exposeString('targetType'),
    targetId: t.exposeString('targetId'),
    before: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.before ?? null }),
    after: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.after ?? null }),
    reason: t.string({ nullable: true, resolve: (e) => e.reason ?? null }),
    requestId: t.string({ nullable: true, resolve: (e) => e.requestId }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
  }),
});

const AuditPage = builder
  .objectRef<{ items: AuditRecord[]; nextCursor: string | null }>('AuditPage')
  .implement({
    description:
      'Audit entries, newest first. Pass nextCursor as `after` for the next page; null at the end.',
    authScopes: { role: ['admin'] },
    fields: (t) => ({
      items: t.field({ type: [AuditEntryRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const AuditFilterInput = builder.inputType('AuditFilter', {
  fields: (t) => ({
    actorId: t.id({ required: false }),
    action: t.string({ required: false }),
    targetType: t.string({ required: false }),
    targetId: t.string({ required: false }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditPage,
    description: 'Every admin and moderator action, filterable by actor, action, target and time',
    authScopes: { role: ['admin'] },
    args: {
      filter: t.arg({ type: AuditFilterInput, required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(z.number().int().min(1).max(200), args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const filter = args.filter ?? {};
      const items = await ctx.services.audit.list(
        {
          actorId: filter.actorId === undefined || filter.actorId === null ? null : String(filter.actorId),
          action: filter.action ?? null,
          targetType: filter.targetType ?? null,
          targetId: filter.targetId ?? null,
          from: filter.from ?? null,
          to: filter.to ?? null,
        },
        first + 1,
        after,
      );
      const page = items.slice(0, first);
      return { items: page, nextCursor: items.length > first ? (page.at(-1)?.id.toString() ?? null) : null };
    },
  }),
);
