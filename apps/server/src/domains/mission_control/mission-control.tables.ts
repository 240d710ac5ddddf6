import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

type Json = ColumnType<JsonObject | null, string | null, never>;

export type MissionControlTables = {
  'mission_control.audit_log': {
    id: Generated<bigint>;
    actor_id: string | null;
    actor_role: string | null;
    action: string;
    target_type: string;
    target_id: string;
    before: Json;
    after: Json;
    reason: string | null;
    request_id: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
};
