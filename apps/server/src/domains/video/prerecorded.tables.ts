import type { ColumnType } from 'kysely';

export type PrerecordedTables = {
  'video.prerecorded_offers': {
    id: string;
    streamer_id: string;
    media_id: string;
    title: string;
    languages: ColumnType<string[], string[] | undefined, string[]>;
    duration_seconds: number;
    created_at: Date;
    withdrawn_at: Date | null;
  };
  'video.prerecorded_views': {
    call_id: string;
    offer_id: string;
    viewer_id: string;
    streamer_id: string;
    started_at: Date;
  };
};
