import { z } from 'zod';
import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { COUNTRY_CODES, LANGUAGE_CODES } from './iso-codes.ts';
import {
  GENDERS,
  INTERESTS,
  MAX_BIO,
  MAX_HEADLINE,
  MAX_INTERESTS,
  MAX_LANGUAGES,
  MIN_AGE,
  ONBOARDING_FIELDS,
  type OnboardingField,
} from './profile.definitions.ts';
import { onboardingCompleted } from './profile.events.ts';
import type { ProfilePatch, ProfileRepository, ProfileRow, PublicProfileRow } from './profile.repository.ts';

/** What the profile needs from the user domain: the account's roles (it must exist). */
export type AccountLookup = { getUser(userId: string): Promise<{ id: string; roles: Role[] }> };

/**
 * The account's verified email and phone, owned by the user domain. The profile shows them to the
 * owner and to moderators; it never stores them.
 */
export type AccountContacts = {
  contactsOf(userId: string): Promise<{ email: string | null; phone: string | null }>;
};

export type PublicProfile = Omit<PublicProfileRow, 'userId'> & { userId: string; isStreamer: boolean };

export type Preferences = {
  language: string | null;
  notifyCalls: boolean;
  notifyMessages: boolean;
  notifyPromotions: boolean;
};

export type Onboarding = { completed: boolean; missingFields: OnboardingField[]; completedAt: Date | null };

export type PrivateProfile = {
  userId: string;
  birthDate: string | null;
  email: string | null;
  phone: string | null;
  realName: string | null;
  payoutDetails: JsonObject | null;
  preferences: Preferences;
  onboarding: Onboarding;
  public: PublicProfile;
};

const DEFAULT_PREFERENCES: Preferences = {
  language: null,
  notifyCalls: true,
  notifyMessages: true,
  notifyPromotions: false,
};

const text = (max: number, min = 1) =>
  z
    .string()
    .trim()
    .min(min, `must be at least ${min} characters`)
    .max(max, `must be at most ${max} characters`)
    // Single-line fields: control characters (line breaks included) break layouts and logs.
    .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters');

const birthDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
  }, 'is not a calendar date');

const uniqueList = (item: z.ZodType<string>, max: number, what: string) =>
  z
    .array(item)
    .max(max, `at most ${max} ${what}`)
    .refine((list) => new Set(list).size === list.length, `${what} must not repeat`);

const payoutDetails = z
  .record(z.string(), z.unknown())
  .refine((o) => JSON.stringify(o).length <= 4096, 'must be at most 4096 bytes of JSON');

export const profileInputSchema = z
  .object({
    displayName: text(40, 2).nullish(),
    birthDate: birthDate.nullish(),
    gender: z.enum(GENDERS, { message: `must be one of ${GENDERS.join(', ')}` }).nullish(),
    country: z
      .string()
      .refine((c) => COUNTRY_CODES.has(c), 'must be an ISO 3166-1 alpha-2 code in capitals, e.g. DE')
      .nullish(),
    languages: uniqueList(
      z.string().refine((l) => LANGUAGE_CODES.has(l), 'must be ISO 639-1 codes in lower case, e.g. en'),
      MAX_LANGUAGES,
      'languages',
    ).nullish(),
    bio: z.string().trim().max(MAX_BIO, `must be at most ${MAX_BIO} characters`).nullish(),
    interests: uniqueList(
      z.enum(INTERESTS, { message: 'must be values from the list of interests' }),
      MAX_INTERESTS,
      'interests',
    ).nullish(),
    headline: text(MAX_HEADLINE).nullish(),
    realName: text(200).nullish(),
    payoutDetails: payoutDetails.nullish(),
    preferences: z
      .object({
        language: z
          .string()
          .refine((l) => LANGUAGE_CODES.has(l), 'must be an ISO 639-1 code in lower case, e.g. en')
          .nullish(),
        notifyCalls: z.boolean().nullish(),
        notifyMessages: z.boolean().nullish(),
        notifyPromotions: z.boolean().nullish(),
      })
      .nullish(),
  })
  .strict();

export type ProfileInput = z.input<typeof profileInputSchema>;

// Once set, the fields onboarding requires can be changed but not removed.
const NOT_CLEARABLE = new Set<string>(ONBOARDING_FIELDS);

function todayOf(clock: Clock): string {
  return clock.now().toISOString().slice(0, 10);
}

