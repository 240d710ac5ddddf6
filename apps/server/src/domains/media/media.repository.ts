import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { MediaKind, MediaStatus, MediaVariantRecord, ModeratedKind } from './media.tables.ts';

type Executor = Db | Tx;

export type MediaItem = {
  id: string;
  seq: bigint;
  ownerId: string;
  kind: MediaKind;
  status: MediaStatus;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  variants: MediaVariantRecord[];
  rejectionReason: string | null;
  moderatedBy: string | null;
  moderatedAt: Date | null;
  createdAt: Date;
};

const COLUMNS = [
  'id',
  'seq',
  'owner_id',
  'kind',
  'status',
  'content_type',
  'width',
  'height',
  'bytes',
  'variants',
  'rejection_reason',
  'moderated_by',
  'moderated_at',
  'created_at',
] as const;

type Row = {
  id: string;
  seq: bigint;
  owner_id: string;
  kind: MediaKind;
  status: MediaStatus;
  content_type: string;
  width: number;
  height: number;
  bytes: number;
  variants: MediaVariantRecord[];
  rejection_reason: string | null;
  moderated_by: string | null;
  moderated_at: Date | null;
  created_at: Date;
};

const toItem = (r: Row): MediaItem => ({
  id: r.id,
  seq: r.seq,
  ownerId: r.owner_id,
  kind: r.kind,
  status: r.status,
  contentType: r.content_type,
  width: r.width,
  height: r.height,
  bytes: r.bytes,
  variants: r.variants,
  rejectionReason: r.rejection_reason,
  moderatedBy: r.moderated_by,
  moderatedAt: r.moderated_at,
  createdAt: r.created_at,
});

/** The only code that reads or writes the `media` schema. */
export class MediaRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(
    ex: Executor,
    input: {
      id: string;
      ownerId: string;
      kind: MediaKind;
      status: MediaStatus;
      contentType: string;
      width: number;
      height: number;
      bytes: number;
      variants: MediaVariantRecord[];
    },
  ): Promise<MediaItem> {
    const row = await ex
      .insertInto('media.items')
      .values({
        id: input.id,
        owner_id: input.ownerId,
        kind: input.kind,
        status: input.status,
        content_type: input.contentType,
        width: input.width,
        height: input.height,
        bytes: input.bytes,
        variants: JSON.stringify(input.variants),
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toItem(row);
  }

  async find(id: string, ex: Executor = this.db): Promise<MediaItem | undefined> {
    const row = await ex.selectFrom('media.items').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toItem(row);
  }

  async findMany(ids: readonly string[], ex: Executor = this.db): Promise<MediaItem[]> {
    if (ids.length === 0) return [];
    const rows = await ex.selectFrom('media.items').select(COLUMNS).where('id', 'in', ids).execute();
    return rows.map(toItem);
  }

  /** Locks the rows in id order, so concurrent bulk decisions cannot deadlock. */
  async lockMany(tx: Tx, ids: readonly string[]): Promise<MediaItem[]> {
    if (ids.length === 0) return [];
    const rows = await tx
      .selectFrom('media.items')
      .select(COLUMNS)
      .where('id', 'in', ids)
      .orderBy('id')
      .forUpdate()
      .execute();
    return rows.map(toItem);
  }

  /** The owner's items, newest first; `before` is the seq of the last item of the previous page. */
  async listByOwner(ownerId: string, limit: number, before: bigint | undefined): Promise<MediaItem[]> {
    let query = this.db.selectFrom('media.items').select(COLUMNS).where('owner_id', '=', ownerId);
    if (before !== undefined) query = query.where('seq', '<', before);
    const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toItem);
  }

  /** Every item of the owner, newest first (for the data export; an account holds few uploads). */
  async listAllByOwner(ownerId: string): Promise<MediaItem[]> {
    const rows = await this.db
      .selectFrom('media.items')
      .select(COLUMNS)
      .where('owner_id', '=', ownerId)
      .orderBy('seq', 'desc')
      .execute();
    return rows.map(toItem);
  }

  /** The owner's approved photos, newest first (what their public profile shows). */
  async listApprovedPhotos(ownerId: string, limit: number): Promise<MediaItem[]> {
    const rows = await this.db
      .selectFrom('media.items')
      .select(COLUMNS)
      .where('owner_id', '=', ownerId)
      .where('kind', '=', 'photo')
      .where('status', '=', 'approved')
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toItem);
  }

  /** Pending photos and videos (or one kind), oldest first (first come, first reviewed); `after` is a seq. */
  async listPending(limit: number, after: bigint | undefined, kind?: ModeratedKind): Promise<MediaItem[]> {
    let query = this.db.selectFrom('media.items').select(COLUMNS).where('status', '=', 'pending');
    if (kind !== undefined) query = query.where('kind', '=', kind);
    if (after !== undefined) query = query.where('seq', '>', after);
    const rows = await query.orderBy('seq', 'asc').limit(limit).execute();
    return rows.map(toItem);
  }

  async setModeration(
    tx: Tx,
    id: string,
    input: { status: 'approved' | 'rejected'; reason: string | null; moderatorId: string; at: Date },
  ): Promise<MediaItem> {
    const row = await tx
      .updateTable('media.items')
      .set({
        status: input.status,
        rejection_reason: input.reason,
        moderated_by: input.moderatorId,
        moderated_at: input.at,
      })
      .where('id', '=', id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toItem(row);
  }

  /** Deletes every item of the owner and returns them, so the caller can remove their files. */
  async deleteByOwner(tx: Tx, ownerId: string): Promise<MediaItem[]> {
    const rows = await tx
      .deleteFrom('media.items')
      .where('owner_id', '=', ownerId)
      .returning(COLUMNS)
      .execute();
    return rows.map(toItem);
  }
}
