import type { ColumnType } from 'kysely';

export const ROULETTE_SIDES = ['user', 'streamer'] as const;
export type RouletteSide = (typeof ROULETTE_SIDES)[number];
export type RouletteEntryState = 'waiting' | 'matched';

export type RouletteTables = {
  'video.roulette_pool': {
    user_id: string;
    side: RouletteSide;
    state: RouletteEntryState;
    joined_at: Date;
    heartbeat_at: Date;
    want_language: string | null;
    want_country: string | null;
    languages: ColumnType<string[], string[] | undefined, string[]>;
    country: string | null;
    call_id: string | null;
    matched_at: Date | null;
  };
};
