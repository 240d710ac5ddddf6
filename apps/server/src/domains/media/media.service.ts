import { randomUUID } from 'node:crypto';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, notFound } from '../../platform/errors/app-error.ts';
import type { ObjectStorage, StoredObject } from '../../providers/storage/storage.provider.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { processImage, type VariantName } from './image-processing.ts';
import { photoModerated, videoModerated } from './media.events.ts';
import type { MediaItem, MediaRepository } from './media.repository.ts';
import type { MediaKind, MediaVariantRecord, ModeratedKind } from './media.tables.ts';
import type { MediaUrlSigner } from './media-url-signer.ts';
import { checkVideo } from './video-processing.ts';

export type ModerationDecision = 'approve' | 'reject';

const STAFF_ROLES = new Set(['moderator', 'admin']);

/** Staff act as such only when the request acts in that role (x-hasura-role), not merely holds it. */
const actsAsStaff = (principal: Principal) => STAFF_ROLES.has(principal.role);

/**
 * Who may see an item: its owner always; moderators and admins everything (they review photos, videos
 * and KYC documents); anyone else only photos and videos a moderator approved. KYC documents are never
 * public.
 */
export function canView(principal: Principal, item: MediaItem): boolean {
  if (item.ownerId === principal.userId) return true;
  if (actsAsStaff(principal)) return true;
  return (item.kind === 'photo' || item.kind === 'video') && item.status === 'approved';
}

export type MediaExport = {
  id: string;
  kind: MediaKind;
  status: MediaItem['status'];
  rejectionReason: string | null;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  createdAt: string;
};

export const mediaPath = (id: string, variant: VariantName) => `/media/${id}/${variant}`;

/** Uploads, access by expiring URL, and moderation of photos and videos. */
export class MediaService {
  private readonly deps: {
    db: Db;
    repo: MediaRepository;
    storage: ObjectStorage;
    signer: MediaUrlSigner;
    clock: Clock;
    eventLog: EventLog;
    audit: AuditLog;
    publicUrl: string;
    maxImageBytes: number;
    maxVideoBytes: number;
    urlTtlSeconds: number;
  };

  constructor(deps: MediaService['deps']) {
    this.deps = deps;
  }

  get maxImageBytes(): number {
    return this.deps.maxImageBytes;
  }

  /** The size limit of an upload of this kind (the route enforces it while the body streams in). */
  maxBytesFor(kind: MediaKind): number {
    return kind === 'video' ? this.deps.maxVideoBytes : this.deps.maxImageBytes;
  }

  /**
   * Stores an upload: checks and re-encodes it, writes every rendition, then records it. Photos and
   * videos wait for moderation (`pending`); KYC documents are `private` for good. On any failure nothing
   * stays stored.
   */
  async upload(ownerId: string, kind: MediaKind, bytes: Buffer): Promise<MediaItem> {
    if (kind === 'video') return this.uploadVideo(ownerId, bytes);
    const image = await processImage(bytes, this.deps.maxImageBytes);
    const id = randomUUID();
    const variants: MediaVariantRecord[] = image.variants.map((v) => ({
      name: v.name,
      key: `media/${ownerId}/${id}/${v.name}.${v.extension}`,
      contentType: v.contentType,
      width: v.width,
      height: v.height,
      bytes: v.body.length,
    }));
    try {
      // Files first, row last: a row never points at a file that is not there.
      await Promise.all(
        image.variants.map((v, i) =>
          this.deps.storage.put((variants[i] as MediaVariantRecord).key, v.body, v.contentType),
        ),
      );
      return await this.deps.repo.insert(this.deps.db, {
        id,
        ownerId,
        kind,
        status: kind === 'photo' ? 'pending' : 'private',
        contentType: image.sourceType,
        width: image.width,
        height: image.height,
        bytes: bytes.length,
        variants,
      });
    } catch (error) {
      await Promise.allSettled(variants.map((v) => this.deps.storage.delete(v.key)));
      throw error;
    }
  }

