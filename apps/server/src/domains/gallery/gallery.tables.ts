/**
 * Rows as the gallery repository reads them. Its SQL is written out (unnest, array slices, dynamic
 * orders), not built by Kysely, so the tables are not part of the shared Database type.
 */

/** One position of a scroll, joined live to the published views at page time (null: past its end). */
export type PageRow = {
  pos: number | bigint | null;
  user_id: string | null;
  visible: boolean;
  photo_id: string | null;
  display_name: string | null;
  country: string | null;
  languages: string[] | null;
  online: boolean | null;
  online_since: Date | null;
  last_seen_at: Date | null;
};
