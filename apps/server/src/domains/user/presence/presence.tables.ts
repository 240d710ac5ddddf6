import type { ColumnType } from 'kysely';

export const AVAILABILITIES = ['available', 'busy', 'away'] as const;
export type Availability = (typeof AVAILABILITIES)[number];

export type PresenceTables = {
  'presence.nodes': {
    node_id: string;
    started_at: Date;
    heartbeat_at: Date;
  };
  'presence.connections': {
    connection_id: string;
    node_id: string;
    user_id: string;
    opened_at: Date;
  };
  'presence.status': {
    user_id: string;
    online: ColumnType<boolean, boolean | undefined, boolean>;
    online_since: Date | null;
    last_seen_at: Date | null;
    availability: ColumnType<Availability, Availability | undefined, Availability>;
    availability_updated_at: Date | null;
  };
  'presence.user_presence': {
    user_id: string;
    online: boolean;
    online_since: Date | null;
    last_seen_at: Date | null;
    availability: Availability;
  };
};
