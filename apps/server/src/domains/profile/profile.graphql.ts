import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { Onboarding, Preferences, PrivateProfile, PublicProfile } from './profile.service.ts';

const userIdSchema = z.uuid('userId must be an account id');

/** At most this many photos on a public profile; older ones stay in the owner's media list. */
const MAX_PROFILE_PHOTOS = 20;

const ProfilePhotoRef = builder
  .objectRef<{ id: string; thumbnailUrl: string; expiresAt: Date; createdAt: Date }>('ProfilePhoto')
  .implement({
    description: 'An approved photo on a public profile. Larger renditions through mediaUrl(id).',
    authScopes: { signedIn: true },
    fields: (t) => ({
      id: t.exposeID('id'),
      thumbnailUrl: t.exposeString('thumbnailUrl', {
        description: 'Signed, 160 px wide; expires at expiresAt',
      }),
      expiresAt: t.field({ type: 'DateTime', resolve: (p) => p.expiresAt }),
      createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
    }),
  });

const PublicProfileRef = builder.objectRef<PublicProfile>('PublicProfile').implement({
  description:
    'What any signed-in account sees of another. Never holds the birth date, contacts, real name or ' +
    'payout details: those are on PrivateProfile.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    displayName: t.string({ nullable: true, resolve: (p) => p.displayName }),
    age: t.int({ nullable: true, description: 'Whole years, from the birth date', resolve: (p) => p.age }),
    gender: t.string({ nullable: true, resolve: (p) => p.gender }),
    country: t.string({ nullable: true, description: 'ISO 3166-1 alpha-2', resolve: (p) => p.country }),
    languages: t.stringList({ description: 'ISO 639-1 codes, at most 5', resolve: (p) => p.languages }),
    bio: t.string({ nullable: true, resolve: (p) => p.bio }),
    interests: t.stringList({ resolve: (p) => p.interests }),
    headline: t.string({
      nullable: true,
      description: "A streamer's one-line pitch",
      resolve: (p) => p.headline,
    }),
    isStreamer: t.exposeBoolean('isStreamer'),
    photos: t.field({
      type: [ProfilePhotoRef],
      description: `Approved photos, newest first, at most ${MAX_PROFILE_PHOTOS}; never pending or rejected ones`,
      // Read through the media service, which owns the photos and their moderation status.
      resolve: (p, _args, ctx) =>
        ctx.services.media.publicPhotos(requirePrincipal(ctx), p.userId, MAX_PROFILE_PHOTOS),
    }),
  }),
});

const PreferencesRef = builder.objectRef<Preferences>('ProfilePreferences').implement({
  description: "The account's notification opt-ins and app language",
  authScopes: { signedIn: true },
  fields: (t) => ({
    language: t.string({ nullable: true, description: 'ISO 639-1', resolve: (p) => p.language }),
    notifyCalls: t.exposeBoolean('notifyCalls'),
    notifyMessages: t.exposeBoolean('notifyMessages'),
    notifyPromotions: t.exposeBoolean('notifyPromotions'),
  }),
});

const OnboardingRef = builder.objectRef<Onboarding>('Onboarding').implement({
  description: 'Whether the required profile fields are filled in',
  authScopes: { signedIn: true },
  fields: (t) => ({
    completed: t.exposeBoolean('completed'),
    missingFields: t.stringList({ resolve: (o) => [...o.missingFields] }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (o) => o.completedAt }),
  }),
});

const PrivateProfileRef = builder.objectRef<PrivateProfile>('PrivateProfile').implement({
  description:
    'The private side of a profile. Reachable only by its owner (myProfile) and, audited, by moderators ' +
    'and admins (adminUserProfile).',
  // Checked again on the object itself, so a future field returning this type cannot leak it.
  authScopes: (profile, ctx) =>
    ctx.principal?.userId === profile.userId ? true : { role: ['moderator', 'admin'] },
  fields: (t) => ({
    userId: t.exposeID('userId'),
    birthDate: t.string({ nullable: true, description: 'YYYY-MM-DD', resolve: (p) => p.birthDate }),
    email: t.string({
      nullable: true,
      description: "The account's email, from the user domain",
      resolve: (p) => p.email,
    }),
    phone: t.string({
      nullable: true,
      description: "The account's phone (E.164), from the user domain",
      resolve: (p) => p.phone,
    }),
    realName: t.string({ nullable: true, resolve: (p) => p.realName }),
    payoutDetails: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Free-form object until payouts define its shape',
      resolve: (p) => p.payoutDetails,
    }),
    preferences: t.field({ type: PreferencesRef, resolve: (p) => p.preferences }),
    onboarding: t.field({ type: OnboardingRef, resolve: (p) => p.onboarding }),
    public: t.field({
      type: PublicProfileRef,
      description: 'How others see this profile',
      resolve: (p) => p.public,
    }),
  }),
});

const PreferencesInput = builder.inputType('ProfilePreferencesInput', {
  description: 'Omitted fields stay as they are',
  fields: (t) => ({
    language: t.string({ required: false }),
    notifyCalls: t.boolean({ required: false }),
    notifyMessages: t.boolean({ required: false }),
    notifyPromotions: t.boolean({ required: false }),
  }),
});

const UpdateProfileInput = builder.inputType('UpdateProfileInput', {
  description:
    'Omitted fields stay as they are; null clears an optional field. displayName, birthDate, gender and ' +
    'country cannot be cleared once set.',
  fields: (t) => ({
    displayName: t.string({ required: false, description: '2 to 40 characters' }),
    birthDate: t.string({ required: false, description: 'YYYY-MM-DD; the account must be 18 or older' }),
    gender: t.string({ required: false, description: 'female, male or non_binary' }),
    country: t.string({ required: false, description: 'ISO 3166-1 alpha-2, e.g. DE' }),
    languages: t.stringList({ required: false, description: 'ISO 639-1 codes, at most 5' }),
    bio: t.string({ required: false, description: 'At most 500 characters' }),
    interests: t.stringList({
      required: false,
      description: 'At most 10, from the fixed list (docs/profiles.md)',
    }),
    headline: t.string({ required: false, description: 'At most 100 characters' }),
    realName: t.string({ required: false }),
    payoutDetails: t.field({ type: 'JSON', required: false, description: 'A JSON object' }),
    preferences: t.field({ type: PreferencesInput, required: false }),
  }),
});

builder.queryFields((t) => ({
  profile: t.field({
    type: PublicProfileRef,
    description: "Another account's public profile",
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.profiles.publicProfile(parseOrThrow(userIdSchema, String(args.userId), 'userId')),
  }),
  myProfile: t.field({
    type: PrivateProfileRef,
    description: "The caller's own profile, private fields and onboarding state included",
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.profiles.mine(requirePrincipal(ctx).userId),
  }),
  adminUserProfile: t.field({
    type: PrivateProfileRef,
    description: "An account's private profile, for moderation. Every read is recorded in the audit log.",
    authScopes: { role: ['moderator', 'admin'] },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.profiles.viewPrivateAsStaff(
        { principal: ctx.principal, requestId: ctx.requestId },
        parseOrThrow(userIdSchema, String(args.userId), 'userId'),
      ),
  }),
}));

builder.mutationField('updateMyProfile', (t) =>
  t.field({
    type: PrivateProfileRef,
    description:
      "Changes the caller's profile. Invalid input is refused as a whole with BAD_USER_INPUT naming the field.",
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: UpdateProfileInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.profiles.update(requirePrincipal(ctx).userId, args.input),
  }),
);
