import type { ColumnType, Generated } from 'kysely';

export type AgencyTables = {
  'mission_control.agencies': {
    id: Generated<string>;
    seq: Generated<bigint>;
    name: string;
    share_bps: number;
    active: ColumnType<boolean, boolean | undefined, boolean>;
    created_at: ColumnType<Date, Date | undefined, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'mission_control.agency_memberships': {
    id: Generated<bigint>;
    agency_id: string;
    streamer_id: string;
    started_at: Date;
    ended_at: Date | null;
    added_by: string | null;
    removed_by: string | null;
  };
  'mission_control.agency_managers': {
    agency_id: string;
    user_id: string;
    added_by: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
};
