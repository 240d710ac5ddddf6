import type { ColumnType } from 'kysely';

export const INTERACTION_KINDS = ['profile_view', 'call', 'message', 'gift', 'favorite', 'block'] as const;
export type InteractionKind = (typeof INTERACTION_KINDS)[number];

export type InteractionTables = {
  'interaction.counters': {
    user_id: string;
    other_id: string;
    kind: InteractionKind;
    count: ColumnType<bigint, bigint | number | undefined, bigint | number>;
    first_at: ColumnType<Date, Date, never>;
    last_at: Date;
  };
  'interaction.applied_events': {
    event_id: string;
    applied_at: Date;
  };
  /** Published read-only view: what gallery and roulette read. */
  'interaction.pair_interactions': {
    user_id: ColumnType<string, never, never>;
    other_id: ColumnType<string, never, never>;
    kind: ColumnType<InteractionKind, never, never>;
    count: ColumnType<bigint, never, never>;
    last_at: ColumnType<Date, never, never>;
  };
};
