import type { ColumnType } from 'kysely';
import type { AdsTables } from '../../domains/ads/ads.tables.ts';
import type { BalanceTables } from '../../domains/balance/balance.tables.ts';
import type { BillingTables } from '../../domains/billing/billing.tables.ts';
import type { BlocklistTables } from '../../domains/blocklist/blocklist.tables.ts';
import type { ChatTables } from '../../domains/chat/chat.tables.ts';
import type { EventLogTables } from '../../domains/event_log/event-log.tables.ts';
import type { FavoritesTables } from '../../domains/favorites/favorites.tables.ts';
import type { GiftTables } from '../../domains/gift/gift.tables.ts';
import type { InteractionTables } from '../../domains/interaction/interaction.tables.ts';
import type { KycTables } from '../../domains/kyc/kyc.tables.ts';
import type { MediaTables } from '../../domains/media/media.tables.ts';
import type { AgencyTables } from '../../domains/mission_control/agency.tables.ts';
import type { MissionControlTables } from '../../domains/mission_control/mission-control.tables.ts';
import type { PayoutTables } from '../../domains/mission_control/payout.tables.ts';
import type { NotificationTables } from '../../domains/notification/notification.tables.ts';
import type { PanelTables } from '../../domains/panel/panel.tables.ts';
import type { PaymentTables } from '../../domains/payment/payment.tables.ts';
import type { ProfileTables } from '../../domains/profile/profile.tables.ts';
import type { SettingsTables } from '../../domains/settings/settings.tables.ts';
import type { TimetableTables } from '../../domains/timetable/timetable.tables.ts';
import type { PresenceTables } from '../../domains/user/presence/presence.tables.ts';
import type { UserTables } from '../../domains/user/user.tables.ts';
import type { PrerecordedTables } from '../../domains/video/prerecorded.tables.ts';
import type { RouletteTables } from '../../domains/video/roulette.tables.ts';
import type { VideoTables } from '../../domains/video/video.tables.ts';

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
  AdsTables &
  BalanceTables &
  BillingTables &
  BlocklistTables &
  MediaTables &
  NotificationTables &
  PanelTables &
  PaymentTables &
  KycTables &
  UserTables &
  EventLogTables &
  TimetableTables &
  MissionControlTables &
  AgencyTables &
  PayoutTables &
  GiftTables &
  ChatTables &
  FavoritesTables &
  InteractionTables &
  PresenceTables &
  ProfileTables &
  SettingsTables &
  VideoTables &
  RouletteTables &
  PrerecordedTables;