  /**
   * A video is stored as uploaded (no transcoding), as its single `original` rendition. Its dimensions
   * are not probed, so they are recorded as 0.
   */
  private async uploadVideo(ownerId: string, bytes: Buffer): Promise<MediaItem> {
    const video = await checkVideo(bytes, this.deps.maxVideoBytes);
    const id = randomUUID();
    const rendition: MediaVariantRecord = {
      name: 'original',
      key: `media/${ownerId}/${id}/original.${video.extension}`,
      contentType: video.contentType,
      width: 0,
      height: 0,
      bytes: bytes.length,
    };
    try {
      await this.deps.storage.put(rendition.key, bytes, video.contentType);
      return await this.deps.repo.insert(this.deps.db, {
        id,
        ownerId,
        kind: 'video',
        status: 'pending',
        contentType: video.contentType,
        width: 0,
        height: 0,
        bytes: bytes.length,
        variants: [rendition],
      });
    } catch (error) {
      await this.deps.storage.delete(rendition.key).catch(() => undefined);
      throw error;
    }
  }

  async get(id: string): Promise<MediaItem | undefined> {
    return this.deps.repo.find(id);
  }

  async listMine(ownerId: string, limit: number, before: bigint | undefined): Promise<MediaItem[]> {
    return this.deps.repo.listByOwner(ownerId, limit, before);
  }

  /** The media part of the account's data export: what was uploaded, never URLs, keys or bytes. */
  async exportFor(ownerId: string): Promise<MediaExport[]> {
    const items = await this.deps.repo.listAllByOwner(ownerId);
    return items.map((i) => ({
      id: i.id,
      kind: i.kind,
      status: i.status,
      rejectionReason: i.rejectionReason,
      contentType: i.contentType,
      width: i.width,
      height: i.height,
      bytes: i.bytes,
      createdAt: i.createdAt.toISOString(),
    }));
  }

  /**
   * A download URL for one rendition, valid for MEDIA_URL_TTL_SECONDS, issued only when `canView`
   * allows it. Anything the caller may not see is NOT_FOUND, so ids of private items reveal nothing.
   */
  async urlFor(
    principal: Principal,
    id: string,
    variant: VariantName,
  ): Promise<{ url: string; expiresAt: Date }> {
    const item = await this.deps.repo.find(id);
    if (!item || !canView(principal, item)) throw notFound('Media');
    return this.signedUrl(item, variant);
  }

  /**
   * The owner's approved photos for their public profile, newest first, each with a signed thumbnail
   * URL. Pending and rejected photos and KYC documents are never listed, whoever asks.
   */
  async publicPhotos(
    principal: Principal,
    ownerId: string,
    limit: number,
  ): Promise<Array<{ id: string; thumbnailUrl: string; expiresAt: Date; createdAt: Date }>> {
    const items = await this.deps.repo.listApprovedPhotos(ownerId, limit);
    return Promise.all(
      items
        .filter((item) => canView(principal, item))
        .map(async (item) => {
          const { url, expiresAt } = await this.signedUrl(item, '160');
          return { id: item.id, thumbnailUrl: url, expiresAt, createdAt: item.createdAt };
        }),
    );
  }

  /** Signs a URL for a rendition of an item the caller was already allowed to see. */
  private async signedUrl(item: MediaItem, variant: VariantName): Promise<{ url: string; expiresAt: Date }> {
    const id = item.id;
    const rendition = item.variants.find((v) => v.name === variant);
    if (!rendition) throw notFound('Media variant');
    const expiresAt = new Date(
      (Math.floor(this.deps.clock.now().getTime() / 1000) + this.deps.urlTtlSeconds) * 1000,
    );
    const presigned = await this.deps.storage.presignedGetUrl(rendition.key, this.deps.urlTtlSeconds);
    if (presigned) return { url: presigned, expiresAt };
    return {
      url: `${this.deps.publicUrl}${this.deps.signer.sign(mediaPath(id, variant), expiresAt)}`,
      expiresAt,
    };
  }

