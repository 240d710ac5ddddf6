import type { ColumnType } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

type Timestamp = ColumnType<Date, Date | undefined, Date>;

export type ProfileTables = {
  'profile.profiles': {
    user_id: string;
    display_name: string | null;
    gender: string | null;
    country: string | null;
    languages: ColumnType<string[], string[] | undefined, string[]>;
    bio: string | null;
    interests: ColumnType<string[], string[] | undefined, string[]>;
    headline: string | null;
    // Selected as text ('YYYY-MM-DD') by the repository: a calendar date, not an instant.
    birth_date: ColumnType<string | null, string | null | undefined, string | null>;
    real_name: string | null;
    payout_details: ColumnType<JsonObject | null, string | null | undefined, string | null>;
    preferences: ColumnType<JsonObject, string | undefined, string>;
    onboarding_completed_at: Date | null;
    created_at: ColumnType<Date, Date | undefined, never>;
    updated_at: Timestamp;
  };
  /** Read-only view published for the admin user search (user domain). */
  'profile.admin_directory': {
    user_id: string;
    display_name: string | null;
    country: string | null;
  };
};
