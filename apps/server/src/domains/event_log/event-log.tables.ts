import type { ColumnType, Generated } from 'kysely';

type JsonColumn = ColumnType<unknown, string, string>;

export type ConsumerStatus = 'running' | 'stopped';

export type EventLogTables = {
  'event_log.events': {
    id: Generated<string>;
    /** Assigned at commit by a trigger; never written by the application. */
    position: ColumnType<bigint | null, never, never>;
    type: string;
    version: number;
    payload: JsonColumn;
    user_id: string | null;
    occurred_at: Date;
  };
  'event_log.consumers': {
    name: string;
    cursor: ColumnType<bigint, bigint | undefined, bigint>;
    status: ColumnType<ConsumerStatus, ConsumerStatus | undefined, ConsumerStatus>;
    attempts: ColumnType<number, number | undefined, number>;
    retry_at: Date | null;
    last_error: string | null;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'event_log.dead_letters': {
    id: ColumnType<bigint, never, never>;
    consumer: string;
    event_id: string;
    position: bigint;
    type: string;
    version: number;
    payload: JsonColumn;
    user_id: string | null;
    occurred_at: Date;
    error: string;
    attempts: number;
    created_at: ColumnType<Date, Date | undefined, never>;
    retried_at: Date | null;
    retries: ColumnType<number, number | undefined, number>;
    resolved_at: Date | null;
  };
};
