import type { ColumnType, Generated } from 'kysely';

export type MediaKind = 'photo' | 'video' | 'kyc_document';
/** The kinds a moderator approves before anyone else may see them. */
export type ModeratedKind = 'photo' | 'video';
export type MediaStatus = 'pending' | 'approved' | 'rejected' | 'private';

/** One stored rendition of an upload. */
export type MediaVariantRecord = {
  name: string;
  key: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
};

export type MediaTables = {
  'media.items': {
    id: Generated<string>;
    seq: Generated<bigint>;
    owner_id: string;
    kind: MediaKind;
    status: MediaStatus;
    content_type: string;
    width: number;
    height: number;
    bytes: number;
    variants: ColumnType<MediaVariantRecord[], string, string>;
    rejection_reason: string | null;
    moderated_by: string | null;
    moderated_at: Date | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  /** Read-only view for the video domain's prerecorded offers (migration 0003). */
  'media.approved_videos': { id: string; owner_id: string };
};
