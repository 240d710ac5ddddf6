import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type CronRunTrigger = 'schedule' | 'catch_up' | 'manual';
export type CronRunStatus = 'scheduled' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped';

export type TimetableTables = {
  'timetable.cron_tasks': {
    name: string;
    task: string;
    cron: string;
    time_zone: string;
    enabled: boolean;
    payload: ColumnType<JsonObject, string, string>;
    catch_up: boolean;
    max_attempts: number;
    last_run_at: Date | null;
    next_run_at: Date | null;
    last_error: string | null;
    created_at: CreatedAt;
    updated_at: Timestamp;
  };
  'timetable.cron_runs': {
    id: Generated<bigint>;
    task_name: string;
    scheduled_for: Date;
    trigger: CronRunTrigger;
    status: ColumnType<CronRunStatus, CronRunStatus | undefined, CronRunStatus>;
    attempts: ColumnType<number, number | undefined, number>;
    started_at: Date | null;
    finished_at: Date | null;
    error: string | null;
    created_at: CreatedAt;
  };
};
