import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import type { SettingChange } from './settings.repository.ts';
import type { SettingEntry } from './settings.service.ts';

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');

const SettingRef = builder.objectRef<SettingEntry>('Setting').implement({
  description: 'One global setting. Readable by anyone: apps need minimum versions and flags before sign-in.',
  authScopes: { public: true },
  fields: (t) => ({
    key: t.exposeString('key'),
    value: t.field({ type: 'JSON', resolve: (s) => s.value }),
    description: t.exposeString('description'),
    version: t.exposeInt('version', { description: '0 while the setting has its default value' }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.updatedAt }),
  }),
});

const SettingChangeRef = builder.objectRef<SettingChange>('SettingChange').implement({
  description: 'One change of a setting: who changed it, when, why, and the value before and after',
  authScopes: { role: ['admin'] },
  fields: (t) => ({
    id: t.id({ resolve: (c) => c.id.toString() }),
    key: t.exposeString('key'),
    version: t.exposeInt('version'),
    before: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.before ?? null }),
    after: t.field({ type: 'JSON', resolve: (c) => c.after }),
    changedBy: t.id({ nullable: true, resolve: (c) => c.changedBy }),
    reason: t.exposeString('reason'),
    changedAt: t.field({ type: 'DateTime', resolve: (c) => c.changedAt }),
  }),
});

const SettingChangePage = builder
  .objectRef<{ items: SettingChange[]; nextCursor: string | null }>('SettingChangePage')
  .implement({
    description: 'Changes of one setting, newest first. Pass nextCursor as `after` for the next page.',
    authScopes: { role: ['admin'] },
    fields: (t) => ({
      items: t.field({ type: [SettingChangeRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

builder.queryField('settings', (t) =>
  t.field({
    type: [SettingRef],
    description:
      'Every global setting (minimum app versions, feature flags, limits). Always allowed, even for an ' +
      'outdated app, so it can show the update screen.',
    authScopes: { public: true },
    resolve: (_root, _args, ctx) => ctx.services.settings.list(),
  }),
);

builder.queryField('settingHistory', (t) =>
  t.field({
    type: SettingChangePage,
    description: 'The versions of one setting, newest first',
    authScopes: { role: ['admin'] },
    args: {
      key: t.arg.string({ required: true }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(z.number().int().min(1).max(200), args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const items = await ctx.services.settings.history(args.key, first + 1, after);
      const page = items.slice(0, first);
      return { items: page, nextCursor: items.length > first ? (page.at(-1)?.id.toString() ?? null) : null };
    },
  }),
);

builder.mutationField('setSetting', (t) =>
  t.field({
    type: SettingRef,
    description:
      "Changes a setting. The value must fit the key's schema; the change is versioned and audited.",
    authScopes: { role: ['admin'] },
    args: {
      key: t.arg.string({ required: true }),
      value: t.arg({ type: 'JSON', required: true }),
      reason: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.settings.set(
        { principal: ctx.principal, requestId: ctx.requestId },
        args.key,
        args.value,
        args.reason,
      ),
  }),
);