  /** The stored rendition behind a URL whose signature the caller has checked (`verifyUrl`). */
  async open(id: string, variant: string): Promise<StoredObject | null> {
    const item = await this.deps.repo.find(id);
    const rendition = item?.variants.find((v) => v.name === variant);
    if (!rendition) return null;
    return this.deps.storage.get(rendition.key);
  }

  verifyUrl(id: string, variant: string, expires: unknown, sig: unknown): boolean {
    return this.deps.signer.verify(`/media/${id}/${variant}`, expires, sig, this.deps.clock.now());
  }

  /** Items the owner holds of a kind, all of them or BAD_USER_INPUT naming `field` (for KYC and others). */
  async requireOwned(
    ownerId: string,
    ids: readonly string[],
    kind: MediaKind,
    field: string,
  ): Promise<MediaItem[]> {
    const items = await this.deps.repo.findMany(ids);
    for (const id of ids) {
      const item = items.find((i) => i.id === id);
      if (!item || item.ownerId !== ownerId || item.kind !== kind) {
        throw badInput(`${field}: ${id} is not one of your ${kind} uploads`, { field });
      }
    }
    return items;
  }

  /** Pending photos and videos (or only one kind), oldest first. */
  async moderationQueue(
    limit: number,
    after: bigint | undefined,
    kind?: ModeratedKind,
  ): Promise<MediaItem[]> {
    return this.deps.repo.listPending(limit, after, kind);
  }

  /**
   * Approves or rejects photos and videos in one transaction: each change, its audit entry
   * (`media.photo_*` / `media.video_*`) and the owner's `photo_moderated` / `video_moderated` event
   * commit together. A decision may overturn an earlier one (a photo approved
   * by mistake can be taken down); repeating the same decision changes nothing and records nothing.
   */
  async moderate(
    actor: AuditActor & { principal: Principal },
    ids: readonly string[],
    decision: ModerationDecision,
    reason: string | null,
  ): Promise<MediaItem[]> {
    if (decision === 'reject' && !reason) throw badInput('A rejection needs a reason', { field: 'reason' });
    const unique = [...new Set(ids)];
    const status: 'approved' | 'rejected' = decision === 'approve' ? 'approved' : 'rejected';
    return withTransaction(this.deps.db, async (tx) => {
      const items = await this.deps.repo.lockMany(tx, unique);
      for (const id of unique) {
        const item = items.find((i) => i.id === id);
        if (item?.kind !== 'photo' && item?.kind !== 'video') throw notFound(`Media ${id}`);
      }
      const now = this.deps.clock.now();
      const results: MediaItem[] = [];
      for (const item of items) {
        if (item.status === status && item.rejectionReason === (status === 'rejected' ? reason : null)) {
          results.push(item);
          continue;
        }
        const updated = await this.deps.repo.setModeration(tx, item.id, {
          status,
          reason: status === 'rejected' ? reason : null,
          moderatorId: actor.principal.userId,
          at: now,
        });
        await this.deps.audit.record(tx, actor, {
          action: `media.${item.kind}_${status}`,
          targetType: 'media',
          targetId: item.id,
          before: { status: item.status, rejectionReason: item.rejectionReason },
          after: { status: updated.status, rejectionReason: updated.rejectionReason },
          reason,
        });
        const payload = {
          mediaId: item.id,
          ownerId: item.ownerId,
          decision: status,
          reason: updated.rejectionReason,
        };
        await this.deps.eventLog.emit(
          tx,
          item.kind === 'video'
            ? videoModerated.event(payload, { userId: item.ownerId })
            : photoModerated.event(payload, { userId: item.ownerId }),
        );
        results.push(updated);
      }
      return unique.map((id) => results.find((r) => r.id === id) as MediaItem);
    });
  }
}
