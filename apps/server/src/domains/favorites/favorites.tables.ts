import type { ColumnType } from 'kysely';

export type FavoritesTables = {
  'favorites.favorites': {
    user_id: string;
    favorite_id: string;
    created_at: ColumnType<Date, Date, never>;
  };
  'favorites.follower_counts': {
    favorite_id: string;
    followers: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  };
  /** Published read-only view for other domains. */
  'favorites.user_favorites': {
    user_id: ColumnType<string, never, never>;
    favorite_id: ColumnType<string, never, never>;
    created_at: ColumnType<Date, never, never>;
  };
};
