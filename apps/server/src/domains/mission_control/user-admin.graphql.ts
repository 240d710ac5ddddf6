import { z } from 'zod';
import type { Role } from '../../platform/auth/roles.ts';
import { forbidden } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { type GraphQLContext, requirePrincipal } from '../../platform/graphql/context.ts';
import { AttributionRef } from '../ads/ads.graphql.ts';
import { COUNTRY_CODES } from '../profile/iso-codes.ts';
import { RoleEnum } from '../user/user.graphql.ts';
import type { AdminUserRow, Ban, UserListing, UserSearchCursor } from '../user/user.repository.ts';

const staffScope = (): { role: Role[] } => ({ role: ['moderator', 'admin'] });

const AccountStatusEnum = builder.enumType('AccountStatus', {
  description: 'banned while a ban is in force (it ends by itself at its until); deleted is final',
  values: ['active', 'banned', 'deleted'] as const,
});

const UserSortEnum = builder.enumType('AdminUserSort', {
  description:
    'LAST_SEEN_*: online accounts count as seen now and come first (DESC), most recently connected ' +
    'first; then offline accounts by when they were last seen; never-seen accounts last. Ties on id.',
  values: ['CREATED_AT_DESC', 'CREATED_AT_ASC', 'LAST_SEEN_DESC', 'LAST_SEEN_ASC'] as const,
});

const AdminBan = builder.objectRef<Ban>('AdminBan').implement({
  authScopes: staffScope(),
  fields: (t) => ({
    reason: t.exposeString('reason'),
    until: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'null: until unbanned',
      resolve: (b) => b.until,
    }),
    bannedAt: t.field({ type: 'DateTime', resolve: (b) => b.bannedAt }),
    bannedBy: t.id({ nullable: true, resolve: (b) => b.bannedBy }),
  }),
});

type IdentityRow = { issuer: string; subject: string; createdAt: Date; lastSeenAt: Date };
const AdminIdentity = builder.objectRef<IdentityRow>('AdminIdentity').implement({
  authScopes: staffScope(),
  fields: (t) => ({
    issuer: t.exposeString('issuer'),
    subject: t.exposeString('subject'),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
  }),
});

