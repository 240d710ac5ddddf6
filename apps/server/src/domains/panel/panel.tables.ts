import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

export type CohortKind = 'rule' | 'manual';

export type PanelTables = {
  'panel.cohorts': {
    id: Generated<string>;
    tag: string;
    name: string;
    description: ColumnType<string, string | undefined, string>;
    kind: CohortKind;
    rule: ColumnType<JsonObject | null, string | null, string | null>;
    active: ColumnType<boolean, boolean | undefined, boolean>;
    created_by: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
    recomputed_at: Date | null;
  };
  'panel.memberships': {
    cohort_id: string;
    user_id: string;
    added_at: ColumnType<Date, Date | undefined, never>;
    added_by: string | null;
  };
  'panel.user_tags': {
    user_id: string;
    tag: string;
    created_by: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  'panel.user_facts': {
    user_id: string;
    signed_up_at: Date | null;
    coins_bought: ColumnType<bigint, bigint | undefined, bigint>;
    calls_made: ColumnType<number, number | undefined, number>;
    last_active_at: Date | null;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  /** Published read-only view: tags of the active cohorts a user is in. */
  'panel.user_cohort_tags': {
    user_id: ColumnType<string, never, never>;
    tag: ColumnType<string, never, never>;
  };
};
