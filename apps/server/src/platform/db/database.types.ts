import type { ColumnType } from 'kysely';
import type { EventLogTables } from '../../domains/event_log/event-log.tables.ts';
import type { KycTables } from '../../domains/kyc/kyc.tables.ts';
import type { MediaTables } from '../../domains/media/media.tables.ts';
import type { MissionControlTables } from '../../domains/mission_control/mission-control.tables.ts';
import type { ProfileTables } from '../../domains/profile/profile.tables.ts';
import type { SettingsTables } from '../../domains/settings/settings.tables.ts';
import type { TimetableTables } from '../../domains/timetable/timetable.tables.ts';
import type { PresenceTables } from '../../domains/user/presence/presence.tables.ts';
import type { UserTables } from '../../domains/user/user.tables.ts';

export type JsonObject = { [key: string]: unknown };

export type PlatformTables = {
  'platform.schema_migrations': {
    module: string;
    version: number;
    name: string;
    checksum: string;
    applied_at: ColumnType<Date, never, never>;
  };
  'auth.signing_keys': {
    kid: string;
    algorithm: 'ES256';
    public_jwk: ColumnType<JsonObject, string, string>;
    private_jwk: ColumnType<JsonObject, string, string>;
    created_at: ColumnType<Date, Date | undefined, never>;
    retired_at: Date | null;
    expires_at: Date | null;
  };
};

/** Every table of every schema, as Kysely sees them. Each domain declares its own in `<domain>.tables.ts`. */
export type Database = PlatformTables &
  MediaTables &
  KycTables &
  UserTables &
  EventLogTables &
  TimetableTables &
  MissionControlTables &
  PresenceTables &
  ProfileTables &
  SettingsTables;