type CredentialRow = { kind: 'phone' | 'email'; identifier: string; createdAt: Date };
const AdminCredential = builder.objectRef<CredentialRow>('AdminCredential').implement({
  description: 'An email address or phone number the account signs in with (never the password)',
  authScopes: staffScope(),
  fields: (t) => ({
    kind: t.exposeString('kind'),
    identifier: t.exposeString('identifier'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

type AdminSessionRow = {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  revokedAt: Date | null;
  revokeReason: string | null;
};
const AdminSession = builder.objectRef<AdminSessionRow>('AdminSession').implement({
  authScopes: staffScope(),
  fields: (t) => ({
    id: t.exposeID('id'),
    deviceName: t.string({ nullable: true, resolve: (s) => s.deviceName }),
    userAgent: t.string({ nullable: true, resolve: (s) => s.userAgent }),
    ip: t.string({ nullable: true, resolve: (s) => s.ip }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    lastSeenAt: t.field({ type: 'DateTime', resolve: (s) => s.lastSeenAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.revokedAt }),
    revokeReason: t.string({ nullable: true, resolve: (s) => s.revokeReason }),
  }),
});

// Search rows carry their listing; the detail and the mutations read it on demand, once per row
// (five fields share one read).
const listings = new WeakMap<AdminUserRow, Promise<UserListing>>();
const listingOf = (u: AdminUserRow, ctx: GraphQLContext): Promise<UserListing> | UserListing => {
  if (u.listing) return u.listing;
  let listing = listings.get(u);
  if (!listing) {
    listing = ctx.services.userRepo.findListing(u.id);
    listings.set(u, listing);
  }
  return listing;
};

const AdminUser = builder.objectRef<AdminUserRow>('AdminUser').implement({
  description: 'An account as moderators and admins see it',
  authScopes: staffScope(),
  fields: (t) => ({
    id: t.exposeID('id'),
    roles: t.field({ type: [RoleEnum], resolve: (u) => u.roles }),
    status: t.field({
      type: AccountStatusEnum,
      resolve: (u, _a, ctx) => ctx.services.moderation.statusOf(u),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
    deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.deletedAt }),
    displayName: t.string({
      nullable: true,
      description: "The profile's display name (null before onboarding)",
      resolve: async (u, _a, ctx) => (await listingOf(u, ctx)).displayName,
    }),
    country: t.string({
      nullable: true,
      description: 'ISO 3166-1 alpha-2, from the profile',
      resolve: async (u, _a, ctx) => (await listingOf(u, ctx)).country,
    }),
    online: t.boolean({ resolve: async (u, _a, ctx) => (await listingOf(u, ctx)).online }),
    onlineSince: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'While online',
      resolve: async (u, _a, ctx) => (await listingOf(u, ctx)).onlineSince,
    }),
    lastSeenAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the account last went offline (null if never connected)',
      resolve: async (u, _a, ctx) => (await listingOf(u, ctx)).lastSeenAt,
    }),
    ban: t.field({
      type: AdminBan,
      nullable: true,
      description: 'The ban in force, if any',
      resolve: (u, _a, ctx) => (ctx.services.moderation.statusOf(u) === 'banned' ? u.ban : null),
    }),
    identities: t.field({
      type: [AdminIdentity],
      resolve: (u, _a, ctx) => ctx.services.userRepo.listIdentities(u.id),
    }),
    credentials: t.field({
      type: [AdminCredential],
      resolve: (u, _a, ctx) => ctx.services.userRepo.listCredentials(u.id),
    }),
    sessions: t.field({
      type: [AdminSession],
      description: 'Every session, signed-out ones included, most recently used first',
      resolve: (u, _a, ctx) => ctx.services.userRepo.listSessions(u.id, { includeRevoked: true }),
    }),
    attribution: t.field({
      type: AttributionRef,
      nullable: true,
      description:
        "The install's current attribution (admins only; history and consent: adAttribution). null: none reported",
      authScopes: { role: ['admin'] },
      resolve: async (u, _a, ctx) => (await ctx.services.ads.attribution.current(u.id)) ?? null,
    }),
  }),
});

const AdminUserPage = builder
  .objectRef<{ items: AdminUserRow[]; nextCursor: string | null }>('AdminUserPage')
  .implement({
    description: 'Pass nextCursor as `after` for the next page; null at the end.',
    authScopes: staffScope(),
    fields: (t) => ({
      items: t.field({ type: [AdminUser], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const AdminUserFilter = builder.inputType('AdminUserFilter', {
  fields: (t) => ({
    query: t.string({
      required: false,
      description: 'An account id, or an exact email address or phone number',
    }),
    role: t.field({ type: RoleEnum, required: false }),
    status: t.field({ type: AccountStatusEnum, required: false }),
    createdFrom: t.field({ type: 'DateTime', required: false }),
    createdTo: t.field({ type: 'DateTime', required: false, description: 'Exclusive' }),
    name: t.string({ required: false, description: 'Case-insensitive substring of the display name' }),
    country: t.string({ required: false, description: 'ISO 3166-1 alpha-2 code (any case)' }),
    online: t.boolean({ required: false }),
    mediaSource: t.string({
      required: false,
      description:
        "The install's media source, exactly (admins only); 'organic' also matches accounts without attribution",
    }),
    campaign: t.string({ required: false, description: "The install's campaign, exactly (admins only)" }),
  }),
});

const uuid = z.uuid();
const reasonSchema = z.string().trim().min(1, 'reason is required').max(500);
// A cursor is `rank|time|id` (rank: 1 for an account online when the page was read, last-seen sorts);
// the `time|id` cursors of earlier releases still parse, with rank 0.
const cursorSchema = z.string().transform((raw, ctx): UserSearchCursor => {
  const parts = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const [rank, at, id] = parts.length === 2 ? ['0', ...parts] : parts;
  const time = new Date(at ?? '');
  if (
    parts.length > 3 ||
    (rank !== '0' && rank !== '1') ||
    Number.isNaN(time.getTime()) ||
    !uuid.safeParse(id).success
  ) {
    ctx.addIssue({ code: 'custom', message: 'after must be a cursor returned by a previous page' });
    return z.NEVER;
  }
  return { rank: Number(rank), at: time, id: id as string };
});
const encodeCursor = (c: UserSearchCursor) =>
  Buffer.from(`${c.rank}|${c.at.toISOString()}|${c.id}`).toString('base64url');
const nameSchema = z.string().trim().min(1, 'name must not be empty').max(100);
const attributionLabel = z.string().trim().min(1, 'must not be empty').max(300);
const countrySchema = z
  .string()
  .trim()
  .toUpperCase()
  .refine((c) => COUNTRY_CODES.has(c), 'country must be an ISO 3166-1 alpha-2 code');

const actorOf = (ctx: GraphQLContext) => ({ principal: requirePrincipal(ctx), requestId: ctx.requestId });

builder.queryFields((t) => ({
  adminUsers: t.field({
    type: AdminUserPage,
    description: 'Account search for moderators and admins',
    authScopes: { role: ['moderator', 'admin'] },
    args: {
      filter: t.arg({ type: AdminUserFilter, required: false }),
      sort: t.arg({ type: UserSortEnum, required: false, defaultValue: 'CREATED_AT_DESC' }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(z.number().int().min(1).max(200), args.first ?? 50, 'first');
      const after = args.after ? parseOrThrow(cursorSchema, args.after, 'after') : null;
      const filter = args.filter ?? {};
      // Attribution is for admins, as everywhere in the ads domain: a moderator may not filter on it.
      if ((filter.mediaSource != null || filter.campaign != null) && requirePrincipal(ctx).role !== 'admin') {
        throw forbidden('Filtering by media source or campaign is for admins');
      }
      const raw = filter.query?.trim();
      const query = !raw
        ? null
        : uuid.safeParse(raw).success
          ? { id: raw.toLowerCase() }
          : { identifier: raw.includes('@') ? raw.toLowerCase() : raw.replace(/[\s()-]/g, '') };
      const rows = await ctx.services.moderation.search({
        query,
        name: filter.name == null ? null : parseOrThrow(nameSchema, filter.name, 'name'),
        country: filter.country == null ? null : parseOrThrow(countrySchema, filter.country, 'country'),
        online: filter.online ?? null,
        mediaSource:
          filter.mediaSource == null
            ? null
            : parseOrThrow(attributionLabel, filter.mediaSource, 'mediaSource'),
        campaign:
          filter.campaign == null ? null : parseOrThrow(attributionLabel, filter.campaign, 'campaign'),
        sort: args.sort?.startsWith('LAST_SEEN') ? 'last_seen' : 'created_at',
        role: filter.role ?? null,
        status: filter.status ?? null,
        createdFrom: filter.createdFrom ?? null,
        createdTo: filter.createdTo ?? null,
        ascending: args.sort === 'CREATED_AT_ASC' || args.sort === 'LAST_SEEN_ASC',
        after,
        limit: first + 1,
      });
      const page = rows.slice(0, first);
      const last = page.at(-1);
      return {
        items: page.map((r) => r.user),
        nextCursor: rows.length > first && last ? encodeCursor(last.cursor) : null,
      };
    },
  }),
  adminUser: t.field({
    type: AdminUser,
    description: 'One account with its roles, status, ban, identities, credentials and sessions',
    authScopes: { role: ['moderator', 'admin'] },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.moderation.getUser(parseOrThrow(uuid, String(args.id), 'id')),
  }),
}));

builder.mutationFields((t) => ({
  setUserRoles: t.field({
    type: AdminUser,
    description: 'Replaces the roles of an account (admins only; you cannot remove your own admin role)',
    authScopes: { role: ['admin'] },
    args: {
      userId: t.arg.id({ required: true }),
      roles: t.arg({ type: [RoleEnum], required: true }),
      reason: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.moderation.setRoles(
        actorOf(ctx),
        parseOrThrow(uuid, String(args.userId), 'userId'),
        args.roles,
        parseOrThrow(reasonSchema, args.reason, 'reason'),
      ),
  }),
  banUser: t.field({
    type: AdminUser,
    description:
      'Bans an account until `until` (or until unbanned): its tokens are refused with BANNED and its ' +
      'sockets closed. Moderators cannot ban admins.',
    authScopes: { role: ['moderator', 'admin'] },
    args: {
      userId: t.arg.id({ required: true }),
      reason: t.arg.string({ required: true }),
      until: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.moderation.ban(
        actorOf(ctx),
        parseOrThrow(uuid, String(args.userId), 'userId'),
        parseOrThrow(reasonSchema, args.reason, 'reason'),
        args.until ?? null,
      ),
  }),
  unbanUser: t.field({
    type: AdminUser,
    description: 'Lifts a ban in force',
    authScopes: { role: ['moderator', 'admin'] },
    args: {
      userId: t.arg.id({ required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.moderation.unban(
        actorOf(ctx),
        parseOrThrow(uuid, String(args.userId), 'userId'),
        args.reason ? parseOrThrow(reasonSchema, args.reason, 'reason') : null,
      ),
  }),
}));
