import type { ColumnType, Generated } from 'kysely';

// jsonb: any JSON value read back as parsed; written as its JSON text.
type JsonValue = ColumnType<unknown, string, string>;

export type SettingsTables = {
  'settings.values': {
    key: string;
    value: JsonValue;
    version: number;
    updated_by: string | null;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'settings.changes': {
    id: Generated<bigint>;
    key: string;
    version: number;
    before: ColumnType<unknown, string | null, never>;
    after: ColumnType<unknown, string, never>;
    changed_by: string | null;
    reason: string;
    changed_at: ColumnType<Date, Date | undefined, never>;
  };
};