/** Whole years between a birth date and today, both YYYY-MM-DD. */
export function ageOn(birth: string, today: string): number {
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

function onboardingOf(row: ProfileRow | undefined): Onboarding {
  const missingFields = ONBOARDING_FIELDS.filter((field) => !row?.[field]);
  return {
    completed: missingFields.length === 0,
    missingFields,
    completedAt: row?.onboardingCompletedAt ?? null,
  };
}

function preferencesOf(stored: JsonObject | undefined): Preferences {
  const s = stored ?? {};
  return {
    language: typeof s.language === 'string' ? s.language : DEFAULT_PREFERENCES.language,
    notifyCalls: typeof s.notifyCalls === 'boolean' ? s.notifyCalls : DEFAULT_PREFERENCES.notifyCalls,
    notifyMessages:
      typeof s.notifyMessages === 'boolean' ? s.notifyMessages : DEFAULT_PREFERENCES.notifyMessages,
    notifyPromotions:
      typeof s.notifyPromotions === 'boolean' ? s.notifyPromotions : DEFAULT_PREFERENCES.notifyPromotions,
  };
}

/**
 * Public and private profile data. Public reads select only public columns; private reads are for
 * the owner (`mine`) or, audited, for moderators (`viewPrivateAsStaff`).
 */
export class ProfileService {
  private readonly repo: ProfileRepository;
  private readonly accounts: AccountLookup;
  private readonly contacts: AccountContacts;
  private readonly audit: AuditLog;
  private readonly events: EventSink;
  private readonly clock: Clock;

  constructor(deps: {
    repo: ProfileRepository;
    accounts: AccountLookup;
    contacts: AccountContacts;
    audit: AuditLog;
    events: EventSink;
    clock: Clock;
  }) {
    this.repo = deps.repo;
    this.accounts = deps.accounts;
    this.contacts = deps.contacts;
    this.audit = deps.audit;
    this.events = deps.events;
    this.clock = deps.clock;
  }

  /** What any signed-in account may see of `userId`. NOT_FOUND when the account does not exist. */
  async publicProfile(userId: string): Promise<PublicProfile> {
    const user = await this.accounts.getUser(userId);
    const row = await this.repo.findPublic(userId, todayOf(this.clock));
    return {
      userId,
      displayName: row?.displayName ?? null,
      gender: row?.gender ?? null,
      country: row?.country ?? null,
      languages: row?.languages ?? [],
      bio: row?.bio ?? null,
      interests: row?.interests ?? [],
      headline: row?.headline ?? null,
      age: row?.age ?? null,
      isStreamer: user.roles.includes('streamer'),
    };
  }

  /** The caller's own private profile. */
  async mine(userId: string): Promise<PrivateProfile> {
    return this.privateProfile(userId);
  }

  /** The profile part of the account's data export: the private view, which holds the public one. */
  async exportFor(userId: string): Promise<PrivateProfile> {
    return this.privateProfile(userId);
  }

  /** A moderator's or admin's read of someone's private profile, recorded in the audit log. */
  async viewPrivateAsStaff(actor: AuditActor, userId: string): Promise<PrivateProfile> {
    await this.accounts.getUser(userId);
    await withTransaction(this.repo.db, (tx) =>
      this.audit.record(tx, actor, {
        action: 'profile.viewed_private',
        targetType: 'user',
        targetId: userId,
      }),
    );
    return this.privateProfile(userId);
  }

  /**
   * Validates the whole input first (BAD_USER_INPUT naming the field, nothing written), then applies
   * it. The first time every onboarding field is present, marks onboarding completed and emits
   * `onboarding_completed` in the same transaction.
   */
  async update(userId: string, input: unknown): Promise<PrivateProfile> {
    const parsed = profileInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.map(String).join('.') || 'input';
      throw badInput(`${field} ${issue?.message ?? 'is not valid'}`, { field });
    }
    const data = parsed.data;
    for (const [field, value] of Object.entries(data)) {
      if (value === null && NOT_CLEARABLE.has(field)) throw badInput(`${field} cannot be removed`, { field });
    }
    if (data.birthDate && ageOn(data.birthDate, todayOf(this.clock)) < MIN_AGE) {
      throw badInput(`You must be at least ${MIN_AGE} years old`, { field: 'birthDate' });
    }
    if (data.birthDate && ageOn(data.birthDate, todayOf(this.clock)) > 120) {
      throw badInput('birthDate is not plausible', { field: 'birthDate' });
    }
    await withTransaction(this.repo.db, async (tx) => {
      const current = await this.repo.lockOrCreate(tx, userId);
      const patch: ProfilePatch = {};
      if (data.displayName) patch.displayName = data.displayName;
      if (data.birthDate) patch.birthDate = data.birthDate;
      if (data.gender) patch.gender = data.gender;
      if (data.country) patch.country = data.country;
      if (data.languages !== undefined) patch.languages = data.languages ?? [];
      if (data.interests !== undefined) patch.interests = data.interests ?? [];
      if (data.bio !== undefined) patch.bio = data.bio || null;
      if (data.headline !== undefined) patch.headline = data.headline ?? null;
      if (data.realName !== undefined) patch.realName = data.realName ?? null;
      if (data.payoutDetails !== undefined) patch.payoutDetails = data.payoutDetails ?? null;
      if (data.preferences !== undefined) {
        const merged = { ...preferencesOf(current.preferences) };
        for (const [key, value] of Object.entries(data.preferences ?? {})) {
          if (value !== undefined) Object.assign(merged, { [key]: value });
        }
        patch.preferences = merged;
      }
      const at = this.clock.now();
      await this.repo.update(tx, userId, patch, at);
      const after = { ...current, ...patch };
      if (!current.onboardingCompletedAt && onboardingOf(after).completed) {
        await this.repo.markOnboardingCompleted(tx, userId, at);
        await this.events.emit(
          tx,
          onboardingCompleted.event({ userId, country: after.country ?? '' }, { userId }),
        );
      }
    });
    return this.privateProfile(userId);
  }

  private async privateProfile(userId: string): Promise<PrivateProfile> {
    const [row, publicView, contacts] = await Promise.all([
      this.repo.findPrivate(userId),
      this.publicProfile(userId),
      this.contacts.contactsOf(userId),
    ]);
    return {
      userId,
      birthDate: row?.birthDate ?? null,
      email: contacts.email,
      phone: contacts.phone,
      realName: row?.realName ?? null,
      payoutDetails: row?.payoutDetails ?? null,
      preferences: preferencesOf(row?.preferences),
      onboarding: onboardingOf(row),
      public: publicView,
    };
  }
}
