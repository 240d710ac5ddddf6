import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Tx } from '../../platform/db/transaction.ts';

type Executor = Db | Tx;

/** The columns anyone signed in may see. Selected on their own so a public read never loads private data. */
export type PublicProfileRow = {
  userId: string;
  displayName: string | null;
  gender: string | null;
  country: string | null;
  languages: string[];
  bio: string | null;
  interests: string[];
  headline: string | null;
  /** Whole years, computed in SQL: the birth date itself stays in the database. */
  age: number | null;
};

export type ProfileRow = Omit<PublicProfileRow, 'age'> & {
  birthDate: string | null;
  realName: string | null;
  payoutDetails: JsonObject | null;
  preferences: JsonObject;
  onboardingCompletedAt: Date | null;
  updatedAt: Date;
};

export type ProfilePatch = Partial<{
  displayName: string;
  gender: string;
  country: string;
  languages: string[];
  bio: string | null;
  interests: string[];
  headline: string | null;
  birthDate: string;
  realName: string | null;
  payoutDetails: JsonObject | null;
  preferences: JsonObject;
}>;

/** The only code with SQL for the `profile` schema. */
export class ProfileRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async findPublic(userId: string, today: string): Promise<PublicProfileRow | undefined> {
    const row = await this.db
      .selectFrom('profile.profiles')
      .select([
        'user_id',
        'display_name',
        'gender',
        'country',
        'languages',
        'bio',
        'interests',
        'headline',
        sql<number | null>`extract(year from age(${today}::date, birth_date))::int`.as('age'),
      ])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      userId: row.user_id,
      displayName: row.display_name,
      gender: row.gender,
      country: row.country,
      languages: row.languages,
      bio: row.bio,
      interests: row.interests,
      headline: row.headline,
      age: row.age,
    };
  }

  async findPrivate(userId: string, ex: Executor = this.db, lock = false): Promise<ProfileRow | undefined> {
    let query = ex
      .selectFrom('profile.profiles')
      .selectAll()
      .select(sql<string | null>`to_char(birth_date, 'YYYY-MM-DD')`.as('birth_date_text'))
      .where('user_id', '=', userId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) return undefined;
    return {
      userId: row.user_id,
      displayName: row.display_name,
      gender: row.gender,
      country: row.country,
      languages: row.languages,
      bio: row.bio,
      interests: row.interests,
      headline: row.headline,
      birthDate: row.birth_date_text,
      realName: row.real_name,
      payoutDetails: row.payout_details,
      preferences: row.preferences,
      onboardingCompletedAt: row.onboarding_completed_at,
      updatedAt: row.updated_at,
    };
  }

  /** The account's row, created empty when missing, locked for the rest of the transaction. */
  async lockOrCreate(tx: Tx, userId: string): Promise<ProfileRow> {
    await tx
      .insertInto('profile.profiles')
      .values({ user_id: userId })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    const row = await this.findPrivate(userId, tx, true);
    if (!row) throw new Error('profile row vanished after insert');
    return row;
  }

  async update(tx: Tx, userId: string, patch: ProfilePatch, at: Date): Promise<void> {
    await tx
      .updateTable('profile.profiles')
      .set({
        ...(patch.displayName !== undefined ? { display_name: patch.displayName } : {}),
        ...(patch.gender !== undefined ? { gender: patch.gender } : {}),
        ...(patch.country !== undefined ? { country: patch.country } : {}),
        ...(patch.languages !== undefined ? { languages: patch.languages } : {}),
        ...(patch.bio !== undefined ? { bio: patch.bio } : {}),
        ...(patch.interests !== undefined ? { interests: patch.interests } : {}),
        ...(patch.headline !== undefined ? { headline: patch.headline } : {}),
        ...(patch.birthDate !== undefined ? { birth_date: patch.birthDate } : {}),
        ...(patch.realName !== undefined ? { real_name: patch.realName } : {}),
        ...(patch.payoutDetails !== undefined
          ? { payout_details: patch.payoutDetails === null ? null : JSON.stringify(patch.payoutDetails) }
          : {}),
        ...(patch.preferences !== undefined ? { preferences: JSON.stringify(patch.preferences) } : {}),
        updated_at: at,
      })
      .where('user_id', '=', userId)
      .execute();
  }

  /** Deletes the account's profile, private data included. */
  async erase(tx: Tx, userId: string): Promise<void> {
    await tx.deleteFrom('profile.profiles').where('user_id', '=', userId).execute();
  }

  async markOnboardingCompleted(tx: Tx, userId: string, at: Date): Promise<void> {
    await tx
      .updateTable('profile.profiles')
      .set({ onboarding_completed_at: at })
      .where('user_id', '=', userId)
      .where('onboarding_completed_at', 'is', null)
      .execute();
  }
}
